"""The monitor's predictions and labels tables as pandas, under the names the analysis reads."""

from __future__ import annotations

import pandas as pd

from churnops.data.delta_tables import open_table, read_table, table_exists
from churnops.monitoring.config import MonitorConfig


def read_delta(path: str) -> pd.DataFrame:
    """A Delta table (local or object store) as pandas; a missing table is an error naming it."""
    if not table_exists(path):
        raise FileNotFoundError(f"{path!r}: no Delta table there")
    return read_table(open_table(path)).to_pandas()


def read_predictions(cfg: MonitorConfig) -> pd.DataFrame:
    """The monitor's predictions table under the names the analysis reads (`timestamp`,
    `model_version`, `customer_id`, `probability`, `prediction`), with what a table not unpacked
    from the inference log lacks: `date` (the UTC day of `timestamp`), `is_shadow` (false) and
    `request_id` (one per row)."""
    frame = read_delta(cfg.table).rename(
        columns={
            cfg.timestamp_col: "timestamp",
            cfg.model_id_col: "model_version",
            cfg.id_col: "customer_id",
            cfg.prediction_proba_col: "probability",
            cfg.prediction_col: "prediction",
        }
    )
    if "date" not in frame:
        frame["date"] = pd.to_datetime(frame["timestamp"], utc=True).dt.date
    if "is_shadow" not in frame:
        frame["is_shadow"] = False
    if "request_id" not in frame:
        frame["request_id"] = frame.index.astype(str)
    return frame


def read_labels(cfg: MonitorConfig) -> pd.DataFrame | None:
    """The monitor's labels table under the names the analysis reads
    (`customer_id`, `cutoff`, `churn`)."""
    if not cfg.labels_table:
        return None
    return read_delta(cfg.labels_table).rename(
        columns={cfg.id_col: "customer_id", cfg.label_time_col: "cutoff", cfg.label_col: "churn"}
    )
