"""monitor_replay: the demo's closed loop as a task, from registered models to the report."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.pipelines.tasks.conftest import train_logistic


@pytest.mark.slow  # two models, three months of the CDNOW sample replayed and monitored
def test_monitor_replay_tells_the_loop_and_writes_the_report(run, features):
    from mlflow import MlflowClient

    from churnops.pipelines.tasks.monitoring import MonitorReplayInputs, monitor_replay

    for alias in ("champion", "challenger"):
        version = train_logistic(run, features, model_name="churn_t").model_version
        MlflowClient().set_registered_model_alias("churn_t", alias, version)
    out = monitor_replay(
        MonitorReplayInputs(
            **run,
            training_set=features.training_set,
            model_uri="models:/churn_t@champion",
            model_name="churn_t",  # the arms serve its aliases, not the replay config's model
            start="1998-04-30",
            end="1998-06-30",
            horizon_days=30,
            replay_overrides=["source.variant=sample"],
            overrides=[
                'granularities=["1 month"]',
                "max_label_age_days=0",
                "ab.max_label_age_days=0",
            ],
        )
    )
    assert [m["month_end"] for m in out.months] == ["1998-04-30", "1998-05-31", "1998-06-30"]
    assert [m["refresh"] for m in out.months] == ["full", "incremental", "incremental"]
    # 30-day labels: April's lands at the end of May, May's at the end of June.
    assert out.labelled_windows == 2 and out.retrain_as_of == "1998-05-31"
    assert out.months[-1]["realized_window"] == "1998-05-01"
    assert out.retrain == out.months[-1]["retrain"]
    auc = out.ab_roc_auc
    assert auc["ci_low"] <= auc["difference"] <= auc["ci_high"] and out.ab_verdict

    page = Path(out.report).read_text(encoding="utf-8")
    inlined = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(inlined) == 4 and all(base64.b64decode(x)[:4] == b"\x89PNG" for x in inlined)
    runs = MlflowClient().search_runs(
        [e.experiment_id for e in MlflowClient().search_experiments()],
        filter_string="attributes.run_name = 'monitoring'",
    )
    names = {a.path for a in MlflowClient().list_artifacts(runs[0].info.run_id, "monitoring")}
    assert "monitoring/report.html" in names and "monitoring/drift_heatmap.png" in names


@pytest.mark.slow  # the demo's nine months of the CDNOW sample, then the training job once
def test_the_demos_loop_meets_its_story_targets(run, features):
    """The demo's own monitor_replay parameters (configs/pipeline/demo.yaml) give at least 8
    monthly windows, 5 of them with realized quality, and a retraining decision whose training
    job runs (`make demo` tells this story; its retrain task is this run_job_task)."""
    from mlflow import MlflowClient

    from churnops.pipelines.records import RunRecords
    from churnops.pipelines.runner import run_job
    from churnops.pipelines.spec import load_job_spec, resolve_references
    from churnops.pipelines.tasks.monitoring import MonitorReplayInputs, monitor_replay

    demo = load_job_spec("demo")
    store = f"sqlite:///{Path(run['workdir']).resolve() / 'mlflow.db'}"
    params = {p.name: p.default for p in demo.parameters}
    params.update(workdir=run["workdir"], tracking_uri=store, registry_uri=store)
    for alias in ("champion", "challenger"):
        version = train_logistic(run, features, model_name=params["model_name"]).model_version
        MlflowClient().set_registered_model_alias(params["model_name"], alias, version)

    def lookup(ref: str, values: dict) -> object:
        kind, name, *rest = ref.split(".")
        return params[rest[0]] if kind == "job" else values[name][rest[-1]]

    upstream = {"feature_engineering": {"training_set": features.training_set}}
    inputs = resolve_references(
        demo.task("monitor_replay").parameters, lambda r: lookup(r, upstream)
    )
    loop = monitor_replay(MonitorReplayInputs(**inputs))
    assert loop.windows >= 8 and loop.labelled_windows >= 5
    realized = [m for m in loop.months if m["realized_roc_auc"] is not None]
    assert len(realized) >= 5
    assert loop.retrain and loop.retrain_as_of is not None

    retrain = demo.task("retrain").run_job_task
    upstream["monitor_replay"] = loop.model_dump()
    child = resolve_references(dict(retrain.job_parameters), lambda r: lookup(r, upstream))
    home = Path(run["workdir"]) / "pipelines"
    result = run_job(load_job_spec(retrain.job), {k: str(v) for k, v in child.items()}, home=home)
    assert result.state == "SUCCESS"
    trained = RunRecords(home).run(result.run_id).tasks["model_training"]
    assert trained.state == "SUCCESS" and trained.outputs["model_version"]
