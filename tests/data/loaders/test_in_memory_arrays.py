"""`InMemoryLoader.from_arrays`: the trainer's `in-memory` batches over a split in memory."""

import numpy as np
import pytest
import torch

from churnops.data.loaders.in_memory import InMemoryLoader


def test_ranks_get_disjoint_equal_shards_covering_the_rows():
    x = np.arange(103, dtype=np.float32).reshape(-1, 1)
    y = np.zeros(103)
    shards = [
        torch.cat(
            [
                b[0]
                for b in InMemoryLoader.from_arrays(
                    x, y, 10, shuffle=True, rank=r, world_size=2, even_batches=True
                )
            ]
        )
        for r in range(2)
    ]
    assert len(shards[0]) == len(shards[1]) == 51
    seen = set(shards[0].flatten().tolist()) | set(shards[1].flatten().tolist())
    assert len(seen) == 102  # one row dropped so both ranks step the same number of times


def test_new_order_each_epoch_same_for_the_same_seed():
    x = np.arange(50, dtype=np.float32).reshape(-1, 1)
    batches = InMemoryLoader.from_arrays(x, np.zeros(50), 50, shuffle=True, seed=3)
    first, second = next(iter(batches))[0], next(iter(batches))[0]
    assert not torch.equal(first, second)
    assert torch.equal(
        first, next(iter(InMemoryLoader.from_arrays(x, np.zeros(50), 50, shuffle=True, seed=3)))[0]
    )


def test_drop_last_and_lengths():
    x = np.zeros((25, 2), dtype=np.float32)
    assert len(InMemoryLoader.from_arrays(x, np.zeros(25), 10, shuffle=False)) == 3
    kept = InMemoryLoader.from_arrays(x, np.zeros(25), 10, drop_last=True)
    assert len(kept) == 2 and [len(b[1]) for b in kept] == [10, 10]


def test_bad_rank_is_an_error():
    with pytest.raises(ValueError, match="rank=2"):
        InMemoryLoader.from_arrays(np.zeros((4, 1)), np.zeros(4), 2, rank=2, world_size=2)


def test_arrays_and_parquet_give_the_same_batches(tmp_path):
    import pandas as pd

    x = np.arange(60, dtype=np.float32).reshape(-1, 2)
    y = (np.arange(30) % 2).astype(np.float32)
    path = tmp_path / "set.parquet"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": y}).to_parquet(path)
    kw = {"shuffle": True, "seed": 7, "rank": 1, "world_size": 2, "even_batches": True}
    held = InMemoryLoader.from_arrays(x, y, 4, **kw)
    read = InMemoryLoader(path, ["a", "b"], "label", 4, **kw)
    for (xa, ya), (xb, yb) in zip(held, read, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_read_only_arrays_are_copied():
    x = np.ones((8, 2), dtype=np.float32)
    x.flags.writeable = False
    loader = InMemoryLoader.from_arrays(x, np.zeros(8), 4)
    assert loader.x.shape == (8, 2) and sum(len(b[1]) for b in loader) == 8
