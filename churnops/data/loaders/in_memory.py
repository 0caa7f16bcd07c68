"""The fast path: the training set held once as tensors, GPU-resident when it fits: read from
Parquet (`make_loader("in-memory", ...)`) or taken from arrays already in memory (the trainer's
fit split, `InMemoryLoader.from_arrays`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from os import PathLike

import numpy as np
import pyarrow.parquet as pq
import torch

from churnops.data.loaders.base import (
    Batch,
    EpochLoader,
    check_schema,
    parquet_files,
    table_to_arrays,
)

# Share of the GPU's free memory the resident copy may take; the rest is left to the model,
# activations and the optimiser state.
GPU_MEMORY_SHARE = 0.5


def _check_resident(resident: str) -> None:
    if resident not in ("auto", "device", "host"):
        raise ValueError(f"resident={resident!r}: expected 'auto', 'device' or 'host'")


class InMemoryLoader(EpochLoader):
    """Batches by index into resident tensors: one permutation per epoch, no per-row Python.

    Every rank holds the whole table and draws the same permutation of all rows, then takes
    every `world_size`-th position from `rank`: ranks see disjoint rows that cover the table,
    and the global shuffle changes which rows each rank sees from one epoch to the next.

    Args:
        path, feature_columns, label_column, batch_size, shuffle, seed, rank, world_size,
            device: see `churnops.data.loaders.make_loader`.
        drop_last: drop this rank's last, short batch.
        even_batches: every rank yields the same rows, so the same number of batches of the
            same sizes (what DDP's lockstep needs): each rank's share is cut to
            `rows // world_size`, so up to `world_size - 1` rows sit out an epoch (different
            ones each epoch when shuffling); with `drop_last`, the same number of full batches.
        resident: `auto` keeps the tensors on `device` when it is a GPU and they take at most
            `GPU_MEMORY_SHARE` of its free memory (else pinned host memory, copied per batch);
            `device` forces that; `host` keeps them in host memory.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        feature_columns: Sequence[str],
        label_column: str,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: str = "cpu",
        drop_last: bool = False,
        even_batches: bool = False,
        resident: str = "auto",
    ) -> None:
        super().__init__(
            feature_columns,
            label_column,
            batch_size,
            shuffle=shuffle,
            seed=seed,
            rank=rank,
            world_size=world_size,
            device=device,
        )
        _check_resident(resident)
        files = parquet_files(path)
        check_schema(pq.read_schema(files[0]), self.columns, str(files[0]))
        table = pq.ParquetDataset(files).read(columns=self.columns)
        x, y = table_to_arrays(table, self.feature_columns, self.label_column)
        del table
        self._hold(torch.from_numpy(x), torch.from_numpy(y), drop_last, even_batches, resident)

    @classmethod
    def from_arrays(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: str = "cpu",
        drop_last: bool = False,
        even_batches: bool = False,
        resident: str = "auto",
    ) -> InMemoryLoader:
        """The same loader over arrays already in memory (a training split): x [N, F], y [N]."""
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        _check_resident(resident)
        width = np.shape(x)[1] if np.ndim(x) == 2 else 0
        loader = cls.__new__(cls)
        EpochLoader.__init__(
            loader,
            [f"x{i}" for i in range(width)] or ["x"],
            "y",
            batch_size,
            shuffle=shuffle,
            seed=seed,
            rank=rank,
            world_size=world_size,
            device=device,
        )
        # torch.tensor copies: the arrays may be read-only views (Ray's object store).
        xs = torch.tensor(np.asarray(x, dtype=np.float32))
        ys = torch.tensor(np.asarray(y, dtype=np.float32))
        loader._hold(xs, ys, drop_last, even_batches, resident)
        return loader

    def _hold(
        self, x: torch.Tensor, y: torch.Tensor, drop_last: bool, even_batches: bool, resident: str
    ) -> None:
        self.drop_last = drop_last
        self.even_batches = even_batches
        self.x, self.y = x, y
        self.num_rows_total = len(self.y)
        self.on_device = self._place(resident)

    def _place(self, resident: str) -> bool:
        dev = torch.device(self.device)
        if dev.type != "cuda" or resident == "host":
            if dev.type == "cuda":
                self.x, self.y = self.x.pin_memory(), self.y.pin_memory()
            return dev.type == "cpu"
        need = self.x.nbytes + self.y.nbytes
        free, _ = torch.cuda.mem_get_info(dev)
        if resident == "auto" and need > GPU_MEMORY_SHARE * free:
            self.x, self.y = self.x.pin_memory(), self.y.pin_memory()
            return False
        self.x, self.y = self.x.to(dev), self.y.to(dev)
        return True

    @property
    def num_rows(self) -> int:
        """Rows this rank's share holds per epoch (before any short batch is dropped)."""
        if self.even_batches:
            return self.num_rows_total // self.world_size
        return len(range(self.rank, self.num_rows_total, self.world_size))

    def __len__(self) -> int:
        """Batches this rank yields per epoch."""
        n = self.num_rows
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        epoch = self.next_epoch()
        n, b = self.num_rows_total, self.batch_size
        if not self.shuffle and self.world_size == 1:
            # Contiguous slices are views: no gather at all.
            stop = n - n % b if self.drop_last else n
            for start in range(0, stop, b):
                yield self._deliver(self.x[start : start + b], self.y[start : start + b])
            return
        # On the GPU the permutation is drawn there: a host randperm of millions of rows and
        # its copy cost as much as dozens of training steps.
        where = self.x.device
        if self.shuffle:
            gen = torch.Generator(where).manual_seed(self.epoch_seed(epoch))
            order = torch.randperm(n, generator=gen, device=where)
        else:
            order = torch.arange(n, device=where)
        mine = order[self.rank :: self.world_size][: self.num_rows]
        stop = len(mine) - len(mine) % b if self.drop_last else len(mine)
        if self.x.device.type == "cpu":
            # On the host, numpy's take gathers rows several times faster than index_select.
            xs, ys, idx = self.x.numpy(), self.y.numpy(), mine.numpy()
            for start in range(0, stop, b):
                rows = idx[start : start + b]
                x, y = np.take(xs, rows, axis=0), np.take(ys, rows)
                yield self._deliver(torch.from_numpy(x), torch.from_numpy(y))
            return
        for start in range(0, stop, b):
            pick = mine[start : start + b]
            yield self._deliver(self.x.index_select(0, pick), self.y.index_select(0, pick))

    def _deliver(self, x: torch.Tensor, y: torch.Tensor) -> Batch:
        if self.on_device:
            return x, y
        # Host copy of a GPU run: the gathered batch is pinned memory, so the copy is async.
        if not x.is_pinned():
            x, y = x.pin_memory(), y.pin_memory()
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
