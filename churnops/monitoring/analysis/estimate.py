"""Label-free performance estimates (confidence-based, as NannyML's CBPE): expected ROC AUC and
churn rate from calibrated probabilities, per window and version, beside the realized values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnops.monitoring.analysis.read import read_delta, read_labels
from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.labels import join_labels
from churnops.monitoring.windows import next_start, window_start
from churnops.trainers.evaluation import expected_calibration_error

ALL_VERSIONS = "*"  # the metric tables' model id for every version together
ESTIMATE_GRANULARITIES = (
    "1 day",
    "1 week",
    "1 month",
)  # the windows the estimates are reported for


@dataclass(frozen=True)
class CalibrationCheck:
    """Whether the baseline shows the model calibrated, so CBPE's estimates may be reported.

    Attributes:
        calibrated: True when `ece <= max_ece`.
        ece: expected calibration error on equal-frequency bins of the baseline.
        max_ece: the level it was held to.
        bins: number of bins used.
        reason: a sentence saying why the estimate is (not) reported.
    """

    calibrated: bool
    ece: float
    max_ece: float
    bins: int
    reason: str


def calibration_check(
    baseline_probs: Any, baseline_labels: Any, max_ece: float = 0.05, bins: int = 10
) -> CalibrationCheck:
    """Expected calibration error of the baseline (the training set with the model's scores).

    CBPE reads a probability of 0.3 as "3 in 10 of these churn"; that only holds for a calibrated
    model, so an estimate is reported only when the baseline's ECE is at most `max_ece`.
    """
    p = _probabilities(baseline_probs, "baseline_probs")
    y = _binary(baseline_labels, "baseline_labels")
    if len(p) != len(y):
        raise ValueError(
            f"baseline_labels: expected {len(p)} labels (one per probability), got {len(y)}"
        )
    if len(p) < bins:
        raise ValueError(f"baseline_probs: expected at least bins={bins} rows, got {len(p)}")
    ece = expected_calibration_error(y, p, bins)  # the ECE training logs and the gate judges
    ok = ece <= max_ece
    reason = (
        f"baseline ECE {ece:.4f} <= {max_ece}: calibrated, estimates reported"
        if ok
        else f"baseline ECE {ece:.4f} > {max_ece}: the model is not calibrated, so its "
        "probabilities cannot stand in for labels; estimates suppressed"
    )
    return CalibrationCheck(ok, ece, max_ece, bins, reason)


def expected_roc_auc(probs: Any) -> float:
    """ROC AUC expected when each row churns with its own predicted probability.

    CBPE's construction: walking the thresholds from the top score down, a row adds `p` expected
    true positives and `1 - p` expected false positives; the expected ROC curve's area, with
    tied scores taken as one step (a diagonal segment, like the realized AUC's half credit).
    """
    p = _probabilities(probs, "probs")
    if len(p) == 0:
        return float("nan")
    scores, inverse = np.unique(-p, return_inverse=True)  # descending score groups
    tp = np.bincount(inverse, weights=p, minlength=len(scores))
    fp = np.bincount(inverse, weights=1.0 - p, minlength=len(scores))
    if tp.sum() <= 0 or fp.sum() <= 0:
        return float("nan")
    tpr = np.concatenate([[0.0], np.cumsum(tp) / tp.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(fp) / fp.sum()])
    return float(np.trapezoid(tpr, fpr))


def realized_roc_auc(probs: Any, labels: Any) -> float:
    """ROC AUC against labels (Mann-Whitney, ties half); NaN when one class is absent."""
    p = _probabilities(probs, "probs")
    y = _binary(labels, "labels")
    n1, n0 = int(y.sum()), int(len(y) - y.sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def estimate_performance(
    predictions: pd.DataFrame,
    calibration: CalibrationCheck | dict[str, CalibrationCheck],
    labels: pd.DataFrame | None = None,
    *,
    granularity: str = "1 month",
    model_id_col: str = "model_version",
    timestamp_col: str = "timestamp",
    include_shadow: bool = False,
    max_label_age_days: int | None = None,
) -> pd.DataFrame:
    """CBPE estimates per window and version (and `'*'` for all), beside realized values.

    Args:
        predictions: the predictions table (one row per scored customer) as pandas.
        calibration: `calibration_check` on the baseline, or one per version (model id ->
            check; the `'*'` rows are reported only when every version's check passes). Where
            a check fails the estimates are NaN and `reason` says why.
        labels: the labels table (`customer_id`, `cutoff`, `churn`), or None before any label
            lands.
        granularity: window length, `1 day | 1 week | 1 month`.
        model_id_col: the column naming the version.
        timestamp_col: when each prediction was made.
        include_shadow: also count shadow predictions (the same customers scored twice).
        max_label_age_days: see `churnops.monitoring.labels`.

    Returns:
        One row per (window_start, window_end, model id): `count`, `estimated_roc_auc`,
        `estimated_churn_rate`, `labelled_count`, `label_coverage`, `realized_roc_auc`,
        `realized_churn_rate` (NaN where no label has landed), `reported`, `reason`.
    """
    if granularity not in ESTIMATE_GRANULARITIES:
        raise ValueError(
            f"granularity={granularity!r}: expected one of {', '.join(ESTIMATE_GRANULARITIES)}"
        )
    _require(predictions, [timestamp_col, model_id_col, "probability"], "predictions")
    frame = (
        predictions
        if include_shadow or "is_shadow" not in predictions
        else (predictions[~predictions["is_shadow"].astype(bool)])
    )
    if labels is not None:
        frame = join_labels(frame, labels, max_label_age_days=max_label_age_days)
    else:
        frame = frame.assign(churn=pd.array([pd.NA] * len(frame), dtype="Int64"))
    frame = frame.assign(
        __w=window_start(frame[timestamp_col], granularity).to_numpy(),
        __v=frame[model_id_col].astype(str),  # the '*' rows' own versions, for their gate
    )
    both = pd.concat([frame, frame.assign(**{model_id_col: ALL_VERSIONS})], ignore_index=True)
    rows = []
    for (start, model_id), g in both.groupby(["__w", model_id_col], sort=True):
        p = g["probability"].to_numpy(dtype=np.float64)
        known = g["churn"].notna().to_numpy()
        y = g["churn"][known].to_numpy(dtype=np.int64)
        check = _check_for(calibration, str(model_id), g["__v"])
        ok = check.calibrated
        rows.append(
            {
                "window_start": start,
                "window_end": next_start(start, granularity),
                model_id_col: str(model_id),
                "count": len(g),
                "estimated_roc_auc": expected_roc_auc(p) if ok else np.nan,
                "estimated_churn_rate": float(p.mean()) if ok else np.nan,
                "labelled_count": int(known.sum()),
                "label_coverage": float(known.mean()),
                "realized_roc_auc": realized_roc_auc(p[known], y) if len(y) else np.nan,
                "realized_churn_rate": float(y.mean()) if len(y) else np.nan,
                "reported": ok,
                "reason": check.reason,
            }
        )
    return pd.DataFrame(rows)


def window_quality(
    cfg: MonitorConfig,
    predictions: pd.DataFrame,
    granularity: str,
    calibration: CalibrationCheck | None = None,
) -> pd.DataFrame | None:
    """`estimate_performance` per window and version: realized quality where labels landed, the
    label-free estimate (when the baseline shows the model calibrated), label coverage; None
    without a baseline holding the label and the score.

    Args:
        calibration: `baseline_calibration(cfg)` when the caller has it (default: read here).
    """
    check = calibration or baseline_calibration(cfg)
    if check is None:
        return None
    return estimate_performance(
        predictions,
        check,
        read_labels(cfg),
        granularity=granularity,
        max_label_age_days=cfg.max_label_age_days,
    )


def baseline_calibration(cfg: MonitorConfig) -> CalibrationCheck | None:
    """Whether the baseline shows the model calibrated (so the estimates may be reported); None
    without a baseline holding the label and the score."""
    if not cfg.baseline_table:
        return None
    baseline = read_delta(cfg.baseline_table)
    if cfg.label_col not in baseline or cfg.prediction_proba_col not in baseline:
        return None
    return calibration_check(baseline[cfg.prediction_proba_col], baseline[cfg.label_col])


def _check_for(
    calibration: CalibrationCheck | dict[str, CalibrationCheck], model_id: str, ids: pd.Series
) -> CalibrationCheck:
    """The check that gates one group's estimates (for `'*'`: the first failing version's)."""
    if isinstance(calibration, CalibrationCheck):
        return calibration
    if model_id != ALL_VERSIONS:
        if model_id not in calibration:
            raise ValueError(
                f"calibration: no check for version {model_id!r}; has {sorted(calibration)}"
            )
        return calibration[model_id]
    versions = sorted(set(ids.astype(str)) - {ALL_VERSIONS})
    checks = [_check_for(calibration, v, ids) for v in versions]
    return next((c for c in checks if not c.calibrated), checks[0])


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: lacks column(s) {missing}; has {list(frame.columns)}")


def _probabilities(values: Any, name: str) -> np.ndarray:
    p = np.asarray(values, dtype=np.float64)
    bad = ~((p >= 0) & (p <= 1))
    if bad.any():
        raise ValueError(f"{name}: expected probabilities in [0, 1], got {float(p[bad][0])!r}")
    return p


def _binary(values: Any, name: str) -> np.ndarray:
    y = np.asarray(values, dtype=np.float64)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name}: expected 0/1 labels, got {float(y[bad][0])!r}")
    return y.astype(np.int64)
