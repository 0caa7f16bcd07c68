"""A pipeline against a shared MLflow tracking server (PostgreSQL backend, served artifacts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from churnops.pipelines.runner import run_job
from tests.pipelines.conftest import job


@pytest.mark.services
@pytest.mark.slow
def test_two_tasks_log_to_the_server_at_once(mlflow_server: str, home: Path, tmp_path) -> None:
    def logger(key: str) -> dict:
        return {
            "task_key": key,
            "task": "log_to_mlflow",
            "parameters": {
                "tracking_uri": "{{job.parameters.tracking_uri}}",
                "experiment": "pipeline-{{job.run_id}}",
                "run_name": key,
            },
        }

    spec = job(
        "tracked",
        [logger("train_a"), logger("train_b")],
        parameters=[{"name": "tracking_uri", "default": "sqlite:///unused.db"}],
    )
    result = run_job(spec, {"tracking_uri": mlflow_server}, home=home, max_parallel_tasks=2)
    assert result.state == "SUCCESS", {k: t.error for k, t in result.tasks.items()}
    a, b = result.tasks["train_a"], result.tasks["train_b"]
    assert a.start_time < b.end_time and b.start_time < a.end_time  # both ran at once

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name(f"pipeline-{result.run_id}")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["train_a", "train_b"]
    for key in ("train_a", "train_b"):
        run = client.get_run(result.tasks[key].outputs["mlflow_run_id"])
        assert run.data.params["rows"] == "200"
        assert len(client.get_metric_history(run.info.run_id, "train/loss")) == 20
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # served, not a local path
        local = client.download_artifacts(run.info.run_id, "data/rows.txt", str(tmp_path / key))
        assert Path(local).read_text().splitlines()[-1] == "199"
