"""A/B analysis: SRM, DeLong against brute force, bootstrap coverage, verdicts."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from churnops.monitoring.analysis.ab import (
    analyze_ab,
    bootstrap_differences,
    delong_auc,
    delong_paired,
    delong_unpaired,
    sample_ratio_mismatch,
)
from churnops.monitoring.config import ABConfig
from churnops.serving.routing import TrafficRouter


def test_srm_is_pearsons_chi_square_against_the_configured_split():
    chi2, p = sample_ratio_mismatch(
        {"champion": 820, "challenger": 180}, {"champion": 80, "challenger": 20}
    )
    assert chi2 == pytest.approx(20**2 / 800 + 20**2 / 200)
    assert p == pytest.approx(stats.chi2.sf(2.5, 1))
    _, p_bad = sample_ratio_mismatch({"a": 500, "b": 500}, {"a": 0.8, "b": 0.2})
    assert p_bad < 1e-6


def test_srm_names_bad_arms_and_shares():
    with pytest.raises(ValueError, match=r"counts: arms \['a', 'c'\] differ"):
        sample_ratio_mismatch({"a": 1, "c": 2}, {"a": 0.5, "b": 0.5})
    with pytest.raises(ValueError, match=r"expected\['b'\]=0: expected a positive share"):
        sample_ratio_mismatch({"a": 1, "b": 2}, {"a": 1, "b": 0})


def brute_force_components(y, s):
    """Placements by the Mann-Whitney kernel, pair by pair (O(m n))."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def test_delong_matches_a_brute_force_mann_whitney_variance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    a = np.round(y * 0.8 + rng.normal(size=300), 1)  # rounded: ties too
    b = np.round(y * 1.2 + 0.5 * a + rng.normal(size=300), 1)
    va10, va01 = brute_force_components(y, a)
    vb10, vb01 = brute_force_components(y, b)
    m, n = len(va10), len(va01)
    auc, var = delong_auc(y, a)
    assert auc == pytest.approx(va10.mean(), abs=1e-12)
    assert var == pytest.approx(va10.var(ddof=1) / m + va01.var(ddof=1) / n, rel=1e-10)
    s10 = np.cov(np.vstack([va10, vb10]))
    s01 = np.cov(np.vstack([va01, vb01]))
    var_diff = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (
        s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]
    ) / n
    diff, se, p = delong_paired(y, a, b)
    assert diff == pytest.approx(vb10.mean() - va10.mean(), abs=1e-12)
    assert se == pytest.approx(np.sqrt(var_diff), rel=1e-10)
    assert p == pytest.approx(2 * stats.norm.sf(abs(diff) / se), rel=1e-10)
    _, se_u, _ = delong_unpaired(y, a, y, b)
    assert se_u > se  # the pairing's positive correlation is what the paired test gains


def test_clustered_delong_counts_a_customer_scored_every_month_once():
    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 200)
    a, b = y + rng.normal(size=200), 1.3 * y + rng.normal(size=200)
    ids = np.arange(200)
    _, var = delong_auc(y, a)
    _, var_once = delong_auc(y, a, clusters=ids)
    assert var_once == pytest.approx(var, rel=0.02)  # independent rows: DeLong's own
    # The same customers in four windows: four times the rows, no more information.
    y4, a4, b4, ids4 = (np.tile(v, 4) for v in (y, a, b, ids))
    _, var4 = delong_auc(y4, a4)
    _, var4_clustered = delong_auc(y4, a4, clusters=ids4)
    assert var4 < var / 3
    assert var4_clustered == pytest.approx(var_once, rel=1e-9)
    _, se, _ = delong_paired(y, a, b, clusters=ids)
    _, se4, _ = delong_paired(y4, a4, b4, clusters=ids4)
    assert se4 == pytest.approx(se, rel=1e-9)


def binormal(n, d, rng, noise=None):
    y = (rng.random(n) < 0.3).astype(np.int64)
    e = rng.normal(size=n) if noise is None else noise
    return y, 1 / (1 + np.exp(-(y * d + e - 1)))


def test_bootstrap_interval_covers_the_true_auc_difference():
    d_c, d_t = 1.0, 1.4
    truth = stats.norm.cdf(d_t / np.sqrt(2)) - stats.norm.cdf(d_c / np.sqrt(2))
    rng = np.random.default_rng(1)
    hits_paired = hits_unpaired = 0
    reps = 60
    for r in range(reps):
        n = 400
        shared = rng.normal(size=n)
        e_c = np.sqrt(0.5) * shared + np.sqrt(0.5) * rng.normal(size=n)
        e_t = np.sqrt(0.5) * shared + np.sqrt(0.5) * rng.normal(size=n)
        y = (rng.random(n) < 0.3).astype(np.int64)
        ids = [f"c{i}" for i in range(n)]
        c = pd.DataFrame(
            {"customer_id": ids, "churn": y, "probability": 1 / (1 + np.exp(-(y * d_c + e_c)))}
        )
        t = c.assign(probability=1 / (1 + np.exp(-(y * d_t + e_t))))
        draws = bootstrap_differences(c, t, paired=True, n_bootstrap=200, seed=r)
        lo, hi = np.quantile(draws["roc_auc"], [0.025, 0.975])
        hits_paired += lo <= truth <= hi
        y2, p2 = binormal(n, d_t, rng)
        t2 = pd.DataFrame({"customer_id": ids, "churn": y2, "probability": p2})
        draws = bootstrap_differences(c, t2, paired=False, n_bootstrap=200, seed=r)
        lo, hi = np.quantile(draws["roc_auc"], [0.025, 0.975])
        hits_unpaired += lo <= truth <= hi
    assert 0.87 <= hits_paired / reps <= 1.0
    assert 0.87 <= hits_unpaired / reps <= 1.0


