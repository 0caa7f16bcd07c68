"""A refresh stops only the engine it made: a passed engine, or a Spark session the refresh
found running, is the caller's and keeps working after it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.run import refresh_monitor
from tests.monitoring.synthetic_tables import predictions, write


def _monitor(tmp_path, engine: str) -> MonitorConfig:
    write(tmp_path / "preds", predictions(2, 40, seed=3))
    return MonitorConfig(
        table=str(tmp_path / "preds"), output_dir=str(tmp_path / "out"), engine=engine
    )


def _alive(engine) -> bool:
    return engine.session.sql("SELECT 1 AS x").collect()[0][0] == 1


def test_a_passed_engine_is_left_running(tmp_path, engine):
    cfg = _monitor(tmp_path, engine.name)
    assert refresh_monitor(cfg, engine=engine).windows > 0
    assert _alive(engine)
    if engine.name == "duckdb":
        assert engine.connection.execute("SELECT 1").fetchone() == (1,)


def test_a_duckdb_engine_the_refresh_made_leaves_the_process_session_usable(
    tmp_path, duckdb_engine
):
    # Every DuckDBEngine shares SQLFrame's one session per process, so stopping the engine a
    # refresh made must not close the connection other engines (here: the fixture's) hold.
    assert refresh_monitor(_monitor(tmp_path, "duckdb")).windows > 0
    assert _alive(duckdb_engine)
    assert duckdb_engine.connection.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.spark
def test_a_spark_session_the_refresh_attached_to_is_left_running(tmp_path, spark_engine):
    assert refresh_monitor(_monitor(tmp_path, "spark")).windows > 0  # finds the running session
    assert _alive(spark_engine)


@pytest.mark.spark
@pytest.mark.slow  # a fresh interpreter starts (and the refresh stops) its own Spark session
def test_a_spark_session_the_refresh_started_is_stopped(tmp_path):
    write(tmp_path / "preds", predictions(2, 40, seed=3))
    script = textwrap.dedent(f"""
        import json
        from pyspark import SparkContext
        from churnops.monitoring.config import MonitorConfig
        from churnops.monitoring.refresh.run import refresh_monitor
        cfg = MonitorConfig(
            table={str(tmp_path / "preds")!r}, output_dir={str(tmp_path / "out")!r},
            engine={{"name": "spark", "spark": {{"master": "local[1]",
                    "conf": {{"spark.sql.shuffle.partitions": "1"}}}}}},
        )
        assert SparkContext._active_spark_context is None
        windows = refresh_monitor(cfg).windows
        print(json.dumps({{"windows": windows,
                          "running": SparkContext._active_spark_context is not None}}))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"windows": out["windows"], "running": False} and out["windows"] > 0
