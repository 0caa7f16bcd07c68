"""Sweeps on real clusters through the command line: Ray Tune on a two-node Ray cluster and
hyperopt's SparkTrials on a Spark standalone cluster."""

import pytest

from tests.fixtures.clusters import run_cli, spark_overrides

pytestmark = pytest.mark.slow


def _train_overrides(tmp_path, training_set) -> str:
    return f"train_overrides=[data.path={training_set}, workdir={tmp_path}]"


@pytest.mark.ray
def test_ray_sweep_on_the_ray_cluster(ray_two_nodes, tmp_path, cdnow_training_set_path):
    storage = tmp_path / "shared"
    proc = run_cli(
        "tune", "random_forest", "num_samples=2", "max_concurrent=2", "refit=false",
        f"ray_address={ray_two_nodes.address}", f"ray_storage_path={storage}",
        _train_overrides(tmp_path, cdnow_training_set_path), env=ray_two_nodes.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    drivers = [d for d in ray_two_nodes.drivers() if "churnops.cli tune" in d["Entrypoint"]]
    assert len(drivers) == 1 and drivers[0]["IsDead"]
    assert len(list(storage.glob("sweep/*/result.json"))) == 2  # a trial folder per trial


@pytest.mark.spark
def test_spark_trials_sweep_on_the_spark_cluster(spark_cluster, tmp_path, cdnow_training_set_path):
    app = "churnops-test-spark-trials"
    proc = run_cli(
        "tune", "random_forest", "backend=hyperopt", "spark_trials=true", "num_samples=2",
        "max_concurrent=2", "refit=false",
        *spark_overrides(spark_cluster, app), _train_overrides(tmp_path, cdnow_training_set_path),
        env=spark_cluster.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = spark_cluster.app(app)
    assert info is not None and info["state"] == "FINISHED"
    assert spark_cluster.executors(info["id"])  # the trials ran as tasks on the workers
