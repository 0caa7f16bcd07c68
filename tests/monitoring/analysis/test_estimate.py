"""CBPE: the estimate tracks the realized AUC on calibrated data and is suppressed otherwise."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnops.monitoring.analysis.estimate import (
    calibration_check,
    estimate_performance,
    expected_roc_auc,
    realized_roc_auc,
)


def calibrated_draw(n: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities from a Beta, labels drawn from exactly those probabilities."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(1.5 + shift, 4.0, n), 1e-6, 1 - 1e-6)
    return p, (rng.random(n) < p).astype(np.int64)


def test_expected_auc_matches_realized_auc_on_calibrated_data():
    for seed, shift in [(0, 0.0), (1, 1.0), (2, 3.0)]:
        p, y = calibrated_draw(50_000, seed, shift)
        assert expected_roc_auc(p) == pytest.approx(roc_auc_score(y, p), abs=0.01)


def test_expected_auc_of_tied_scores_is_one_half():
    assert expected_roc_auc(np.full(100, 0.3)) == pytest.approx(0.5)


def test_realized_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(3)
    p = rng.integers(0, 5, 400) / 4
    y = rng.integers(0, 2, 400)
    assert realized_roc_auc(p, y) == pytest.approx(roc_auc_score(y, p))


def test_calibration_check_passes_calibrated_and_refuses_distorted_probabilities():
    p, y = calibrated_draw(20_000, 4)
    ok = calibration_check(p, y)
    assert ok.calibrated and ok.ece < 0.02
    bad = calibration_check(p**0.3, y)  # same ranking, probabilities pushed up
    assert not bad.calibrated
    assert "not calibrated" in bad.reason and f"{bad.ece:.4f}" in bad.reason


def test_calibration_check_names_bad_input():
    with pytest.raises(ValueError, match=r"baseline_probs: expected probabilities in \[0, 1\]"):
        calibration_check([0.2, 1.5] * 10, [0, 1] * 10)
    with pytest.raises(ValueError, match=r"baseline_labels: expected 0/1 labels, got 2\.0"):
        calibration_check([0.2, 0.5] * 10, [0, 2] * 10)


def predictions_frame(p: np.ndarray, days: list[date], version: str) -> pd.DataFrame:
    n = len(p)
    d = [days[i % len(days)] for i in range(n)]
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(d).tz_localize("UTC"),
            "date": d,
            "model_version": version,
            "is_shadow": False,
            "customer_id": [f"c{i}" for i in range(n)],
            "probability": p,
        }
    )


def test_estimate_per_window_and_version_stands_beside_the_realized_value():
    days = [date(1997, 6, 30), date(1997, 7, 31)]
    p1, y1 = calibrated_draw(20_000, 5)
    p2, y2 = calibrated_draw(20_000, 6, 1.0)
    preds = pd.concat(
        [predictions_frame(p1, days, "1"), predictions_frame(p2, days, "2")], ignore_index=True
    )
    preds["customer_id"] = [f"c{i}" for i in range(len(preds))]
    y = np.concatenate([y1, y2])
    labelled = preds["date"] == days[0]  # July's labels have not landed yet
    labels = pd.DataFrame(
        {
            "customer_id": preds["customer_id"][labelled],
            "cutoff": preds["date"][labelled],
            "churn": y[labelled.to_numpy()],
        }
    )
    base_p, base_y = calibrated_draw(10_000, 7)
    out = estimate_performance(preds, calibration_check(base_p, base_y), labels)
    assert set(out["model_version"]) == {"1", "2", "*"}
    assert len(out) == 6 and out["reported"].all()
    june = out[out["window_start"] == pd.Timestamp("1997-06-01")]
    july = out[out["window_start"] == pd.Timestamp("1997-07-01")]
    assert (june["label_coverage"] == 1.0).all()
    assert (july["label_coverage"] == 0.0).all() and july["realized_roc_auc"].isna().all()
    assert (july["window_end"] == pd.Timestamp("1997-08-01")).all()
    for _, row in june.iterrows():
        assert row["estimated_roc_auc"] == pytest.approx(row["realized_roc_auc"], abs=0.02)
        assert row["estimated_churn_rate"] == pytest.approx(row["realized_churn_rate"], abs=0.02)
    assert july["estimated_roc_auc"].notna().all()


def test_uncalibrated_baseline_suppresses_the_estimate_with_a_reason():
    p, y = calibrated_draw(5_000, 8)
    preds = predictions_frame(p, [date(1997, 6, 30)], "1")
    out = estimate_performance(preds, calibration_check(p**0.3, y))
    assert not out["reported"].any()
    assert out["estimated_roc_auc"].isna().all() and out["estimated_churn_rate"].isna().all()
    assert out["reason"].str.contains("not calibrated").all()


def test_estimate_names_a_missing_column_and_a_bad_granularity():
    preds = predictions_frame(np.array([0.1, 0.2]), [date(1997, 6, 30)], "1")
    cal = calibration_check(*calibrated_draw(1000, 9))
    with pytest.raises(ValueError, match=r"predictions: lacks column\(s\) \['probability'\]"):
        estimate_performance(preds.drop(columns="probability"), cal)
    with pytest.raises(ValueError, match="granularity='1 hour': expected one of"):
        estimate_performance(preds, cal, granularity="1 hour")


def test_each_version_is_gated_by_its_own_baseline_and_all_versions_by_every_one():
    p, y = calibrated_draw(4_000, 10)
    preds = pd.concat(
        [
            predictions_frame(p, [date(1997, 6, 30)], "1"),
            predictions_frame(p, [date(1997, 6, 30)], "2"),
        ],
        ignore_index=True,
    )
    checks = {"1": calibration_check(p, y), "2": calibration_check(p**0.3, y)}
    out = estimate_performance(preds, checks).set_index("model_version")
    assert out.loc["1", "reported"] and not out.loc["2", "reported"]
    assert not out.loc["*", "reported"] and "not calibrated" in out.loc["*", "reason"]
    assert np.isnan(out.loc["2", "estimated_roc_auc"]) and out.loc["1", "estimated_roc_auc"] > 0.5
    with pytest.raises(ValueError, match=r"calibration: no check for version '2'; has \['1'\]"):
        estimate_performance(preds, {"1": checks["1"]})
