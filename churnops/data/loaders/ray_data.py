"""Ray Data for the Ray launcher: `ray.data.read_parquet` iterated with `iter_torch_batches`.

`RayDataLoader` (kind `ray-data`) runs in any process: it starts or joins a Ray cluster and
shards by `rank` itself. Inside a Ray Train worker, pass the dataset from
`read_training_set` to `TorchTrainer(datasets={"train": ...})` and read the worker's shard
with `ray_train_shard_loader`; Ray Train does the split. Ray is imported only here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from os import PathLike
from typing import Any

import pyarrow.parquet as pq
import torch

from churnops.data.loaders.base import (
    Batch,
    EpochLoader,
    check_schema,
    parquet_files,
    table_to_arrays,
)


def _collate_fn(feature_columns: Sequence[str], label_column: str) -> Any:
    from ray.data.collate_fn import ArrowBatchCollateFn

    class XYCollateFn(ArrowBatchCollateFn):
        """An Arrow batch to `(x [B, F], y [B])` float32, column by column."""

        def __call__(self, batch: Any) -> Any:
            x, y = table_to_arrays(batch, feature_columns, label_column)
            return torch.from_numpy(x), torch.from_numpy(y)

    return XYCollateFn()


def read_training_set(
    path: str | PathLike[str], feature_columns: Sequence[str], label_column: str
) -> Any:
    """The training set as a Ray Dataset of only the columns training needs.

    Blocks keep the files' order (`preserve_order`), so a seeded shuffle is repeatable.
    """
    import ray.data

    files = parquet_files(path)
    columns = [*feature_columns, label_column]
    check_schema(pq.read_schema(files[0]), columns, str(files[0]))
    ds = ray.data.read_parquet([str(f) for f in files], columns=columns)
    ds.context.execution_options.preserve_order = True
    return ds


class RayDataLoader(EpochLoader):
    """A Ray Dataset over the Parquet, one rank's share per epoch.

    Per epoch, the block order is shuffled with a seed from (seed, epoch), equal on every rank;
    the dataset is cut into `world_size` contiguous row ranges (materialised, so each rank
    gets an exact share) and this rank's range is iterated through a local shuffle buffer.
    Ray is initialised on first use if it is not running (`ray.init` defaults).

    Args:
        path, feature_columns, label_column, batch_size, shuffle, seed, rank, world_size,
            device: see `churnops.data.loaders.make_loader`.
        shuffle_buffer_rows: rows in Ray's local shuffle buffer (at least `batch_size`).
        prefetch_batches: batches Ray prepares ahead in a background thread.
        even_batches: every rank yields the same rows, so the same number of batches of the
            same sizes (what DDP's lockstep needs): shares are cut to `rows // world_size`.
        drop_last: drop this rank's last, short batch.
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
        shuffle_buffer_rows: int = 262_144,
        prefetch_batches: int = 1,
        even_batches: bool = False,
        drop_last: bool = False,
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
        self.shuffle_buffer_rows = max(shuffle_buffer_rows, batch_size)
        self.prefetch_batches = prefetch_batches
        self.even_batches = even_batches
        self.drop_last = drop_last
        self.dataset = read_training_set(path, self.feature_columns, self.label_column)

    @cached_property
    def num_rows_total(self) -> int:
        """Rows in the dataset, counted on first use (it takes seconds: Ray runs tasks)."""
        return self.dataset.count()

    @property
    def num_rows(self) -> int:
        """Rows in this rank's share of an epoch."""
        n, world = self.num_rows_total, self.world_size
        if self.even_batches:
            return n // world
        return n * (self.rank + 1) // world - n * self.rank // world

    def __len__(self) -> int:
        """Batches this rank yields per epoch (Lightning sizes its epoch and schedule by it)."""
        n = self.num_rows
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def shard(self, epoch: int) -> Any:
        """This rank's part of the dataset for `epoch`."""
        ds = self.dataset
        if self.shuffle:
            ds = ds.randomize_block_order(seed=self.epoch_seed(epoch) % 2**32)
        if self.world_size == 1:
            return ds
        n = self.num_rows_total  # counted once: the count does not change with the order
        if self.even_batches:  # equal shares; the remainder, past the last cut, sits out
            cuts = [n // self.world_size * r for r in range(1, self.world_size + 1)]
        else:
            cuts = [n * r // self.world_size for r in range(1, self.world_size)]
        return ds.split_at_indices(cuts)[self.rank]

    def __iter__(self) -> Iterator[Batch]:
        epoch = self.next_epoch()
        shard = self.shard(epoch)
        yield from iter_xy_batches(
            shard,
            self.feature_columns,
            self.label_column,
            self.batch_size,
            shuffle_buffer_rows=self.shuffle_buffer_rows if self.shuffle else None,
            shuffle_seed=self.epoch_seed(epoch) % 2**32,
            device=self.device,
            prefetch_batches=self.prefetch_batches,
            drop_last=self.drop_last,
        )


def iter_xy_batches(
    data: Any,
    feature_columns: Sequence[str],
    label_column: str,
    batch_size: int,
    *,
    shuffle_buffer_rows: int | None,
    shuffle_seed: int | None,
    device: str,
    prefetch_batches: int = 1,
    drop_last: bool = False,
) -> Iterator[Batch]:
    """`(x, y)` batches from a Ray Dataset or DataIterator through `iter_torch_batches`."""
    cuda = device != "auto" and torch.device(device).type == "cuda"
    return iter(
        data.iter_torch_batches(
            batch_size=batch_size,
            collate_fn=_collate_fn(feature_columns, label_column),
            device=device,
            pin_memory=cuda,
            local_shuffle_buffer_size=shuffle_buffer_rows,
            local_shuffle_seed=shuffle_seed if shuffle_buffer_rows else None,
            prefetch_batches=prefetch_batches,
            drop_last=drop_last,
        )
    )


class RayTrainShardLoader:
    """A Ray Train worker's shard (`ray.train.get_dataset_shard`) as `(x, y)` batches.

    Ray Train splits the dataset across workers with `streaming_split(equal=True)`, which keeps
    step counts equal for DDP and may drop up to `world_size - 1` rows per epoch.
    """

    def __init__(
        self,
        feature_columns: Sequence[str],
        label_column: str,
        batch_size: int,
        *,
        dataset_name: str = "train",
        shuffle: bool = True,
        seed: int = 0,
        shuffle_buffer_rows: int = 262_144,
        device: str = "auto",
    ) -> None:
        import ray.train

        self.shard = ray.train.get_dataset_shard(dataset_name)
        if self.shard is None:
            raise ValueError(
                f"dataset_name={dataset_name!r}: no such dataset was passed to the trainer"
            )
        self.feature_columns = list(feature_columns)
        self.label_column = label_column
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.shuffle_buffer_rows = max(shuffle_buffer_rows, batch_size)
        self.device = device
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next `iter()` use epoch `epoch`'s shuffle seed."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[Batch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return iter_xy_batches(
            self.shard,
            self.feature_columns,
            self.label_column,
            self.batch_size,
            shuffle_buffer_rows=self.shuffle_buffer_rows if self.shuffle else None,
            shuffle_seed=(self.seed * 1_000_003 + epoch) % 2**32,
            device=self.device,
        )


def ray_train_shard_loader(
    feature_columns: Sequence[str],
    label_column: str,
    batch_size: int,
    **kwargs: Any,
) -> RayTrainShardLoader:
    """This Ray Train worker's shard of dataset `dataset_name` (default `train`) as batches.

    Call it inside the train loop function; the dataset comes from `read_training_set` passed
    as `TorchTrainer(..., datasets={"train": ds})`. Keyword arguments: `dataset_name`,
    `shuffle`, `seed`, `shuffle_buffer_rows`, `device` (`auto`: the worker's device).
    """
    return RayTrainShardLoader(feature_columns, label_column, batch_size, **kwargs)
