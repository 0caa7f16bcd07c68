"""The command line on a Spark standalone cluster: features build and monitor refresh.

Each command runs in its own process with `engine.spark.master` pointing at the cluster, and
the master's REST (`/json/`) and the workers' must show its application with executors.
"""

import pyarrow.parquet as pq
import pytest
import yaml
from deltalake import DeltaTable

from churnops.data.features.build import FeaturesJobConfig, build_features
from tests.fixtures.clusters import run_cli, spark_overrides
from tests.monitoring.synthetic_tables import predictions, write

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _ran_on(cluster, app: str) -> list:
    info = cluster.app(app)
    assert info is not None, f"application {app!r} not on the master"
    assert info["state"] == "FINISHED"
    executors = cluster.executors(info["id"])
    assert executors, f"application {app!r} ran no executor on the workers"
    return executors


def test_features_build_on_the_cluster(spark_cluster, tmp_path):
    app = "churnops-test-features"
    proc = run_cli(
        "features", "build", "--engine", "spark", "--no-store", "--output-dir",
        str(tmp_path / "spark"), "source.variant=sample", *spark_overrides(spark_cluster, app),
        env=spark_cluster.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    _ran_on(spark_cluster, app)
    # The same features as the embedded engine computes.
    local = build_features(
        FeaturesJobConfig(
            source={"kind": "cdnow", "variant": "sample"}, output_dir=str(tmp_path / "duckdb")
        )
    )
    name = local.features_path.name
    on_cluster = pq.read_table(tmp_path / "spark" / name).sort_by("customer_id")
    expected = pq.read_table(local.features_path).sort_by("customer_id")
    assert on_cluster.num_rows == expected.num_rows == local.customers
    assert on_cluster["customer_id"].equals(expected["customer_id"])
    assert on_cluster["total_orders"].equals(expected["total_orders"])


def test_monitor_refresh_on_the_cluster(spark_cluster, tmp_path):
    app = "churnops-test-monitor"
    table = write(tmp_path / "preds", predictions(2, 200, versions=("1", "2")))
    config = tmp_path / "monitor.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "churn",
                "table": table,
                "output_dir": str(tmp_path / "out"),
                "engine": {"name": "spark"},
                "granularities": ["1 day"],
            }
        )
    )
    proc = run_cli(
        "monitor", "refresh", "--config", str(config), *spark_overrides(spark_cluster, app),
        env=spark_cluster.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    _ran_on(spark_cluster, app)
    profile = DeltaTable(str(tmp_path / "out" / "churn_profile_metrics")).to_pyarrow_table()
    assert profile.num_rows > 0
    assert set(profile["model_version"].to_pylist()) >= {"1", "2"}
