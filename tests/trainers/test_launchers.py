"""Every launcher runs the same fit_net with 2 CPU workers on CDNOW (tiny epochs)."""

import pytest

from churnops.trainers.config import load_train_config
from churnops.trainers.train import train


def _check(result, launcher):
    fit = result.model.fit_result
    assert result.launcher == launcher
    assert fit.world_size == 2
    assert fit.device == "cpu"
    assert len(fit.history) == 2 and "val/auroc" in fit.history[-1]
    assert fit.best_checkpoint  # rank 0's ModelCheckpoint on val/auroc
    assert result.metrics["test/auroc"] > 0.6


@pytest.mark.slow
def test_local_ddp_two_processes(tiny_overrides):
    cfg = load_train_config([*tiny_overrides, "launcher=local", "launcher.num_workers=2"])
    _check(train(cfg), "local")


@pytest.mark.slow
def test_local_ddp_two_processes_streaming_from_arrow(tiny_overrides):
    # Full epochs: the loader's own even shares, not limit_train_batches, keep ranks in step.
    overrides = [o for o in tiny_overrides if not o.startswith("trainer.limit_train_batches")]
    cfg = load_train_config([*overrides, "launcher=local", "launcher.num_workers=2",
                             "trainer.loader=arrow-stream", "trainer.batch_size=1024"])  # fmt: skip
    _check(train(cfg), "local")


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.parametrize("local_mode", [True, False], ids=["local_mode", "spark_tasks"])
def test_torch_distributor(spark_engine, tiny_overrides, local_mode):
    cfg = load_train_config(
        [*tiny_overrides, "launcher=torch_distributor", f"launcher.local_mode={local_mode}"]
    )
    _check(train(cfg), "torch_distributor")


@pytest.mark.slow
@pytest.mark.ray
def test_ray_train(ray_cluster, tiny_overrides):
    cfg = load_train_config([*tiny_overrides, "launcher=ray", "launcher.num_workers=2"])
    _check(train(cfg), "ray")


@pytest.mark.slow
@pytest.mark.ray
def test_ray_train_streaming_from_ray_data(ray_cluster, tiny_overrides):
    # Two 1-CPU workers would take both CPUs and leave Ray Data's read tasks none (a hang);
    # the launcher gives ray-data workers half a CPU each.
    cfg = load_train_config([*tiny_overrides, "launcher=ray", "launcher.num_workers=2",
                             "trainer.loader=ray-data", "trainer.batch_size=1024"])  # fmt: skip
    _check(train(cfg), "ray")


def test_ray_scaling_config_leaves_cpus_for_ray_data():
    from churnops.trainers.launchers.ray import RayLauncher

    def resources(launcher, loader):
        return launcher.scaling_config(loader).resources_per_worker

    assert resources(RayLauncher(2), "in-memory") is None  # Ray's default: 1 CPU
    assert resources(RayLauncher(2), "ray-data") == {"CPU": 0.5}
    assert resources(RayLauncher(2, use_gpu=True), "ray-data") is None  # GPU workers: 0 CPU
    assert resources(RayLauncher(2, use_gpu=True, cpus_per_worker=2), "in-memory") == {
        "CPU": 2,
        "GPU": 1,
    }
