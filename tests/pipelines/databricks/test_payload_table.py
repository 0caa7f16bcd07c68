"""The monitoring job on the payload table a Model Serving endpoint writes: the bundle points
the job at it with `inference_log_format: databricks_payload` (locally the job stays on
churnops' own serving log), and `monitor_refresh` unpacks it, or refuses a log of the other
kind before it writes anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import write_deltalake

from churnops.monitoring.refresh.payload_table import LogFormatError
from churnops.pipelines.databricks.bundle import job_settings, load_bundle_config
from churnops.pipelines.databricks.task_values import INPUT_PREFIX, inputs_from_text
from churnops.pipelines.spec import load_job_spec, substitute_text
from churnops.pipelines.tasks.monitoring import MonitorRefreshInputs, monitor_refresh
from tests.monitoring.payloads import legacy_rows, requests


def test_the_bundles_monitoring_job_reads_the_endpoints_payload_table() -> None:
    spec = load_job_spec("monitoring")
    assert spec.parameter_defaults()["inference_log_format"] == "churnops"  # local runs
    bundle = load_bundle_config().model_copy(update={"wheel": "w.whl"})
    settings = job_settings(spec, bundle)
    params = {p.name: p.default for p in settings.parameters}
    assert params["inference_log_format"] == "databricks_payload"
    assert params["inference_log"].startswith("s3://")  # the payload table's storage location
    task = next(t for t in settings.tasks if t.task_key == "monitor_refresh")
    widgets = {  # Databricks' substitution of the job parameters, then the notebook's parse
        k.removeprefix(INPUT_PREFIX): substitute_text(v, lambda ref: params[ref.split(".")[2]])
        for k, v in task.notebook_task.base_parameters.items()
        if k.startswith(INPUT_PREFIX)
    }
    inputs = MonitorRefreshInputs(**inputs_from_text(MonitorRefreshInputs, widgets))
    assert inputs.inference_log_format == "databricks_payload"
    assert inputs.inference_log == params["inference_log"]


def test_monitor_refresh_unpacks_a_payload_table(tmp_path: Path) -> None:
    log = str(tmp_path / "payload")
    write_deltalake(log, legacy_rows(requests()))  # day 1
    write_deltalake(log, legacy_rows(requests(minutes=24 * 60)), mode="append")  # day 2
    out = monitor_refresh(
        MonitorRefreshInputs(
            workdir=str(tmp_path / "work"),
            inference_log=log,
            inference_log_format="databricks_payload",
            report=False,
        )
    )
    assert out.unpacked_rows == 10 and out.mode == "full" and out.retrain is False


def test_monitor_refresh_refuses_a_log_of_the_other_format_before_writing(tmp_path: Path) -> None:
    log = str(tmp_path / "payload")
    write_deltalake(log, legacy_rows(requests()))
    inputs = MonitorRefreshInputs(
        workdir=str(tmp_path / "work"), inference_log=log, inference_log_format="churnops",
        report=False,
    )  # fmt: skip
    with pytest.raises(LogFormatError, match="inference_log_format='churnops'"):
        monitor_refresh(inputs)
    assert not (tmp_path / "work" / "monitoring").exists()
