"""Streaming for data larger than memory: a torch `IterableDataset` over Parquet row groups."""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from churnops.data.loaders.base import (
    Batch,
    EpochLoader,
    check_schema,
    cut_batches,
    parquet_files,
    table_to_arrays,
)
from churnops.data.loaders.device_feed import prefetch_to_device


@dataclass(frozen=True)
class ReadUnit:
    """One piece of work: rows [start, stop) of one row group of one file."""

    file: int
    row_group: int
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


def plan_units(files: Sequence[Path], min_units: int) -> list[ReadUnit]:
    """Row groups from the files' footers, split into row ranges when there are too few.

    Sharding is by unit, so there must be at least one per reader (rank x worker); with fewer
    row groups than readers each row group is cut into equal row ranges (read whole, sliced).
    """
    groups: list[tuple[int, int, int]] = []
    for i, f in enumerate(files):
        meta = pq.ParquetFile(f).metadata
        groups += [(i, g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups)]
    groups = [g for g in groups if g[2] > 0]
    parts = max(1, -(-min_units // max(1, len(groups))))
    units = []
    for i, g, rows in groups:
        bounds = np.linspace(0, rows, min(parts, rows) + 1).astype(int)
        units += [ReadUnit(i, g, int(a), int(b)) for a, b in itertools.pairwise(bounds)]
    return units


class ArrowStreamDataset(IterableDataset):
    """Parquet row groups to `(x, y)` batches, sharded by rank and by DataLoader worker.

    Every epoch the units are put in one order (shuffled by seed and epoch, equal on every rank)
    and dealt round-robin to the `world_size x num_workers` readers; a reader streams its units,
    converts each to arrays column by column and cuts batches out of a bounded shuffle buffer.
    All ranks must use the same `num_workers`.
    """

    def __init__(
        self,
        files: Sequence[Path],
        units: Sequence[ReadUnit],
        feature_columns: Sequence[str],
        label_column: str,
        batch_size: int,
        *,
        shuffle: bool,
        shuffle_buffer_rows: int,
        epoch_seed: int,
        rank: int,
        world_size: int,
        even_batches: bool = False,
        drop_last: bool = False,
        reader_threads: int = 1,
    ) -> None:
        super().__init__()
        self.files = [str(f) for f in files]
        self.units = list(units)
        self.feature_columns = list(feature_columns)
        self.label_column = label_column
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.shuffle_buffer_rows = shuffle_buffer_rows
        self.epoch_seed = epoch_seed
        self.rank = rank
        self.world_size = world_size
        self.even_batches = even_batches
        self.drop_last = drop_last
        self.reader_threads = reader_threads

    def reader_units(
        self, worker: int, num_workers: int, rank: int | None = None
    ) -> list[ReadUnit]:
        """The units that reader (`rank`, default this one; `worker`) reads this epoch."""
        order = list(self.units)
        if self.shuffle:
            perm = np.random.default_rng(self.epoch_seed).permutation(len(order))
            order = [order[i] for i in perm]
        reader = (self.rank if rank is None else rank) * num_workers + worker
        return order[reader :: self.world_size * num_workers]

    def row_cap(self, worker: int, num_workers: int) -> int | None:
        """With `even_batches`, the rows this worker may yield: the fewest that the same worker
        of any rank holds, so every rank yields the same rows and so the same batches."""
        if not self.even_batches:
            return None
        return min(
            sum(u.rows for u in self.reader_units(worker, num_workers, rank=r))
            for r in range(self.world_size)
        )

    def num_batches(self, worker: int, num_workers: int) -> int:
        """The batches this worker yields this epoch (a pass over the units' footers only)."""
        rows = self.row_cap(worker, num_workers)
        if rows is None:
            rows = sum(u.rows for u in self.reader_units(worker, num_workers))
        return rows // self.batch_size if self.drop_last else -(-rows // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        units = self.reader_units(worker, num_workers)
        rng = None
        if self.shuffle:
            rng = np.random.default_rng([self.epoch_seed, self.rank, worker])
        batches = cut_batches(
            self._read(units), self.batch_size, rng=rng, buffer_rows=self.shuffle_buffer_rows
        )
        cap = self.row_cap(worker, num_workers)
        if cap is not None:
            batches = _first_rows(batches, cap)
        for x, y in batches:
            if self.drop_last and len(x) < self.batch_size:
                continue  # at most the reader's last batch
            if info is not None:
                # A view would send its whole buffer to the main process; copy the batch only.
                x, y = x.copy(), y.copy()
            yield torch.from_numpy(x), torch.from_numpy(y)

    def _read(self, units: Sequence[ReadUnit]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # `reader_threads` units read ahead on threads, taken in order (so the order stays
        # fixed by the seed): Parquet decoding and the column copies release the GIL, so the
        # next row groups decode while the training step runs on this one.
        local = threading.local()  # a ParquetFile per thread: one handle is not thread-safe
        with ThreadPoolExecutor(self.reader_threads, thread_name_prefix="arrow-stream") as pool:
            ahead: deque = deque()
            pending = iter(units)
            for unit in itertools.islice(pending, self.reader_threads):
                ahead.append(pool.submit(self._load, unit, local))
            while ahead:
                arrays = ahead.popleft().result()
                for unit in itertools.islice(pending, 1):
                    ahead.append(pool.submit(self._load, unit, local))
                yield arrays

    def _load(self, unit: ReadUnit, local: threading.local) -> tuple[np.ndarray, np.ndarray]:
        handles = local.__dict__.setdefault("handles", {})
        if unit.file not in handles:
            handles[unit.file] = pq.ParquetFile(self.files[unit.file])
        columns = [*self.feature_columns, self.label_column]
        table = handles[unit.file].read_row_group(unit.row_group, columns=columns)
        if unit.start or unit.stop < table.num_rows:
            table = table.slice(unit.start, unit.rows)
        return table_to_arrays(table, self.feature_columns, self.label_column)


def _first_rows(
    batches: Iterator[tuple[np.ndarray, np.ndarray]], rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The batches up to `rows` rows in all, the last one cut short if need be.

    `cut_batches` yields full batches before its one short batch, so the cut keeps every batch
    but the last full.
    """
    for x, y in batches:
        if rows <= 0:
            return
        if len(x) > rows:
            x, y = x[:rows], y[:rows]
        rows -= len(x)
        yield x, y


class ArrowStreamLoader(EpochLoader):
    """The streaming loader: `ArrowStreamDataset` read on threads, or behind a `DataLoader`.

    With `num_workers=0` (the default) the training process reads: `reader_threads` row groups
    decode at once and a producer thread cuts batches `prefetch_batches` ahead, staging them in
    pinned memory and copying them on a side CUDA stream, so reading, decoding, the copy and
    the step overlap. With `num_workers > 0` a `DataLoader(batch_size=None)` adds worker
    processes and pinned memory only. Either way batches are already cut: no per-row collate.

    Args:
        path, feature_columns, label_column, batch_size, shuffle, seed, rank, world_size,
            device: see `churnops.data.loaders.make_loader`.
        num_workers: DataLoader worker processes that read and convert row groups (0: in the
            training process, on threads: usually the faster choice, as decoding releases the
            GIL and no batch crosses a process boundary).
        reader_threads: row groups each reader decodes at once, on threads, ahead of use
            (None: half the cores, 2 to 8).
        prefetch_batches: with `num_workers=0`, batches a producer thread prepares ahead of
            the training step (on CUDA staged in pinned buffers and copied on a side stream);
            0 prepares each batch on the training thread when it is asked for.
        shuffle_buffer_rows: rows held and shuffled together (bounds the memory per reader).
        prefetch_factor: batches each worker keeps ready.
        even_batches: every rank yields the same rows, so the same number of batches of the
            same sizes (what DDP's lockstep needs); the rows past the smallest share sit out
            the epoch (different ones each epoch when shuffling).
        drop_last: drop each reader's last, short batch (with `even_batches`: every rank then
            yields the same number of full batches).
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
        num_workers: int = 0,
        shuffle_buffer_rows: int = 262_144,
        prefetch_factor: int = 4,
        even_batches: bool = False,
        drop_last: bool = False,
        reader_threads: int | None = None,
        prefetch_batches: int = 2,
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
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers={num_workers!r}: expected an integer >= 0")
        if not isinstance(shuffle_buffer_rows, int) or shuffle_buffer_rows < 0:
            raise ValueError(
                f"shuffle_buffer_rows={shuffle_buffer_rows!r}: expected an integer >= 0"
            )
        if reader_threads is None:
            reader_threads = max(2, min(8, (os.cpu_count() or 1) // 2))
        for name, value, low in (
            ("reader_threads", reader_threads, 1),
            ("prefetch_batches", prefetch_batches, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name}={value!r}: expected an integer >= {low}")
        self.num_workers = num_workers
        self.reader_threads = reader_threads
        self.prefetch_batches = prefetch_batches
        self.shuffle_buffer_rows = shuffle_buffer_rows
        self.prefetch_factor = prefetch_factor
        self.even_batches = even_batches
        self.drop_last = drop_last
        self.files = parquet_files(path)
        for f in self.files:
            check_schema(pq.read_schema(f), self.columns, str(f))
        self.units = plan_units(self.files, world_size * max(1, num_workers))

    def dataset(self, epoch: int) -> ArrowStreamDataset:
        """The dataset for one epoch (its seed fixes the unit order and the shuffles)."""
        return ArrowStreamDataset(
            self.files,
            self.units,
            self.feature_columns,
            self.label_column,
            self.batch_size,
            shuffle=self.shuffle,
            shuffle_buffer_rows=self.shuffle_buffer_rows,
            epoch_seed=self.epoch_seed(epoch),
            rank=self.rank,
            world_size=self.world_size,
            even_batches=self.even_batches,
            drop_last=self.drop_last,
            reader_threads=self.reader_threads,
        )

    @property
    def num_rows(self) -> int:
        """Rows this rank yields in the next epoch, short batches included (the same in every
        epoch only without shuffle, or with row groups of equal size)."""
        ds = self.dataset(self.epoch)
        workers = max(1, self.num_workers)
        caps = [ds.row_cap(w, workers) for w in range(workers)]
        if self.even_batches:
            return sum(c for c in caps if c is not None)
        return sum(u.rows for w in range(workers) for u in ds.reader_units(w, workers))

    def __len__(self) -> int:
        """Batches this rank yields in the next epoch, read off the footers (Lightning sizes
        its epoch and the learning-rate schedule with it)."""
        ds = self.dataset(self.epoch)
        workers = max(1, self.num_workers)
        return sum(ds.num_batches(w, workers) for w in range(workers))

    def __iter__(self) -> Iterator[Batch]:
        ds = self.dataset(self.next_epoch())
        cuda = torch.device(self.device).type == "cuda"
        if self.num_workers == 0 and self.prefetch_batches:
            yield from prefetch_to_device(ds, self.device, self.prefetch_batches)
            return
        loader = DataLoader(
            ds,
            batch_size=None,
            num_workers=self.num_workers,
            pin_memory=cuda,
            prefetch_factor=self.prefetch_factor if self.num_workers else None,
        )
        for x, y in loader:
            if cuda:
                x = x.to(self.device, non_blocking=True)
                y = y.to(self.device, non_blocking=True)
            yield x, y
