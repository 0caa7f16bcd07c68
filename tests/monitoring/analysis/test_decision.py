"""Retraining decision: no shift in 30 windows raises nothing; a shift does, with its reason;
the cooldown and a failed sample-ratio check hold it back; every decision is recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from deltalake import DeltaTable

from churnops.monitoring.analysis.decision import decide_retraining
from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.run import refresh_monitor
from tests.monitoring.synthetic_tables import baseline_for, predictions, write

NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def _monitor(tmp_path, **kw) -> MonitorConfig:
    write(tmp_path / "baseline", baseline_for(3000))
    return MonitorConfig(
        table=str(tmp_path / "preds"),
        output_dir=str(tmp_path / "out"),
        baseline_table=str(tmp_path / "baseline"),
        **kw,
    )


def test_thirty_windows_without_a_shift_raise_no_retraining(tmp_path):
    write(tmp_path / "preds", predictions(30, 300, seed=12))
    cfg = _monitor(tmp_path)
    refresh_monitor(cfg)
    decision = decide_retraining(cfg, now=NOW)
    assert decision.retrain is False and decision.reasons == []
    recorded = DeltaTable(cfg.table_path("decisions")).to_pyarrow_table().to_pylist()
    assert [r["retrain"] for r in recorded] == [False]


def test_a_shift_raises_retraining_then_cooldown_and_srm_hold_it(tmp_path):
    write(tmp_path / "preds", predictions(8, 300, shift_at=5, shift=1.5, seed=13))
    cfg = _monitor(tmp_path)
    refresh_monitor(cfg)
    first = decide_retraining(cfg, now=NOW)
    assert first.retrain is True
    assert any(r.startswith("drift: population_stability_index of f0") for r in first.reasons)
    assert not any("of f1 " in r for r in first.reasons)

    again = decide_retraining(cfg, now=NOW + dt.timedelta(days=1))
    assert again.retrain is False and again.reasons  # still drifted, but cooling down
    assert again.blocked_by[0].startswith("cooldown:")

    later = decide_retraining(cfg, now=NOW + dt.timedelta(days=30), srm_pvalue=1e-6)
    assert later.retrain is False and later.blocked_by[0].startswith("srm:")
    recorded = DeltaTable(cfg.table_path("decisions")).to_pyarrow_table().to_pylist()
    recorded.sort(key=lambda r: r["decided_at"])
    assert [r["retrain"] for r in recorded] == [True, False, False]
    assert recorded[1]["blocked_by"] == again.blocked_by


def test_decision_before_any_refresh_names_the_missing_table(tmp_path):
    cfg = MonitorConfig(table=str(tmp_path / "preds"), output_dir=str(tmp_path / "out"))
    with pytest.raises(FileNotFoundError, match=r"churn_profile_metrics.*monitor refresh"):
        decide_retraining(cfg, now=NOW)


def test_a_first_window_without_a_baseline_decides_nothing_instead_of_failing(tmp_path):
    # One window and no baseline: the drift table exists but has nothing to compare yet.
    write(tmp_path / "preds", predictions(1, 300, seed=14))
    cfg = MonitorConfig(table=str(tmp_path / "preds"), output_dir=str(tmp_path / "out"))
    refresh_monitor(cfg)
    decision = decide_retraining(cfg, now=NOW)
    assert decision.retrain is False and decision.reasons == []
