"""A/B analysis of served versions: per-version summary, a sample-ratio-mismatch gate, AUC,
log-loss and Brier differences with customer-level bootstrap intervals, DeLong's test, a verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from churnops.monitoring.analysis.estimate import expected_roc_auc
from churnops.monitoring.analysis.read import read_labels, read_predictions
from churnops.monitoring.config import ABConfig, MonitorConfig
from churnops.monitoring.labels import join_labels

EPS = 1e-15  # log loss clips probabilities like sklearn


@dataclass
class ABReport:
    """The analysis: summary per version, the SRM gate, the comparisons and the verdict.

    Attributes:
        versions: per arm, version and shadow flag: requests, customers, rows, mean_score,
            positive_rate, labelled, actual_churn_rate.
        srm: `{"counts", "expected", "chi2", "p_value", "alarm"}` over customers per live arm.
        paired: True when the treatment shadow-scored the control's customers.
        comparisons: rows metric (roc_auc, log_loss, brier), control, treatment, difference
            (treatment - control), ci_low, ci_high, p_value (DeLong for roc_auc), n_labelled.
        verdict: `promote`, `keep` or `inconclusive`.
        reason: one sentence for the verdict.
        labels_needed: labelled predictions still needed for the power asked (inconclusive).
    """

    versions: pd.DataFrame
    srm: dict[str, Any]
    paired: bool
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdict: str = "inconclusive"
    reason: str = ""
    labels_needed: int | None = None


# ---- sample-ratio mismatch ----------------------------------------------------------------


def sample_ratio_mismatch(
    counts: dict[str, int], expected: dict[str, float]
) -> tuple[float, float]:
    """Pearson's chi-square of the observed counts per arm against the configured split.

    Args:
        counts: arm -> units observed (customers, for sticky routing).
        expected: arm -> configured share (any positive scale: 80/20 or 0.8/0.2).

    Returns:
        (chi2, p_value); a p-value below 0.001 means the split is broken.
    """
    if set(counts) != set(expected):
        raise ValueError(f"counts: arms {sorted(counts)} differ from expected's {sorted(expected)}")
    if len(counts) < 2:
        raise ValueError(f"counts: expected two or more arms, got {sorted(counts)}")
    for arm, share in expected.items():
        if not share > 0:
            raise ValueError(f"expected[{arm!r}]={share!r}: expected a positive share")
    for arm, n in counts.items():
        if n < 0:
            raise ValueError(f"counts[{arm!r}]={n!r}: expected a non-negative count")
    arms = sorted(counts)
    observed = np.array([counts[a] for a in arms], dtype=np.float64)
    shares = np.array([expected[a] for a in arms], dtype=np.float64)
    chi2, p = stats.chisquare(observed, observed.sum() * shares / shares.sum())
    return float(chi2), float(p)


# ---- DeLong ---------------------------------------------------------------------------


def _structural_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placements by midranks: V10 per positive, V01 per negative (rows: scores)."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m == 0 or n == 0:
        raise ValueError("labels: DeLong needs both churners and non-churners among the rows")
    both = stats.rankdata(np.hstack([pos, neg]), axis=1)
    v10 = (both[:, :m] - stats.rankdata(pos, axis=1)) / n
    v01 = 1.0 - (both[:, m:] - stats.rankdata(neg, axis=1)) / m
    return v10, v01


def _clustered_variance(
    y: np.ndarray, v10: np.ndarray, v01: np.ndarray, weights: np.ndarray, clusters: Any
) -> float:
    """Variance of the contrast `weights @ AUCs` when rows of one cluster are dependent.

    Each row's influence on the AUC (its placement's deviation, over the class size) is summed
    per cluster and the sums squared: rows of one customer (scored every month) count once.
    """
    m, n = v10.shape[1], v01.shape[1]
    infl = np.empty(len(y))
    infl[y == 1] = weights @ (v10 - v10.mean(axis=1, keepdims=True)) / m
    infl[y == 0] = weights @ (v01 - v01.mean(axis=1, keepdims=True)) / n
    codes, _ = pd.factorize(pd.Series(clusters))
    return float((np.bincount(codes, weights=infl) ** 2).sum())


def _delong_variance(
    y: np.ndarray, v10: np.ndarray, v01: np.ndarray, weights: np.ndarray, clusters: Any
) -> float:
    if clusters is not None:
        if len(clusters) != len(y):
            raise ValueError(f"clusters: expected {len(y)} ids (one per row), got {len(clusters)}")
        return _clustered_variance(y, v10, v01, weights, clusters)
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return float(weights @ s10 @ weights / v10.shape[1] + weights @ s01 @ weights / v01.shape[1])


def delong_auc(y: Any, scores: Any, clusters: Any = None) -> tuple[float, float]:
    """(AUC, its DeLong variance) of one score against 0/1 labels.

    Args:
        clusters: an id per row (the customer) when rows of one id are dependent; None treats
            rows as independent (DeLong's own variance).
    """
    y = np.asarray(y, dtype=np.int64)
    v10, v01 = _structural_components(y, np.asarray(scores, dtype=np.float64)[None, :])
    return float(v10[0].mean()), _delong_variance(y, v10, v01, np.array([1.0]), clusters)


def delong_paired(
    y: Any, scores_a: Any, scores_b: Any, clusters: Any = None
) -> tuple[float, float, float]:
    """DeLong's test of two scores on the same rows: (AUC_b - AUC_a, its std error, p)."""
    y = np.asarray(y, dtype=np.int64)
    s = np.vstack([np.asarray(scores_a, np.float64), np.asarray(scores_b, np.float64)])
    v10, v01 = _structural_components(y, s)
    var = _delong_variance(y, v10, v01, np.array([-1.0, 1.0]), clusters)
    diff = float(v10[1].mean() - v10[0].mean())
    return diff, *_z_test(diff, var)


def delong_unpaired(
    y_a: Any, scores_a: Any, y_b: Any, scores_b: Any, clusters_a: Any = None, clusters_b: Any = None
) -> tuple[float, float, float]:
    """DeLong's test of two scores on independent rows: (AUC_b - AUC_a, its std error, p)."""
    auc_a, var_a = delong_auc(y_a, scores_a, clusters_a)
    auc_b, var_b = delong_auc(y_b, scores_b, clusters_b)
    diff = auc_b - auc_a
    return diff, *_z_test(diff, var_a + var_b)


def _z_test(diff: float, var: float) -> tuple[float, float]:
    se = math.sqrt(max(var, 0.0))
    if se == 0:
        return 0.0, 1.0 if diff == 0 else 0.0
    return se, float(2 * stats.norm.sf(abs(diff) / se))


# ---- customer-level bootstrap --------------------------------------------------------------


def _weighted_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """roc_auc, log_loss, brier for each row of weights `w` [B, n] (resampled row counts)."""
    order = np.argsort(p, kind="stable")
    y, p, w = y[order], p[order], w[:, order]
    _, group = np.unique(p, return_inverse=True)
    groups = group.max() + 1 if len(group) else 0
    pos = np.zeros((w.shape[0], groups))
    neg = np.zeros((w.shape[0], groups))
    np.add.at(pos.T, group[y == 1], w[:, y == 1].T)
    np.add.at(neg.T, group[y == 0], w[:, y == 0].T)
    below = np.cumsum(neg, axis=1) - neg  # negatives scored strictly lower
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + 0.5 * neg)).sum(1) / (pos.sum(1) * neg.sum(1))
        pc = np.clip(p, EPS, 1 - EPS)
        loss = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        total = w.sum(1)
        return {
            "roc_auc": auc,
            "log_loss": (w * loss).sum(1) / total,
            "brier": (w * (p - y) ** 2).sum(1) / total,
        }


