"""The report: PNGs, one self-contained HTML page, and the same logged to a real MLflow run."""

from __future__ import annotations

import base64
import re
from datetime import date

import numpy as np
import pytest

from churnops.monitoring.analysis.ab import analyze_ab
from churnops.monitoring.analysis.estimate import calibration_check, estimate_performance
from churnops.monitoring.config import ABConfig
from churnops.monitoring.report.render import log_report, render_report
from tests.monitoring.analysis.test_ab import CFG, ab_frame
from tests.monitoring.report.test_plots import drift_rows


@pytest.fixture(scope="module")
def inputs():
    preds, labels = ab_frame(1500, 0.5, 2.0, seed=11)
    preds["timestamp"] = preds["date"].map(str).astype("datetime64[ns]").dt.tz_localize("UTC")
    ab = analyze_ab(preds, labels, ABConfig(**CFG))
    rng = np.random.default_rng(0)
    p = rng.random(2000)
    cal = calibration_check(p, (rng.random(2000) < p).astype(int))
    quality = estimate_performance(preds, cal, labels[labels["cutoff"] == date(1997, 6, 30)])
    return preds, ab, quality


def test_report_is_one_self_contained_page_with_every_plot(tmp_path, inputs):
    preds, ab, quality = inputs
    files = render_report(
        tmp_path / "r", drift_metrics=drift_rows(), predictions=preds, quality=quality, ab=ab
    )
    assert set(files.images) == {
        "drift_heatmap",
        "score_distribution",
        "quality_over_time",
        "ab_differences",
    }
    page = files.html.read_text()
    inlined = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(inlined) == 4
    assert all(base64.b64decode(x).startswith(b"\x89PNG") for x in inlined)
    assert not re.search(r'src="(?!data:)', page)  # nothing fetched from elsewhere
    assert f"<b>{ab.verdict}</b>" in page and ab.verdict == "promote"
    assert "label_coverage" in page and "roc_auc" in page
    assert files.metrics["ab/roc_auc_difference"] == pytest.approx(
        ab.comparisons.set_index("metric").loc["roc_auc", "difference"]
    )
    assert not list((tmp_path / "r").glob("*.tmp"))


def test_report_draws_only_what_it_was_given_and_refuses_no_input(tmp_path, inputs):
    preds, _, _ = inputs
    files = render_report(tmp_path / "s", predictions=preds)
    assert set(files.images) == {"score_distribution"}
    with pytest.raises(ValueError, match="expected at least one of"):
        render_report(tmp_path / "t")


def test_log_report_puts_files_and_metrics_in_an_mlflow_run(tmp_path, inputs, mlflow_tmp):
    import mlflow
    from mlflow import MlflowClient

    preds, ab, quality = inputs
    files = render_report(tmp_path / "r", predictions=preds, quality=quality, ab=ab)
    run_id = log_report(files)
    client = MlflowClient()
    names = {a.path for a in client.list_artifacts(run_id, "monitoring")}
    assert names == {
        "monitoring/report.html",
        "monitoring/score_distribution.png",
        "monitoring/quality_over_time.png",
        "monitoring/ab_differences.png",
    }
    metrics = client.get_run(run_id).data.metrics
    assert metrics["ab/roc_auc_difference"] == pytest.approx(files.metrics["ab/roc_auc_difference"])
    with mlflow.start_run() as outer:  # inside an active run it logs there
        assert log_report(files) == outer.info.run_id
