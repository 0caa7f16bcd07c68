"""Shared fixtures: one Spark session per test run, fresh DuckDB engines, hermetic environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.s3",  # the moto S3 server: s3_server, s3_storage
    "tests.fixtures.clusters",  # spark_cluster, ray_two_nodes
    "tests.fixtures.engines",  # created_engines (spies on what engine_for creates)
]

# Quiet, hermetic runs: no Ray token under $HOME, no MLflow telemetry, Spark on loopback only.
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Under pytest-xdist (`make test` runs two workers), every test that needs Ray runs on one
    # worker: each worker would otherwise start its own 2-CPU Ray instance on 2 cores.
    for item in items:
        if item.get_closest_marker("ray") or "ray_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("ray"))


@pytest.fixture(scope="session")
def spark_engine():
    """The one local Spark session of the run (2 cores: local[2], few shuffle partitions)."""
    from churnops.data.engines import get_engine

    engine = get_engine("spark", master="local[2]", conf={"spark.sql.shuffle.partitions": "4"})
    yield engine
    engine.stop()


@pytest.fixture
def duckdb_engine():
    from churnops.data.engines import get_engine

    return get_engine("duckdb")


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request):
    """Each engine in turn: tests that take it run on DuckDB and on Spark."""
    if request.param == "spark":
        return request.getfixturevalue("spark_engine")
    return request.getfixturevalue("duckdb_engine")


@pytest.fixture(scope="session")
def cdnow_orders(tmp_path_factory) -> Path:
    """Clean CDNOW orders as Parquet, prepared once per run."""
    from churnops.data.sources import SourceConfig, prepare_orders

    path = tmp_path_factory.mktemp("cdnow") / "orders.parquet"
    prepare_orders(SourceConfig(kind="cdnow"), path)
    return path


@pytest.fixture
def mlflow_tmp(tmp_path):
    """A fresh MLflow tracking store and registry on SQLite in a temp folder."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment(
            "tests", artifact_location=(tmp_path / "mlartifacts").as_uri()
        )
    )
    yield uri
    mlflow.end_run()


@pytest.fixture(scope="session")
def cdnow_training_set_path(tmp_path_factory) -> Path:
    """CDNOW's training set (cutoff 1997-09-30, horizon 180), built once per run."""
    from churnops.trainers.config import DataConfig
    from churnops.trainers.training_set import build_training_set

    folder = tmp_path_factory.mktemp("training")
    return build_training_set(folder / "training_set.parquet", DataConfig(), folder / "fs").path