def _customer_weights(codes: np.ndarray, n_customers: int, rng: Any, b: int) -> np.ndarray:
    """[b, rows]: how often each row's customer was drawn in each resample."""
    draws = rng.integers(0, n_customers, size=(b, n_customers))
    flat = (draws + n_customers * np.arange(b)[:, None]).ravel()
    counts = np.bincount(flat, minlength=b * n_customers).reshape(b, n_customers)
    return counts[:, codes].astype(np.float64)


def bootstrap_differences(
    control: pd.DataFrame,
    treatment: pd.DataFrame,
    *,
    paired: bool,
    n_bootstrap: int = 1000,
    seed: int = 0,
    chunk: int = 50,
) -> dict[str, np.ndarray]:
    """Bootstrap draws of treatment - control for roc_auc, log_loss and brier.

    Customers, not rows, are resampled: a customer scored every month counts once per draw.
    Paired frames hold the same rows in the same order (one customer-day each) and share each
    draw; unpaired arms are resampled independently.

    Args:
        control, treatment: columns `customer_id`, `churn` (0/1), `probability`.
        paired: whether the two frames are row-aligned on the same customers.
    """
    rng = np.random.default_rng(seed)
    arms = []
    for frame in (control, treatment):
        codes, uniques = pd.factorize(frame["customer_id"])
        y = frame["churn"].to_numpy(dtype=np.int64)
        arms.append((codes, len(uniques), y, frame["probability"].to_numpy(np.float64)))
    out: dict[str, list[np.ndarray]] = {"roc_auc": [], "log_loss": [], "brier": []}
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        w_c = _customer_weights(arms[0][0], arms[0][1], rng, b)
        w_t = w_c if paired else _customer_weights(arms[1][0], arms[1][1], rng, b)
        mc = _weighted_metrics(arms[0][2], arms[0][3], w_c)
        mt = _weighted_metrics(arms[1][2], arms[1][3], w_t)
        for k in out:
            out[k].append(mt[k] - mc[k])
    return {k: np.concatenate(v) for k, v in out.items()}


