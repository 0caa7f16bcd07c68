"""Every launcher runs the same fit_net with 2 CPU workers on CDNOW (tiny epochs)."""

import pytest

from churnops.data.engines.config import EngineConfig
from churnops.trainers.config import LauncherConfig, load_train_config
from churnops.trainers.launchers import make_launcher
from churnops.trainers.train import train


def _check(result, launcher):
    fit = result.model.fit_result
    assert result.launcher == launcher
    assert fit.world_size == 2
    assert fit.device == "cpu"
    assert len(fit.history) == 2 and "val/auroc" in fit.history[-1]
    assert fit.best_checkpoint  # rank 0's ModelCheckpoint on val/auroc
    assert result.metrics["test/auroc"] > 0.6


@pytest.mark.parametrize(
    ("name", "cls"),
    [("local", "LocalLauncher"), ("torch_distributor", "TorchDistributorLauncher"),
     ("ray", "RayLauncher")],
)  # fmt: skip
def test_launcher_name_picks_the_launcher_built_from_its_config(name, cls):
    cfg = LauncherConfig(name=name, num_workers=3, use_gpu=True, ray_address="ray://head:10001")
    launcher = make_launcher(cfg, EngineConfig())
    assert type(launcher).__name__ == cls and launcher.name == name
    assert launcher.num_workers == 3 and launcher.use_gpu
    if name == "ray":
        assert launcher.address == "ray://head:10001"


def test_an_unknown_launcher_names_the_field_and_the_choices():
    cfg = LauncherConfig.model_construct(name="slurm")
    with pytest.raises(ValueError, match=r"launcher\.name='slurm': expected one of local, "):
        make_launcher(cfg)


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


# -- on real clusters, through the command line ---------------------------------------------

TINY = ["trainer.max_epochs=1", "trainer.limit_train_batches=4", "trainer.progress_bar=false"]


@pytest.mark.slow
@pytest.mark.spark
def test_torch_distributor_on_the_spark_cluster(spark_cluster, tmp_path, cdnow_training_set_path):
    from tests.fixtures.clusters import run_cli, spark_overrides

    app = "churnops-test-torch-distributor"
    proc = run_cli(
        "train", f"workdir={tmp_path}", f"data.path={cdnow_training_set_path}", *TINY,
        "launcher=torch_distributor", "launcher.local_mode=false", "launcher.num_workers=2",
        *spark_overrides(spark_cluster, app), env=spark_cluster.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "torch_distrib" in proc.stdout
    info = spark_cluster.app(app)
    assert info is not None and info["state"] == "FINISHED"
    # Two barrier tasks on 1-core workers: an executor on each worker ran one rank.
    assert len({worker for worker, _ in spark_cluster.executors(info["id"])}) == 2


@pytest.mark.slow
@pytest.mark.ray
def test_ray_train_on_the_ray_cluster(ray_two_nodes, tmp_path, cdnow_training_set_path):
    from tests.fixtures.clusters import run_cli

    storage = tmp_path / "shared"
    proc = run_cli(
        "train", f"workdir={tmp_path}", f"data.path={cdnow_training_set_path}", *TINY,
        "launcher=ray", "launcher.num_workers=2", f"launcher.ray_address={ray_two_nodes.address}",
        f"launcher.ray_storage_path={storage}", env=ray_two_nodes.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    drivers = [d for d in ray_two_nodes.drivers() if "churnops.cli train" in d["Entrypoint"]]
    assert len(drivers) == 1 and drivers[0]["IsDead"]
    assert list(storage.glob("fit/checkpoint_*/net_fit_result.pkl"))  # under the setting


@pytest.mark.ray
def test_an_unreachable_ray_address_is_a_one_line_error(tmp_path, cdnow_training_set_path):
    import socket

    from tests.fixtures.clusters import cluster_env, run_cli

    with socket.socket() as s:  # bound then closed: nobody listens there
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    proc = run_cli(
        "train", f"workdir={tmp_path}", f"data.path={cdnow_training_set_path}", *TINY,
        "launcher=ray", f"launcher.ray_address={address}", env=cluster_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert f"launcher.ray_address={address!r}: cannot connect" in last
