"""Training-data loaders: a materialised Parquet training set as (x, y) torch batches.

`make_loader(kind, ...)` picks one by a short name:

- `in-memory`: the table read once into tensors (GPU-resident when it fits), batches by index;
- `arrow-stream`: a torch `IterableDataset` over Parquet row groups for data larger than memory;
- `petastorm`: Petastorm's `make_batch_reader`, as on older Databricks runtimes (own venv);
- `ray-data`: a Ray Data dataset iterated with `iter_torch_batches`.

Every kind yields `x` float32 `[B, F]` and `y` float32 `[B]`, each row exactly once per epoch
across `world_size` ranks, in an order fixed by `seed` and the epoch. Each `iter()` is one epoch;
`set_epoch(n)` picks the epoch explicitly. Heavy imports (petastorm, ray) happen in their modules.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from os import PathLike
from typing import Any

from churnops.data.loaders.base import Loader
from churnops.plugins import load_choice

LOADERS = {
    "in-memory": "churnops.data.loaders.in_memory:InMemoryLoader",
    "arrow-stream": "churnops.data.loaders.arrow_stream:ArrowStreamLoader",
    "petastorm": "churnops.data.loaders.petastorm:PetastormLoader",
    "ray-data": "churnops.data.loaders.ray_data:RayDataLoader",
}

# The arguments every kind takes; anything else is a kind-specific option.
_COMMON = {
    "path",
    "feature_columns",
    "label_column",
    "batch_size",
    "shuffle",
    "seed",
    "rank",
    "world_size",
    "device",
}


def loader_class(kind: str) -> Callable[..., Loader]:
    """The class registered under `kind` (imports its module); it builds a `Loader`."""
    cls: Callable[..., Loader] = load_choice(LOADERS, kind, field="loader kind")
    return cls


def make_loader(
    kind: str,
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
    **options: Any,
) -> Loader:
    """Open a Parquet training set (a file or a folder of files) as batches of tensors.

    Args:
        kind: `in-memory` | `arrow-stream` | `petastorm` | `ray-data`.
        path: the Parquet file or folder.
        feature_columns: numeric columns stacked, in this order, into `x` `[B, F]` float32.
        label_column: the column returned as `y` `[B]` float32.
        batch_size: rows per batch (the last batch of an epoch may be smaller).
        shuffle: a new order every epoch, fixed by `seed` and the epoch number.
        seed: the seed; every rank must pass the same one.
        rank: this process's rank among `world_size`; ranks see disjoint rows.
        world_size: the number of ranks that together see every row once per epoch.
        device: where batches are delivered (`cpu`, `cuda`, `cuda:1`).
        **options: kind-specific options (for example `num_workers` and
            `shuffle_buffer_rows` for `arrow-stream`); an unknown one is an error.

    Returns:
        An iterable of `(x, y)`; each `iter()` is one epoch.
    """
    cls = loader_class(kind)
    accepted = list(inspect.signature(cls).parameters)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        extra = sorted(set(accepted) - _COMMON)
        raise ValueError(
            f"loader option(s) {', '.join(map(repr, unknown))} not known for kind={kind!r}: "
            f"expected one of {', '.join(extra) or '(none)'}"
        )
    return cls(
        path,
        feature_columns,
        label_column,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        rank=rank,
        world_size=world_size,
        device=device,
        **options,
    )


__all__ = ["LOADERS", "Loader", "loader_class", "make_loader"]
