"""`monitor_report`: a configured monitor's report, from its own tables: drift by feature and
window, score distribution by version, quality over time beside the label-free estimates, and
the A/B differences (`churnops monitor report`)."""

from __future__ import annotations

from pathlib import Path

from churnops.data.delta_tables import table_exists
from churnops.monitoring.analysis.ab import ABReport, analyze_monitor_ab
from churnops.monitoring.analysis.estimate import ESTIMATE_GRANULARITIES, window_quality
from churnops.monitoring.analysis.read import read_delta, read_predictions
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
    known = [g for g in cfg.granularities if g in ESTIMATE_GRANULARITIES]
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
