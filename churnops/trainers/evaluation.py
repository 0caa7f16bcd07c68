"""Metrics and plots for a binary churn score, the same for every model family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

# The one set of metric names: logged as `<split>/<name>` (`val/auroc`, `test/auroc`), which is
# what the checkpoint monitors, the tuner maximises and the validation gate compares.
METRICS = ("auroc", "pr_auc", "log_loss", "brier", "ece")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE: the row-weighted mean |observed rate - mean P(churn)| over equal-width bins of p."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    rows = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, y, bins) - np.bincount(which, p, bins))  # sums per bin
    return float(gap.sum() / max(len(y), 1)) if rows.any() else 0.0


def binary_metrics(y: np.ndarray, p: np.ndarray, split: str | None = None) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision), log loss, Brier score and ECE of P(churn) `p`.

    Args:
        y: 0/1 labels.
        p: P(churn) per row.
        split: prefix the names with it (`"test"` -> `test/auroc`); None: bare names.
    """
    y = np.asarray(y)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    scores = {
        "auroc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
    }
    return {f"{split}/{k}" if split else k: v for k, v in scores.items()}


def save_plots(
    y: np.ndarray,
    p: np.ndarray,
    out_dir: Path,
    title: str,
    feature_names: list[str] | None = None,
    importances: np.ndarray | None = None,
) -> list[Path]:
    """Write ROC, PR and calibration plots (and feature importance when given) as PNGs."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    def save(fig, name: str) -> None:
        path = out_dir / name
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)

    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label=f"AUC {roc_auc_score(y, p):.3f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC: {title}")
    ax.legend(loc="lower right")
    save(fig, "roc.png")

    precision, recall, _ = precision_recall_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(recall, precision, label=f"AP {average_precision_score(y, p):.3f}")
    ax.axhline(float(np.mean(y)), ls="--", color="grey")
    ax.set(xlabel="recall", ylabel="precision", title=f"PR: {title}")
    ax.legend(loc="lower left")
    save(fig, "pr.png")

    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(predicted, observed, "o-")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(
        xlabel="predicted churn rate", ylabel="observed churn rate", title=f"Calibration: {title}"
    )
    save(fig, "calibration.png")

    if importances is not None and feature_names is not None:
        order = np.argsort(importances)
        fig, ax = plt.subplots(figsize=(5.5, 0.25 * len(order) + 1))
        ax.barh([feature_names[i] for i in order], importances[order])
        ax.set(xlabel="importance", title=f"Feature importance: {title}")
        save(fig, "feature_importance.png")
    return paths
