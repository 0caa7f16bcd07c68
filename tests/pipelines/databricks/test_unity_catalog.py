"""Registering the monitoring job's predictions as a Unity Catalog external table.

There is no Unity Catalog here and the local Spark has no Delta jars: the statement's text, its
parse by Spark's own SQL parser, the inputs' refusals and the task refusing to start without a
Spark session are what is checked; the statement was never run against a workspace.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from churnops.config import ConfigError
from churnops.pipelines.databricks.unity_catalog import external_table_sql
from churnops.pipelines.tasks.monitoring import MonitorRefreshInputs

LOCATION = "s3://lake/churnops/monitoring/predictions"


def test_the_statement_quotes_the_name_and_keeps_the_location() -> None:
    assert external_table_sql("main.churnops.churn_predictions", LOCATION) == (
        "CREATE TABLE IF NOT EXISTS `main`.`churnops`.`churn_predictions` USING DELTA "
        "LOCATION 's3://lake/churnops/monitoring/predictions'"
    )


@pytest.mark.parametrize(
    ("name", "location", "message"),
    [
        ("churn_predictions", LOCATION, "predictions_table='churn_predictions': expected a Unity"),
        ("main.churnops.x; DROP TABLE y", LOCATION, "expected a Unity Catalog name"),
        ("main.churnops.p", "/Volumes/main/churnops/pipelines/monitoring/predictions",
         "a Unity Catalog external table needs its folder in an external location"),
        ("main.churnops.p", ".churnops/pipelines/work/monitoring/predictions", "not a Volume"),
        ("main.churnops.p", "s3://lake/it's", "without quotes"),
    ],
)  # fmt: skip
def test_bad_names_and_locations_are_refused(name: str, location: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        external_table_sql(name, location)


def test_the_inputs_refuse_a_table_outside_an_external_location(tmp_path: Path) -> None:
    named = {"workdir": str(tmp_path), "predictions_table": "main.churnops.churn_predictions"}
    with pytest.raises(ValidationError, match=r"tables_root='.*': a Unity Catalog external"):
        MonitorRefreshInputs(**named)  # the workdir: a local folder
    with pytest.raises(ValidationError, match="tables_root='/Volumes/main/churnops/x'"):
        MonitorRefreshInputs(**named, tables_root="/Volumes/main/churnops/x")
    ok = MonitorRefreshInputs(**named, tables_root="abfss://c@acct.dfs.core.windows.net/churn")
    assert ok.predictions_table == "main.churnops.churn_predictions"
    assert MonitorRefreshInputs(workdir=str(tmp_path)).predictions_table is None  # the default


def test_without_a_spark_session_the_task_refuses_before_writing_anything(tmp_path: Path) -> None:
    # In a fresh process (no Spark session, as in a local run): the task fails up front, so a
    # job that cannot register its table leaves no half-done refresh behind.
    inputs = {"workdir": str(tmp_path / "work"), "tables_root": "s3://lake/churnops",
              "predictions_table": "main.churnops.churn_predictions", "report": False}  # fmt: skip
    code = (
        "import json, sys\n"
        "from churnops.pipelines.tasks.monitoring import MonitorRefreshInputs, monitor_refresh\n"
        "monitor_refresh(MonitorRefreshInputs(**json.loads(sys.argv[1])))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, json.dumps(inputs)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode != 0
    assert "predictions_table='main.churnops.churn_predictions': registering it needs the " \
           "Spark session of a Databricks cluster" in done.stderr  # fmt: skip
    assert not (tmp_path / "work").exists()


@pytest.mark.spark
def test_spark_parses_the_statement_as_a_delta_table_at_the_location(spark_engine) -> None:
    # Spark's own parser (no Delta or Unity Catalog needed to parse): the plan names the
    # three-part table, the delta provider and the location.
    statement = external_table_sql("main.churnops.churn_predictions", LOCATION)
    jspark = spark_engine.session._jsparkSession
    plan = jspark.sessionState().sqlParser().parsePlan(statement).toString()
    assert "CreateTable" in plan and "main, churnops, churn_predictions" in plan
    first = plan.splitlines()[0]  # 'CreateTable unresolvedtablespec(...), <ifNotExists>
    assert "SOME(DELTA)" in first.upper() and f"Some({LOCATION})" in first
    assert first.endswith(", true")  # IF NOT EXISTS: a rerun registers nothing
