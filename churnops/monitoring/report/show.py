"""Small readable views of the metric tables for `churnops monitor show` and the demo."""

from __future__ import annotations

from typing import Any

from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.tables import (
    TABLE_ROW,
    drift_schema,
    profile_schema,
    read_or_empty,
)


def latest_quality(cfg: MonitorConfig, windows: int = 5) -> list[dict[str, Any]]:
    """Per version, the latest windows' ':table' rows: rows, share labelled, AUC, log loss."""
    t = read_or_empty(cfg.table_path("profile_metrics"), profile_schema(cfg.model_id_col))
    rows = [
        r
        for r in t.to_pylist()
        if r["column_name"] == TABLE_ROW
        and r["slice_key"] is None
        and r["log_type"] == "INPUT"
        and r["granularity"] == cfg.granularities[0]
    ]
    starts = sorted({r["window"]["start"] for r in rows})[-windows:]
    out = []
    for r in sorted(rows, key=lambda r: (r["window"]["start"], r[cfg.model_id_col])):
        if r["window"]["start"] in starts:
            out.append(
                {
                    "window": r["window"]["start"].date().isoformat(),
                    "version": r[cfg.model_id_col],
                    "rows": r["count"],
                    "% labelled": r["percent_labelled"],
                    "roc_auc": r["roc_auc_score"],
                    "log_loss": r["log_loss"],
                    "brier": r["brier_score"],
                    "calibration_error": r["expected_calibration_error"],
                }
            )
    return out


def latest_drift(cfg: MonitorConfig, windows: int = 5) -> list[dict[str, Any]]:
    """Per column, BASELINE drift of the latest windows (all versions, whole table)."""
    t = read_or_empty(cfg.table_path("drift_metrics"), drift_schema(cfg.model_id_col))
    rows = [
        r
        for r in t.to_pylist()
        if r["drift_type"] == "BASELINE"
        and r["slice_key"] is None
        and r[cfg.model_id_col] == "*"
        and r["granularity"] == cfg.granularities[0]
    ]
    starts = sorted({r["window"]["start"] for r in rows})[-windows:]
    out = []
    for r in sorted(rows, key=lambda r: (r["column_name"], r["window"]["start"])):
        if r["window"]["start"] in starts:
            ks = r["ks_test"] or {}
            out.append(
                {
                    "column": r["column_name"],
                    "window": r["window"]["start"].date().isoformat(),
                    "ks": ks.get("statistic"),
                    "psi": r["population_stability_index"],
                    "wasserstein": r["wasserstein_distance"],
                    "js": r["js_distance"],
                }
            )
    return out
