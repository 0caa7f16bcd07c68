"""Model quality per window and version once labels land: joined and binned in the engine.

Predictions come joined to their labels (`churnops.monitoring.labels.join_labels_query`). The
engine counts labelled rows per fine probability bin and label, with the sums log loss, Brier and
calibration need; ROC/PR AUC and the rest come from those counts here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from churnops.data.engines.api import dataframe_api

PROB_BINS = 10_000  # probability resolution of the AUCs: ties only within 1e-4
CLIP = 1e-15  # log loss clips probabilities like sklearn's


def quality_bins_query(df: Any, keys: list[str], proba_col: str, pred_col: str) -> Any:
    """Per (keys..., `_pbin`, `_label`): rows, sum of p, log-loss and Brier sums, predicted 1s."""
    F, _ = dataframe_api(df)
    p = F.col(proba_col).cast("double")
    y = F.col("_label").cast("double")
    pc = F.least(F.greatest(p, F.lit(CLIP)), F.lit(1 - CLIP))
    labelled = df.where(F.col("_label").isNotNull() & p.isNotNull())
    binned = labelled.select(
        *keys,
        F.col("_label").cast("long").alias("_label"),
        F.least(F.floor(p * PROB_BINS), F.lit(PROB_BINS - 1)).cast("long").alias("_pbin"),
        p.alias("_p"),
        (-(y * F.log(pc) + (F.lit(1.0) - y) * F.log(F.lit(1.0) - pc))).alias("_ll"),
        ((p - y) * (p - y)).alias("_brier"),
        F.col(pred_col).cast("long").alias("_pred"),
    )
    out = binned.groupBy(*keys, "_pbin", "_label").agg(
        F.count(F.lit(1)).alias("n"),
        F.sum("_p").alias("sum_p"),
        F.sum("_ll").alias("sum_ll"),
        F.sum("_brier").alias("sum_brier"),
        F.sum("_pred").cast("long").alias("pred_pos"),
    )
    return out


def quality_metrics(bins: dict[str, np.ndarray], calibration_bins: int) -> dict[str, Any]:
    """The ':table' row's quality columns from one group's bins (arrays keyed as quality_bins)."""
    n = bins["n"].sum()
    if n == 0:
        return {}
    pos = bins["_label"] == 1
    # Counts per probability bin for each class, ascending score.
    npos = np.bincount(bins["_pbin"][pos], bins["n"][pos], PROB_BINS)
    nneg = np.bincount(bins["_pbin"][~pos], bins["n"][~pos], PROB_BINS)
    P, N = npos.sum(), nneg.sum()
    tp = bins["pred_pos"][pos].sum()
    fp = bins["pred_pos"][~pos].sum()
    fn, tn = P - tp, N - fp
    roc_auc = pr_auc = math.nan
    if P and N:
        # AUC = P(score+ > score-) + P(tie) / 2, ties being the same fine bin.
        below = np.cumsum(nneg) - nneg
        roc_auc = float((npos * (below + 0.5 * nneg)).sum() / (P * N))
        # Average precision over thresholds at each bin, highest score first.
        tps, fps = np.cumsum(npos[::-1]), np.cumsum(nneg[::-1])
        prec = np.divide(tps, tps + fps, out=np.zeros_like(tps), where=(tps + fps) > 0)
        pr_auc = float(np.sum(np.diff(np.concatenate([[0.0], tps / P])) * prec))
    cal = expected_calibration_error_of_bins(bins, calibration_bins)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, P)
    f1 = _ratio(2 * precision * recall, precision + recall) if precision == precision else math.nan

    def per_class(v1: float, v0: float, w1: float) -> dict[str, Any]:
        return {
            "one_vs_all": {"0": v0, "1": v1},
            "macro": (v0 + v1) / 2,
            "weighted": w1 * v1 + (1 - w1) * v0,
        }

    prec0, rec0 = _ratio(tn, tn + fn), _ratio(tn, N)
    f10 = _ratio(2 * prec0 * rec0, prec0 + rec0)
    return {
        "accuracy_score": float((tp + tn) / n),
        "precision": per_class(precision, prec0, P / n),
        "recall": per_class(recall, rec0, P / n),
        "f1_score": per_class(f1, f10, P / n),
        "confusion_matrix": [
            {"prediction": "0", "label": "0", "count": int(tn)},
            {"prediction": "1", "label": "0", "count": int(fp)},
            {"prediction": "0", "label": "1", "count": int(fn)},
            {"prediction": "1", "label": "1", "count": int(tp)},
        ],
        "roc_auc_score": roc_auc,
        "pr_auc_score": pr_auc,
        "log_loss": float(bins["sum_ll"].sum() / n),
        "brier_score": float(bins["sum_brier"].sum() / n),
        "expected_calibration_error": cal,
        "label_rate": float(P / n),
        "num_labelled": int(n),
    }


def expected_calibration_error_of_bins(bins: dict[str, np.ndarray], k: int) -> float:
    """`churnops.trainers.evaluation.expected_calibration_error` (`k` equal-width bins of p), read
    off the engine's fine probability bins instead of the rows.

    The same number as at training when `k` divides `PROB_BINS` (10, the default, 20, 25, ...);
    for another `k`, a fine bin straddling a coarse edge counts in the lower coarse bin.
    """
    coarse = np.minimum(bins["_pbin"] * k // PROB_BINS, k - 1)
    n = np.bincount(coarse, bins["n"], k)
    sum_p = np.bincount(coarse, bins["sum_p"], k)
    sum_y = np.bincount(coarse, bins["n"] * (bins["_label"] == 1), k)
    used = n > 0
    return float(np.sum(np.abs(sum_p[used] - sum_y[used])) / n.sum())


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else math.nan
