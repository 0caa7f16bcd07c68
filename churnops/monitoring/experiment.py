"""The A/B test a monitor watches: its `ab` section applied to the predictions and labels tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churnops.data.delta_tables import read_table
from churnops.monitoring.ab import ABReport, analyze_ab
from churnops.monitoring.config import MonitorConfig


def read_delta(path: str) -> pd.DataFrame:
    """A local Delta table as pandas; a missing table is an error naming it."""
    from deltalake import DeltaTable

    if not (Path(path) / "_delta_log").is_dir():
        raise FileNotFoundError(f"{path!r}: no Delta table there")
    return read_table(DeltaTable(path)).to_pandas()


def analyze_monitor_ab(cfg: MonitorConfig, with_labels: bool = True) -> ABReport:
    """`analyze_ab` over the monitor's predictions (and labels, when it has a labels table).

    Raises:
        ValueError: the monitor has no `ab` section.
    """
    if cfg.ab is None:
        raise ValueError(
            f"monitor {cfg.name!r}: no `ab` section (control, treatment, expected_split)"
        )
    labels = None
    if with_labels and cfg.labels_table:
        labels = read_delta(cfg.labels_table).rename(
            columns={
                cfg.id_col: "customer_id",
                cfg.label_time_col: "cutoff",
                cfg.label_col: "churn",
            }
        )
    return analyze_ab(read_delta(cfg.table), labels, cfg.ab)


def split_pvalue(cfg: MonitorConfig) -> float | None:
    """The sample-ratio-mismatch p-value of the A/B split; None without an `ab` section."""
    if cfg.ab is None:
        return None
    return float(analyze_monitor_ab(cfg, with_labels=False).srm["p_value"])
