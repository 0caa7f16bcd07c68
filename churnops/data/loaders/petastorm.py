"""Petastorm, as on older Databricks ML runtimes: `make_batch_reader` over the Parquet.

Petastorm 0.12.1 needs pyarrow 14 and numpy 1, so it runs in its own environment
(`scripts/petastorm-env` builds `.venv-petastorm`); it is imported here only when used.
A Spark DataFrame goes through `make_spark_converter`, which materialises it as Parquet under
the Spark conf `petastorm.spark.converter.parentCacheDirUrl` and is then read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

from churnops.data.loaders.base import (
    Batch,
    EpochLoader,
    check_schema,
    cut_batches,
    parquet_files,
)


def _import_petastorm() -> Any:
    try:
        import petastorm
    except ImportError as err:
        raise ImportError(
            "loader kind='petastorm' needs petastorm 0.12.1 (with pyarrow 14, numpy 1), which "
            "lives in its own environment: run scripts/petastorm-env to build .venv-petastorm"
        ) from err
    return petastorm


class PetastormLoader(EpochLoader):
    """Petastorm's batch reader, re-cut into `(x, y)` batches through a shuffle buffer.

    Petastorm shards by row group (`cur_shard=rank`, `shard_count=world_size`): every rank needs
    at least one row group. Row-group order is shuffled per epoch by Petastorm with a seed from
    (seed, epoch); rows are then shuffled in a bounded buffer as in the arrow-stream loader.

    Args:
        path, feature_columns, label_column, batch_size, shuffle, seed, rank, world_size,
            device: see `churnops.data.loaders.make_loader`. `path` may also be a `file://`
            (or any Petastorm-readable) URL.
        workers_count: Petastorm reader threads. Above 1, row groups arrive in completion
            order, so the epoch order is no longer fixed by the seed.
        shuffle_buffer_rows: rows held and shuffled together.
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
        workers_count: int = 1,
        shuffle_buffer_rows: int = 262_144,
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
        if not isinstance(workers_count, int) or workers_count < 1:
            raise ValueError(f"workers_count={workers_count!r}: expected an integer >= 1")
        self.workers_count = workers_count
        self.shuffle_buffer_rows = shuffle_buffer_rows
        text = str(path)
        if "://" in text:
            self.url = text
        else:
            files = parquet_files(path)
            check_schema(pq.read_schema(files[0]), self.columns, str(files[0]))
            self.url = Path(path).resolve().as_uri()
        self.converter: Any = None  # set by make_spark_converter_loader

    def _reader(self, epoch: int) -> Any:
        petastorm = _import_petastorm()
        return petastorm.make_batch_reader(
            self.url,
            # Petastorm matches regexes: escape, so a name is itself only.
            schema_fields=[re.escape(c) for c in self.columns],
            reader_pool_type="thread",
            workers_count=self.workers_count,
            num_epochs=1,
            shuffle_row_groups=self.shuffle,
            shuffle_rows=False,
            seed=self.epoch_seed(epoch),
            cur_shard=self.rank if self.world_size > 1 else None,
            shard_count=self.world_size if self.world_size > 1 else None,
        )

    def __iter__(self) -> Iterator[Batch]:
        epoch = self.next_epoch()
        rng = None
        if self.shuffle:
            rng = np.random.default_rng([self.epoch_seed(epoch), self.rank])
        cuda = torch.device(self.device).type == "cuda"
        with self._reader(epoch) as reader:
            chunks = (self._arrays(batch._asdict()) for batch in reader)
            for x, y in cut_batches(
                chunks, self.batch_size, rng=rng, buffer_rows=self.shuffle_buffer_rows
            ):
                xt, yt = torch.from_numpy(x), torch.from_numpy(y)
                if cuda:
                    xt = xt.pin_memory().to(self.device, non_blocking=True)
                    yt = yt.pin_memory().to(self.device, non_blocking=True)
                yield xt, yt

    def _arrays(self, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        y = columns[self.label_column]
        x = np.empty((len(y), len(self.feature_columns)), dtype=np.float32)
        for j, name in enumerate(self.feature_columns):
            col = columns[name]
            if col.dtype == object or np.isnan(col).any():
                raise ValueError(
                    f"column {name!r} has null value(s): fill or drop them before training"
                )
            x[:, j] = col
        if y.dtype == object or np.isnan(y).any():
            raise ValueError(
                f"column {self.label_column!r} has null value(s): fill or drop them first"
            )
        return x, y.astype(np.float32)


def make_spark_converter_loader(
    df: Any,
    feature_columns: Sequence[str],
    label_column: str,
    batch_size: int,
    *,
    cache_dir_url: str | None = None,
    **kwargs: Any,
) -> PetastormLoader:
    """Materialise a Spark DataFrame with `make_spark_converter` and read it with Petastorm.

    Args:
        df: a pyspark DataFrame holding `feature_columns` and `label_column`.
        feature_columns, label_column, batch_size: as for `make_loader`.
        cache_dir_url: the parent folder URL for the materialised Parquet (`file:///...`);
            when None, the session's `petastorm.spark.converter.parentCacheDirUrl` is used.
        **kwargs: the rest of `PetastormLoader`'s arguments (shuffle, seed, rank, ...).

    Returns:
        A `PetastormLoader` whose `converter` holds the materialised copy; call
        `loader.converter.delete()` when training is done.
    """
    _import_petastorm()
    from petastorm.spark import SparkDatasetConverter, make_spark_converter

    missing = [c for c in [*feature_columns, label_column] if c not in df.columns]
    if missing:
        raise ValueError(
            f"column {missing[0]!r} not found in the DataFrame: it has {', '.join(df.columns)}"
        )
    if cache_dir_url is not None:
        df.sparkSession.conf.set(SparkDatasetConverter.PARENT_CACHE_DIR_URL_CONF, cache_dir_url)
    converter = make_spark_converter(df.select(*feature_columns, label_column))
    loader = PetastormLoader(
        converter.cache_dir_url, feature_columns, label_column, batch_size, **kwargs
    )
    loader.converter = converter
    return loader
