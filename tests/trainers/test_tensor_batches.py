import numpy as np
import pytest
import torch

from churnops.trainers.tensor_batches import TensorBatches


def test_ranks_get_disjoint_equal_shards_covering_the_rows():
    x = np.arange(103, dtype=np.float32).reshape(-1, 1)
    y = np.zeros(103)
    shards = [
        torch.cat([b[0] for b in TensorBatches(x, y, 10, shuffle=True, rank=r, world_size=2)])
        for r in range(2)
    ]
    assert len(shards[0]) == len(shards[1]) == 51
    seen = set(shards[0].flatten().tolist()) | set(shards[1].flatten().tolist())
    assert len(seen) == 102  # one row dropped so both ranks step the same number of times


def test_new_order_each_epoch_same_for_the_same_seed():
    x = np.arange(50, dtype=np.float32).reshape(-1, 1)
    batches = TensorBatches(x, np.zeros(50), 50, shuffle=True, seed=3)
    first, second = next(iter(batches))[0], next(iter(batches))[0]
    assert not torch.equal(first, second)
    assert torch.equal(
        first, next(iter(TensorBatches(x, np.zeros(50), 50, shuffle=True, seed=3)))[0]
    )


def test_drop_last_and_lengths():
    x = np.zeros((25, 2), dtype=np.float32)
    assert len(TensorBatches(x, np.zeros(25), 10)) == 3
    kept = TensorBatches(x, np.zeros(25), 10, drop_last=True)
    assert len(kept) == 2 and [len(b[1]) for b in kept] == [10, 10]


def test_bad_rank_is_an_error():
    with pytest.raises(ValueError, match="rank=2"):
        TensorBatches(np.zeros((4, 1)), np.zeros(4), 2, rank=2, world_size=2)
