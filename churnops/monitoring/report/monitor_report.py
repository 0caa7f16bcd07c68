"""`monitor_report`: a configured monitor's report, from its own tables: drift by feature and
window, score distribution by version, quality over time beside the label-free estimates, and
the A/B differences (`churnops monitor report`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churnops.data.delta_tables import table_exists
from churnops.monitoring.analysis.ab import ABReport, analyze_monitor_ab
from churnops.monitoring.analysis.estimate import GRANULARITIES as ESTIMATE_WINDOWS
from churnops.monitoring.analysis.estimate import CalibrationCheck
from churnops.monitoring.analysis.read import read_delta, read_labels, read_predictions
from churnops.monitoring.config import GRANULARITIES, MonitorConfig
from churnops.monitoring.report.render import ReportFiles, log_report, render_report

# The retraining policy's drift metric -> its column (or struct field) in the drift table.
DRIFT_COLUMNS = {
    "population_stability_index": "population_stability_index",
    "js_distance": "js_distance",
    "ks_statistic": "ks_test.statistic",
}


def monitor_report(
    cfg: MonitorConfig,
    out_dir: str | Path | None = None,
    *,
    log_to_mlflow: bool = False,
    ab: ABReport | None = None,
) -> ReportFiles:
    """Write the report of `cfg` under `out_dir` (default `<output_dir>/<name>_report`).

    Drift comes from the drift table (run `refresh` first); quality and estimates need a
    baseline holding the label and the score (the estimates are suppressed where it shows the
    model uncalibrated); the A/B section needs the config's `ab`. The windows are the coarsest
    of the monitor's granularities that the estimates know (day, week, month; else a day).
    `ab` is the A/B analysis when the caller has it already (default: analysed here).
    """
    drift_path = cfg.table_path("drift_metrics")
    if not table_exists(drift_path):
        raise FileNotFoundError(
            f"monitor {cfg.name!r}: no drift table at {drift_path!r}; run `churnops monitor "
            "refresh` first"
        )
    order = list(GRANULARITIES)
    known = [g for g in cfg.granularities if g in ESTIMATE_WINDOWS]
    granularity = max(known, key=order.index, default="1 day")
    predictions = read_predictions(cfg)
    files = render_report(
        out_dir or cfg.table_path("report"),
        drift_metrics=read_delta(drift_path).rename(columns={cfg.model_id_col: "model_version"}),
        predictions=predictions,
        quality=window_quality(cfg, predictions, granularity),
        ab=ab if ab is not None or cfg.ab is None else analyze_monitor_ab(cfg),
        title=f"churnops monitor {cfg.name}",
        drift_statistic=DRIFT_COLUMNS[cfg.retrain.drift_metric],
        drift_threshold=cfg.retrain.drift_threshold,
        granularity=granularity,
    )
    if log_to_mlflow:
        log_report(files)
    return files


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
    from churnops.monitoring.analysis.estimate import estimate_performance

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
    from churnops.monitoring.analysis.estimate import calibration_check

    if not cfg.baseline_table:
        return None
    baseline = read_delta(cfg.baseline_table)
    if cfg.label_col not in baseline or cfg.prediction_proba_col not in baseline:
        return None
    return calibration_check(baseline[cfg.prediction_proba_col], baseline[cfg.label_col])
