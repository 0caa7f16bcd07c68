"""What every loader shares: argument checks, the epoch counter, Parquet columns to arrays."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import torch

Batch = tuple["torch.Tensor", "torch.Tensor"]


class Loader(Protocol):
    """An epoch-aware iterable of `(x [B, F] float32, y [B] float32)` batches."""

    def __iter__(self) -> Iterator[Batch]: ...

    def set_epoch(self, epoch: int) -> None: ...


class EpochLoader:
    """Holds the arguments every kind takes, checked, and counts epochs.

    Each `iter()` runs epoch `self.epoch` and then moves to the next one, so a plain
    `for epoch in range(n): for x, y in loader` reshuffles; `set_epoch` pins the next epoch
    (as `DistributedSampler.set_epoch` does) so that a resumed run replays the same order.
    """

    def __init__(
        self,
        feature_columns: Sequence[str],
        label_column: str,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        rank: int,
        world_size: int,
        device: str,
    ) -> None:
        if isinstance(feature_columns, str) or not feature_columns:
            raise ValueError(
                f"feature_columns={feature_columns!r}: expected a non-empty list of column names"
            )
        if label_column in feature_columns:
            raise ValueError(f"label_column={label_column!r} is also listed in feature_columns")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r}: expected a positive integer")
        if not isinstance(world_size, int) or world_size < 1:
            raise ValueError(f"world_size={world_size!r}: expected a positive integer")
        if not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"rank={rank!r}: expected an integer in [0, {world_size})")
        self.feature_columns = list(feature_columns)
        self.label_column = label_column
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.device = _check_device(device)
        self.epoch = 0

    @property
    def columns(self) -> list[str]:
        return [*self.feature_columns, self.label_column]

    def set_epoch(self, epoch: int) -> None:
        """Make the next `iter()` run epoch `epoch` (its shuffle order)."""
        if epoch < 0:
            raise ValueError(f"epoch={epoch!r}: expected a non-negative integer")
        self.epoch = int(epoch)

    def next_epoch(self) -> int:
        """The epoch to run now; advances the counter for the following `iter()`."""
        epoch = self.epoch
        self.epoch += 1
        return epoch

    def epoch_seed(self, epoch: int) -> int:
        """One seed per (seed, epoch), equal on every rank, so ranks agree on the shuffle."""
        return int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])


def _check_device(device: str) -> str:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r}: expected 'cpu', 'cuda' or 'cuda:N'") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: CUDA is not available on this machine")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    return str(dev)


def parquet_files(path: str | PathLike[str]) -> list[Path]:
    """The Parquet files of a training set: `path` itself, or the `*.parquet` under a folder."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.rglob("*.parquet") if f.is_file())
        if not files:
            raise ValueError(f"path={str(p)!r}: the folder holds no *.parquet files")
        return files
    raise ValueError(f"path={str(p)!r}: no such Parquet file or folder")


def check_schema(schema: pa.Schema, columns: Sequence[str], where: str) -> None:
    """Raise naming the first requested column that is missing or not numeric."""
    for name in columns:
        idx = schema.get_field_index(name)
        if idx < 0:
            raise ValueError(
                f"column {name!r} not found in {where}: it has {', '.join(schema.names)}"
            )
        kind = schema.field(idx).type
        if not (
            pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        ):
            raise ValueError(f"column {name!r} in {where} is {kind}: expected a numeric type")


def table_to_arrays(
    table: pa.Table | pa.RecordBatch, feature_columns: Sequence[str], label_column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Columns to a row-major float32 `[n, F]` matrix and a float32 `[n]` label vector.

    Column by column into one preallocated matrix: no per-row Python and one copy.
    """
    n = table.num_rows
    x = np.empty((n, len(feature_columns)), dtype=np.float32)
    for j, name in enumerate(feature_columns):
        x[:, j] = _column(table, name)
    # A copy: Arrow's zero-copy view is read-only, and torch warns on tensors over one.
    y = np.array(_column(table, label_column), dtype=np.float32)
    return x, y


def _column(table: pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        raise ValueError(
            f"column {name!r} has {col.null_count} null value(s): fill or drop them "
            "before training (the loaders do not impute)"
        )
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col.to_numpy(zero_copy_only=False)


def cut_batches(
    chunks: Iterator[tuple[np.ndarray, np.ndarray]],
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    buffer_rows: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Re-cut a stream of `(x, y)` chunks into batches of `batch_size` rows.

    With `rng`, rows are shuffled within a bounded buffer: chunks gather until at least
    `buffer_rows` rows are held, the buffer is permuted as a whole (vectorised), full batches
    are cut from it and the remainder is carried into the next buffer. Memory stays bounded by
    about `buffer_rows + chunk rows`; every row comes out exactly once; the last batch of the
    stream may be short.
    """
    threshold = max(buffer_rows, batch_size) if rng is not None else batch_size
    held: list[tuple[np.ndarray, np.ndarray]] = []
    held_rows = 0
    for x, y in chunks:
        if len(x) == 0:
            continue
        held.append((x, y))
        held_rows += len(x)
        if held_rows < threshold:
            continue
        x, y = _gather(held, rng)
        full = len(x) - len(x) % batch_size
        for start in range(0, full, batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
        held = [(x[full:], y[full:])] if full < len(x) else []
        held_rows = len(x) - full
    if held_rows:
        x, y = _gather(held, rng)
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]


def _gather(
    held: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    if len(held) == 1:
        x, y = held[0]
    else:
        x = np.concatenate([h[0] for h in held])
        y = np.concatenate([h[1] for h in held])
    if rng is not None:
        perm = rng.permutation(len(x))
        # np.take along axis 0 is several times faster than x[perm] for row gathers.
        x, y = np.take(x, perm, axis=0), np.take(y, perm)
    return x, y