# ---- the analysis -------------------------------------------------------------------------


def version_summary(predictions: pd.DataFrame, arm_col: str = "served_entity_name") -> pd.DataFrame:
    """Per arm, version and shadow flag: requests, customers, rows, mean score, positive rate,
    and (when `churn` is present) labelled rows and the actual churn rate."""
    keys = list(dict.fromkeys([arm_col, "model_version", "is_shadow"]))
    agg: dict[str, Any] = {
        "requests": ("request_id", "nunique"),
        "customers": ("customer_id", "nunique"),
        "rows": ("customer_id", "size"),
        "mean_score": ("probability", "mean"),
        "positive_rate": ("prediction", "mean"),
    }
    if "churn" in predictions:
        agg["labelled"] = ("churn", "count")
        agg["actual_churn_rate"] = ("churn", lambda s: s.dropna().astype(float).mean())
    return predictions.groupby(keys, sort=True).agg(**agg).reset_index()


def analyze_ab(predictions: pd.DataFrame, labels: pd.DataFrame | None, cfg: ABConfig) -> ABReport:
    """The A/B analysis of `cfg.treatment` against `cfg.control` over the predictions table.

    The SRM test over live customers per arm comes first; when it alarms the split is broken,
    nothing else is trusted and the verdict is `keep`. With labels, the treatment is compared on
    the control's own customers when it shadow-scored them (paired), else arm against arm.
    """
    needed = [cfg.arm_col, "customer_id", "probability", "prediction", "request_id"]
    missing = [c for c in [*needed, "is_shadow", "date"] if c not in predictions]
    if missing:
        raise ValueError(f"predictions: lacks column(s) {missing}; has {list(predictions.columns)}")
    frame = predictions.copy()
    frame[cfg.arm_col] = frame[cfg.arm_col].astype(str)
    if labels is not None:
        frame = join_labels(frame, labels, max_label_age_days=cfg.max_label_age_days)
    else:
        frame["churn"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    live = frame[~frame["is_shadow"].astype(bool)]
    counts = {
        arm: int(live.loc[live[cfg.arm_col] == arm, "customer_id"].nunique())
        for arm in cfg.expected_split
    }
    chi2, p = sample_ratio_mismatch(counts, cfg.expected_split)
    srm = {
        "counts": counts,
        "expected": cfg.expected_split,
        "chi2": chi2,
        "p_value": p,
        "alarm": p < cfg.srm_alpha,
    }
    shadow = frame[frame["is_shadow"].astype(bool) & (frame[cfg.arm_col] == cfg.treatment)]
    paired = len(shadow) > 0
    report = ABReport(version_summary(frame, cfg.arm_col), srm, paired)
    if srm["alarm"]:
        report.verdict = "keep"
        report.reason = (
            f"sample-ratio mismatch: customers per arm {counts} against split "
            f"{cfg.expected_split} (chi2={chi2:.1f}, p={p:.2g} < {cfg.srm_alpha}); the split is "
            "broken, so no comparison is trusted"
        )
        return report
    control, treatment = _arms(live, shadow, cfg, paired)
    if paired:  # both sides of a pair share one label: keep the labelled pairs
        labelled = control["churn"].notna().to_numpy()
        control, treatment = control[labelled], treatment[labelled]
    else:
        control = control[control["churn"].notna()]
        treatment = treatment[treatment["churn"].notna()]
    if not (_both_classes(control) and _both_classes(treatment)):
        n = len(control) + len(treatment)
        report.labels_needed = _labels_needed_unlabelled(live, cfg, paired)
        report.reason = (
            f"{n} labelled predictions do not hold both classes in each arm yet; about "
            f"{report.labels_needed} labelled predictions are needed to detect an AUC "
            f"difference of {cfg.min_effect} with power {cfg.power}"
        )
        return report
    report.comparisons = _compare(control, treatment, cfg, paired)
    _decide(report, cfg, n_labelled=len(control) + (0 if paired else len(treatment)))
    return report


def _arms(
    live: pd.DataFrame, shadow: pd.DataFrame, cfg: ABConfig, paired: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = ["customer_id", "date", "probability", "churn"]
    control = live.loc[live[cfg.arm_col] == cfg.control, cols]
    if not paired:
        return control, live.loc[live[cfg.arm_col] == cfg.treatment, cols]
    # One customer-day per row on both sides: the latest score of that day wins.
    key = ["customer_id", "date"]
    control = control.drop_duplicates(key, keep="last")
    both = control.merge(
        shadow[cols].drop_duplicates(key, keep="last"), on=key, suffixes=("_c", "_t")
    )
    c = both[[*key, "probability_c", "churn_c"]].set_axis(cols, axis=1)
    t = both[[*key, "probability_t", "churn_t"]].set_axis(cols, axis=1)
    return c.reset_index(drop=True), t.reset_index(drop=True)


def _both_classes(frame: pd.DataFrame) -> bool:
    return frame["churn"].nunique() == 2


def _compare(
    control: pd.DataFrame, treatment: pd.DataFrame, cfg: ABConfig, paired: bool
) -> pd.DataFrame:
    yc, pc = control["churn"].to_numpy(np.int64), control["probability"].to_numpy(np.float64)
    yt, pt = treatment["churn"].to_numpy(np.int64), treatment["probability"].to_numpy(np.float64)
    # Customers scored in several windows are one cluster each, as in the bootstrap.
    if paired:
        _, se, p_auc = delong_paired(yc, pc, pt, control["customer_id"])
    else:
        _, se, p_auc = delong_unpaired(
            yc, pc, yt, pt, control["customer_id"], treatment["customer_id"]
        )
    draws = bootstrap_differences(
        control, treatment, paired=paired, n_bootstrap=cfg.n_bootstrap, seed=cfg.seed
    )
    ones_c, ones_t = np.ones((1, len(yc))), np.ones((1, len(yt)))
    point_c = _weighted_metrics(yc, pc, ones_c)
    point_t = _weighted_metrics(yt, pt, ones_t)
    rows = []
    for metric in ("roc_auc", "log_loss", "brier"):
        c, t = float(point_c[metric][0]), float(point_t[metric][0])
        lo, hi = np.nanquantile(draws[metric], [cfg.alpha / 2, 1 - cfg.alpha / 2])
        rows.append(
            {
                "metric": metric,
                "control": c,
                "treatment": t,
                "difference": t - c,
                "ci_low": float(lo),
                "ci_high": float(hi),
                "p_value": p_auc if metric == "roc_auc" else np.nan,
                "std_error": se if metric == "roc_auc" else float(np.nanstd(draws[metric])),
                "n_control": len(yc),
                "n_treatment": len(yt),
            }
        )
    return pd.DataFrame(rows)


def _decide(report: ABReport, cfg: ABConfig, n_labelled: int) -> None:
    auc = report.comparisons.set_index("metric").loc["roc_auc"]
    diff, lo, hi, p = auc["difference"], auc["ci_low"], auc["ci_high"], auc["p_value"]
    table = report.comparisons.set_index("metric")
    # Log loss and Brier: lower is better, so an interval above zero is significantly worse.
    worse = [m for m in ("log_loss", "brier") if table.loc[m, "ci_low"] > 0]
    if p < cfg.alpha and lo > 0 and worse:
        report.verdict = "keep"
        report.reason = (
            f"{cfg.treatment} ranks churners better (AUC +{diff:.4f} [{lo:.4f}, {hi:.4f}], "
            f"DeLong p={p:.2g}) but its probabilities are worse ("
            + ", ".join(f"{m} +{table.loc[m, 'difference']:.4f}" for m in worse)
            + "); recalibrate it before promoting"
        )
    elif p < cfg.alpha and lo > 0:
        report.verdict = "promote"
        report.reason = (
            f"{cfg.treatment} ranks churners better: AUC +{diff:.4f} "
            f"[{lo:.4f}, {hi:.4f}], DeLong p={p:.2g}"
        )
    elif p < cfg.alpha and hi < 0:
        report.verdict = "keep"
        report.reason = (
            f"{cfg.treatment} ranks churners worse: AUC {diff:.4f} [{lo:.4f}, {hi:.4f}], "
            f"DeLong p={p:.2g}"
        )
    else:
        effect = max(abs(diff), cfg.min_effect)
        z = stats.norm.ppf(1 - cfg.alpha / 2) + stats.norm.ppf(cfg.power)
        # The standard error shrinks as 1/sqrt(n): solve for the n that makes z * se = effect.
        needed = n_labelled * (z * auc["std_error"] / effect) ** 2
        report.labels_needed = max(0, math.ceil(needed - n_labelled))
        report.verdict = "inconclusive"
        report.reason = (
            f"AUC difference {diff:+.4f} [{lo:.4f}, {hi:.4f}], DeLong p={p:.2g}: not "
            f"significant at {cfg.alpha}; about {report.labels_needed} more labelled "
            f"predictions to detect {effect:.4f} with power {cfg.power}"
        )


def _labels_needed_unlabelled(live: pd.DataFrame, cfg: ABConfig, paired: bool) -> int:
    """Labels needed before any land, planned from the scores alone (CBPE's expected AUC and
    churn rate) with Hanley and McNeil's variance of an AUC."""
    p = live["probability"].to_numpy(np.float64)
    auc = expected_roc_auc(p) if len(p) else 0.75
    auc = 0.75 if not 0.5 < auc < 1 else auc
    rate = float(np.clip(p.mean() if len(p) else 0.5, 0.01, 0.99))
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    # Per labelled prediction: var(AUC) ~ this / n for large n.
    unit = (q1 - auc**2) / rate + (q2 - auc**2) / (1 - rate)
    arms = 1.0 if paired else 2.0  # a paired difference's variance is at most one AUC's worth
    z = stats.norm.ppf(1 - cfg.alpha / 2) + stats.norm.ppf(cfg.power)
    return math.ceil(arms * unit * (z / cfg.min_effect) ** 2)


def analyze_monitor_ab(cfg: MonitorConfig, with_labels: bool = True) -> ABReport:
    """`analyze_ab` over the monitor's predictions (and labels, when it has a labels table).

    Raises:
        ValueError: the monitor has no `ab` section.
    """
    if cfg.ab is None:
        raise ValueError(
            f"monitor {cfg.name!r}: no `ab` section (control, treatment, expected_split)"
        )
    labels = read_labels(cfg) if with_labels else None
    return analyze_ab(read_predictions(cfg), labels, cfg.ab)


def split_pvalue(cfg: MonitorConfig) -> float | None:
    """The sample-ratio-mismatch p-value of the A/B split; None without an `ab` section."""
    if cfg.ab is None:
        return None
    return float(analyze_monitor_ab(cfg, with_labels=False).srm["p_value"])