def ab_frame(n, d_control, d_treatment, seed, split=0.8, shadow=False):
    """Predictions of `n` customers over two month ends, routed 80/20 by the server's hash."""
    rng = np.random.default_rng(seed)
    router = TrafficRouter([("champion", int(split * 100)), ("challenger", 100 - int(split * 100))])
    rows, labels = [], []
    for day in (date(1997, 6, 30), date(1997, 7, 31)):
        for i in range(n):
            cid = f"c{i}"
            y = int(rng.random() < 0.3)
            labels.append((cid, day, y))
            noise = rng.normal()
            arm = router.choose(cid)
            scored = [(arm, False)]
            if shadow and arm == "champion":
                scored.append(("challenger", True))
            for entity, is_shadow in scored:
                d = d_control if entity == "champion" else d_treatment
                p = 1 / (1 + np.exp(-(y * d + noise - 1)))
                rows.append(
                    {
                        "request_id": f"{day}-{i}-{entity}",
                        "date": day,
                        "served_entity_name": entity,
                        "is_shadow": is_shadow,
                        "model_version": "1" if entity == "champion" else "2",
                        "customer_id": cid,
                        "probability": p,
                        "prediction": int(p >= 0.5),
                    }
                )
    lab = pd.DataFrame(labels, columns=["customer_id", "cutoff", "churn"])
    return pd.DataFrame(rows), lab


CFG = {
    "control": "champion",
    "treatment": "challenger",
    "expected_split": {"champion": 80, "challenger": 20},
    "n_bootstrap": 200,
}


def test_better_challenger_is_promoted_on_unpaired_traffic():
    preds, labels = ab_frame(3000, 0.5, 2.0, seed=2)
    report = analyze_ab(preds, labels, ABConfig(**CFG))
    assert not report.srm["alarm"] and not report.paired
    assert report.verdict == "promote", report.reason
    auc = report.comparisons.set_index("metric").loc["roc_auc"]
    assert auc["ci_low"] > 0 and auc["p_value"] < 0.05
    summary = report.versions.set_index("served_entity_name")
    assert summary.loc["champion", "customers"] > 3 * summary.loc["challenger", "customers"]
    assert set(report.versions.columns) >= {
        "requests",
        "mean_score",
        "positive_rate",
        "labelled",
        "actual_churn_rate",
    }


def test_equal_models_are_inconclusive_with_labels_still_needed_and_worse_is_kept():
    preds, labels = ab_frame(1500, 1.0, 1.0, seed=3)
    report = analyze_ab(preds, labels, ABConfig(**CFG))
    assert report.verdict == "inconclusive" and report.labels_needed > 0
    assert "more labelled predictions" in report.reason
    preds, labels = ab_frame(3000, 2.0, 0.3, seed=4, shadow=True)
    report = analyze_ab(preds, labels, ABConfig(**CFG))
    assert report.paired and report.verdict == "keep", report.reason


def test_better_ranking_with_worse_probabilities_is_kept_until_recalibrated():
    preds, labels = ab_frame(3000, 0.5, 2.0, seed=13)
    challenger = preds["served_entity_name"] == "challenger"
    preds.loc[challenger, "probability"] **= 0.1  # same ranking, probabilities pushed to 1
    report = analyze_ab(preds, labels, ABConfig(**CFG))
    assert report.verdict == "keep", report.reason
    assert "probabilities are worse" in report.reason and "log_loss" in report.reason


def test_unlabelled_test_plans_the_labels_needed():
    preds, _ = ab_frame(500, 1.0, 1.2, seed=5)
    report = analyze_ab(preds, None, ABConfig(**CFG))
    assert report.verdict == "inconclusive" and report.comparisons.empty
    assert report.labels_needed > 1000


def test_sample_ratio_mismatch_gates_the_comparison():
    preds, labels = ab_frame(2000, 0.5, 2.0, seed=6, split=0.5)
    report = analyze_ab(preds, labels, ABConfig(**CFG))
    assert report.srm["alarm"] and report.srm["p_value"] < 0.001
    assert report.verdict == "keep" and "sample-ratio mismatch" in report.reason
    assert report.comparisons.empty


def test_config_names_an_arm_missing_from_the_split():
    with pytest.raises(ValueError, match="expected_split: lacks arm 'challenger'"):
        ABConfig(control="champion", treatment="challenger", expected_split={"champion": 100})
