"""SparkEngine and the sessions it did not create: used as they are, never stopped."""

import socket

import pytest

from churnops.data.engines import EngineConfig, get_engine
from churnops.data.features.build import FeaturesJobConfig, build_features
from tests.fixtures.clusters import cluster_env, run_cli

pytestmark = pytest.mark.spark


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_running_session_is_used_as_it_is_and_left_running(spark_engine):
    partitions = spark_engine.session.conf.get("spark.sql.shuffle.partitions")
    setting = EngineConfig(
        name="spark",
        spark={"master": "spark://nowhere:7077", "conf": {"spark.sql.shuffle.partitions": "99"}},
    )
    engine = get_engine(setting)
    assert engine.session is spark_engine.session  # the running one: no new master reached
    assert spark_engine.session.conf.get("spark.sql.shuffle.partitions") == partitions
    engine.stop()
    assert spark_engine.session.range(3).count() == 3  # still alive


@pytest.mark.slow
def test_features_build_leaves_the_hosts_session_running(spark_engine, tmp_path):
    cfg = FeaturesJobConfig(
        source={"kind": "cdnow", "variant": "sample"}, engine="spark", output_dir=str(tmp_path)
    )
    result = build_features(cfg)  # no engine passed: it finds the running session
    assert result.customers > 0
    assert spark_engine.session.range(3).count() == 3


def test_an_unreachable_master_is_a_one_line_error_naming_it(tmp_path):
    master = f"spark://127.0.0.1:{_closed_port()}"
    env = cluster_env()
    env.pop("SPARK_MASTER", None)
    proc = run_cli(
        "features", "build", "--engine", "spark", "--no-store", "--output-dir", str(tmp_path),
        "source.variant=sample", f"engine.spark.master={master}",
        "engine.spark.connect_timeout_s=5",
        env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert f"engine.spark.master={master!r}: cannot connect" in lines[-1]
    assert lines[-1].startswith("churnops features: error:")
    assert not list(tmp_path.glob("features-*.parquet"))  # nothing written past the failure
