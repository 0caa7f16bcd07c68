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
