"""The closed loop replayed month by month on the CDNOW sample: the log and the labels grow a
month at a time, the monitor refreshes incrementally, the policy decides at each month end."""

from __future__ import annotations

import datetime as dt
from datetime import date

import pytest

from churnops.data.delta_tables import open_table, read_table
from churnops.monitoring.config import ABConfig, MonitorConfig, RetrainPolicy
from churnops.scenarios.closed_loop import replay_monitor
from tests.scenarios.test_replay import config, registered, sample_orders  # noqa: F401


@pytest.fixture
def baseline(tmp_path, registered, sample_orders, duckdb_engine):  # noqa: F811
    """The champion's scores on the sample's training set at 1997-09-30 (60-day labels)."""
    from churnops.data.features import compute_customer_features, compute_labels
    from churnops.monitoring.refresh.baseline import write_baseline

    cutoff = date(1997, 9, 30)
    x = duckdb_engine.to_arrow(compute_customer_features(sample_orders, cutoff)).to_pandas()
    y = duckdb_engine.to_arrow(compute_labels(sample_orders, cutoff, 60)).to_pandas()
    path = tmp_path / "training_set.parquet"
    x.merge(y[["customer_id", "churn"]], on="customer_id").to_parquet(path)
    write_baseline(path, "models:/churn@champion", tmp_path / "baseline")
    return str(tmp_path / "baseline")


def monitor(tmp_path, baseline: str) -> MonitorConfig:
    return MonitorConfig(
        table=str(tmp_path / "predictions"),
        output_dir=str(tmp_path / "monitoring"),
        inference_log=str(tmp_path / "log"),
        labels_table=str(tmp_path / "labels"),
        baseline_table=baseline,
        granularities=["1 month"],
        max_label_age_days=0,
        ab=ABConfig(
            control="champion",
            treatment="challenger",
            expected_split={"champion": 80, "challenger": 20},
            max_label_age_days=0,
        ),
        retrain=RetrainPolicy(drift_columns=["probability"], drift_windows=2, min_rows=100),
    )


@pytest.mark.slow  # four months of the CDNOW sample: replay, refresh and decide each
def test_loop_lands_labels_month_by_month_and_decides_at_each_month_end(tmp_path, baseline):
    months = {"start": date(1998, 1, 31), "end": date(1998, 4, 30), "predictions": None}
    replay_cfg = config(tmp_path).model_copy(update=months)
    seen = []
    loop = replay_monitor(replay_cfg, monitor(tmp_path, baseline), on_month=seen.append)

    assert [m.month_end for m in loop.months] == [
        date(1998, 1, 31), date(1998, 2, 28), date(1998, 3, 31), date(1998, 4, 30)
    ]  # fmt: skip
    assert seen == loop.months  # each line told as soon as its month was done
    assert [m.refresh for m in loop.months] == ["full", "incremental", "incremental", "incremental"]
    # 60-day labels land once their horizon has passed, from the month end one horizon back.
    assert [m.labels_landed for m in loop.months] == [
        [date(1997, 11, 30)], [], [date(1997, 12, 31)], [date(1998, 1, 31), date(1998, 2, 28)]
    ]  # fmt: skip
    labels = read_table(open_table(str(tmp_path / "labels"))).to_pandas()
    assert labels.groupby("cutoff").size().index.tolist() == [
        date(1997, 11, 30), date(1997, 12, 31), date(1998, 1, 31), date(1998, 2, 28)
    ]  # fmt: skip
    assert not labels.duplicated(["customer_id", "cutoff"]).any()  # each label landed once
    assert all(m.rows == 2357 for m in loop.months)  # every sample customer, shadow not counted
    assert all(m.top_drift for m in loop.months)
    # Realized quality appears only when a window's own labels land: January's and February's
    # in April; the label-free estimate is there from the first month.
    assert [m.realized_window for m in loop.months] == [None, None, None, date(1998, 2, 1)]
    assert 0.5 < loop.months[-1].realized_roc_auc <= 1
    assert loop.labelled_windows == 2 and loop.retrain_as_of == date(1998, 2, 28)

    decisions = read_table(open_table(str(tmp_path / "monitoring" / "churn_decisions")))
    stamps = sorted(d.date() for d in decisions.column("decided_at").to_pylist())
    assert stamps == [m.month_end for m in loop.months]  # decided as of each month end
    assert loop.decision.retrain == loop.months[-1].retrain
    first = loop.first_retrain
    if first is not None:
        assert any("probability" in r for r in first.reasons)


def test_loop_refuses_a_monitor_that_does_not_read_the_replay(tmp_path):
    replay_cfg = config(tmp_path)
    cfg = MonitorConfig(
        table=str(tmp_path / "p"), output_dir=str(tmp_path / "m"), inference_log="elsewhere",
        labels_table=str(tmp_path / "labels"), granularities=["1 month"],
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"monitor inference_log='elsewhere': expected the replay"):
        replay_monitor(replay_cfg, cfg)
    daily = cfg.model_copy(
        update={"inference_log": replay_cfg.inference_log, "granularities": ["1 day"]}
    )
    with pytest.raises(ValueError, match=r"granularities=\['1 day'\]: expected '1 month' first"):
        replay_monitor(replay_cfg, daily)


def test_month_story_serialises_dates_for_a_tasks_outputs():
    from churnops.scenarios.closed_loop import MonthStory

    story = MonthStory(
        month_end=date(1998, 1, 31), rows=3, refresh="full", labels_landed=[date(1997, 11, 30)],
        top_drift="probability", top_drift_value=0.3, estimated_roc_auc=None,
        realized_window=None, realized_roc_auc=None, retrain=False,
    )  # fmt: skip
    out = story.to_dict()
    assert out["month_end"] == "1998-01-31" and out["labels_landed"] == ["1997-11-30"]
    assert isinstance(dt.date.fromisoformat(out["month_end"]), dt.date)
