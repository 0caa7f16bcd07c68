"""The ray-data kind on a local Ray cluster, and the Ray Train shard helper."""

from __future__ import annotations

import json

import pytest
from loader_cases import FEATURES, LABEL, ROWS, epoch_ids

from churnops.data.loaders import make_loader

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def ray_cluster():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield
    if started:
        ray.shutdown()


def _open(path, **kw):
    return make_loader("ray-data", path, FEATURES, LABEL, 64, **kw)


def test_two_ranks_cover_every_row_once_in_an_order_fixed_by_seed(ray_cluster, training_set):
    ranks = [_open(training_set, rank=r, world_size=2, seed=7) for r in (0, 1)]
    seen = [epoch_ids(loader) for loader in ranks]
    assert not set(seen[0]) & set(seen[1]), "ranks overlap"
    assert sorted(seen[0] + seen[1]) == list(range(ROWS))
    assert abs(len(seen[0]) - len(seen[1])) <= 1
    assert seen[0] != sorted(seen[0]), "shuffle=True left the file order"
    # The next epoch reshuffles; a fresh loader with the same seed replays epoch 0.
    assert epoch_ids(ranks[0]) != seen[0]
    assert epoch_ids(_open(training_set, rank=0, world_size=2, seed=7)) == seen[0]


def test_even_batches_give_both_ranks_the_same_full_steps(ray_cluster, training_set):
    ranks = [
        _open(training_set, rank=r, world_size=2, seed=1, even_batches=True, drop_last=True)
        for r in (0, 1)
    ]
    sizes = [[len(y) for _, y in loader] for loader in ranks]
    assert len(sizes[0]) == len(sizes[1]) == ROWS // 2 // 64 == len(ranks[0])
    assert all(s == 64 for rank in sizes for s in rank)


def test_even_batches_keep_the_short_batch_on_both_ranks(ray_cluster, training_set):
    # Validation's setting: equal shares of ROWS // 2 rows, the short last batch kept.
    ranks = [_open(training_set, rank=r, world_size=2, shuffle=False, even_batches=True)
             for r in (0, 1)]  # fmt: skip
    sizes = [[len(y) for _, y in loader] for loader in ranks]
    assert sizes[0] == sizes[1] == [64] * (ROWS // 2 // 64) + [ROWS // 2 % 64]
    assert len(ranks[0]) == len(sizes[0])


def test_without_shuffle_reads_in_file_order(ray_cluster, training_set):
    assert epoch_ids(_open(training_set, shuffle=False)) == list(range(ROWS))


def test_missing_column_is_named(ray_cluster, training_set):
    with pytest.raises(ValueError, match=r"column 'nope' not found"):
        make_loader("ray-data", training_set, ["nope"], LABEL, 8)


def _collect_shard(config):
    import ray.train

    from churnops.data.loaders.ray_data import ray_train_shard_loader

    loader = ray_train_shard_loader(FEATURES, LABEL, 32, seed=1)
    ids = []
    for x, y in loader:
        assert x.shape[1] == len(FEATURES) and y.shape == (x.shape[0],)
        ids += x[:, 0].long().tolist()
    rank = ray.train.get_context().get_world_rank()
    with open(f"{config['out']}/rank-{rank}.json", "w") as f:
        json.dump(ids, f)


def test_ray_train_workers_read_disjoint_shards(ray_cluster, training_set, tmp_path):
    import sys

    import loader_cases
    from ray import cloudpickle
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from churnops.data.loaders.ray_data import read_training_set

    # The workers cannot import this test module: ship it (and its helper) by value.
    for module in (sys.modules[__name__], loader_cases):
        cloudpickle.register_pickle_by_value(module)
    trainer = TorchTrainer(
        _collect_shard,
        train_loop_config={"out": str(tmp_path)},
        # Half a CPU each: on a 2-CPU cluster whole-CPU workers leave none for the read tasks.
        scaling_config=ScalingConfig(
            num_workers=2, use_gpu=False, resources_per_worker={"CPU": 0.5}
        ),
        datasets={"train": read_training_set(training_set, FEATURES, LABEL)},
        run_config=RunConfig(storage_path=str(tmp_path / "runs"), name="shards"),
    )
    trainer.fit()
    seen = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert seen[0] and seen[1]
    assert not set(seen[0]) & set(seen[1])
    # Ray Train's equal split may drop up to world_size - 1 rows per epoch.
    assert len(seen[0]) == len(seen[1])
    assert ROWS - 1 <= len(seen[0]) + len(seen[1]) <= ROWS
    assert set(seen[0]) | set(seen[1]) <= set(range(ROWS))
