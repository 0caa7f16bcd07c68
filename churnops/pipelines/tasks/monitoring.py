"""`monitor_refresh`: unpack the inference log, refresh the monitor's tables, decide whether to
retrain. `monitor_replay`: the same loop replayed month by month over a scored history."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from churnops.config import StrictConfig
from churnops.data.storage import join
from churnops.monitoring.config import ABConfig, MonitorConfig
from churnops.pipelines.tasks.base import RunInputs


class MonitorRefreshInputs(RunInputs):
    monitor: str = "churn"  # configs/monitor/<name>.yaml, or a YAML path
    overrides: list[str] = Field(default_factory=list)  # monitor config `a.b=value`
    inference_log: str | None = None  # the serving log to unpack; None: the config's
    # What `inference_log` is: churnops' serving log (`churnops serve`) or the payload table a
    # Databricks Model Serving endpoint writes (legacy or AI Gateway-enabled inference table).
    # Unpacking reads either by its columns; a log of the other kind, or one missing a column,
    # is refused before anything is written.
    inference_log_format: Literal["churnops", "databricks_payload"] = "churnops"
    training_set: str | None = None  # with model_uri: the baseline, scored once
    model_uri: str | None = None
    labels_table: str | None = None  # Delta: customer_id, cutoff, churn
    ab: ABConfig | None = None  # the split under test (None: the config's); its SRM gates
    full: bool = False
    report: bool = True  # the plots and the HTML page, logged to MLflow
    # A Unity Catalog name (catalog.schema.table): the predictions Delta table is registered
    # under it (CREATE TABLE IF NOT EXISTS ... LOCATION) through the job cluster's Spark
    # session, for a quality monitor to watch; `tables_root` must then be an external location.
    predictions_table: str | None = None

    @model_validator(mode="after")
    def _registrable(self) -> MonitorRefreshInputs:
        # Checked before any work: a table that cannot be registered fails the task up front.
        if self.predictions_table is not None:
            from churnops.pipelines.databricks.unity_catalog import (
                check_external_location,
                check_table_name,
            )

            check_table_name("predictions_table", self.predictions_table)
            check_external_location("tables_root", self.tables_root or self.workdir)
        return self


class MonitorRefreshOutputs(StrictConfig):
    predictions: str
    profile_metrics: str
    drift_metrics: str
    mode: str  # full | incremental | unchanged
    windows: int
    unpacked_rows: int
    srm_pvalue: float | None
    retrain: bool  # the job's condition task reads this
    reasons: list[str]
    blocked_by: list[str]
    report: str | None  # the HTML page, when written
    predictions_table: str | None  # the Unity Catalog name the predictions are registered under


def monitor_refresh(inputs: MonitorRefreshInputs) -> MonitorRefreshOutputs:
    """The monitor's tables under `<tables_root or workdir>/monitoring/`, then the retraining
    decision; the report stays under `<workdir>/monitoring/report` (and goes to MLflow)."""
    from churnops.data.delta_tables import table_exists
    from churnops.monitoring.analysis.ab import split_pvalue
    from churnops.monitoring.analysis.decision import decide_retraining
    from churnops.monitoring.refresh.baseline import write_baseline
    from churnops.monitoring.refresh.run import refresh_monitor

    catalog = None
    if inputs.predictions_table:  # before any work: no session, nothing to register it with
        from churnops.pipelines.databricks.unity_catalog import catalog_session

        catalog = catalog_session(inputs.predictions_table)
    inputs.use_tracking()
    folder = inputs.table_path("monitoring")
    where = [f"table={join(folder, 'predictions')}", f"output_dir={folder}"]
    if inputs.inference_log:
        from churnops.monitoring.refresh.unpack import check_inference_log

        check_inference_log(inputs.inference_log, inputs.inference_log_format)
        where.append(f"inference_log={inputs.inference_log}")
    if inputs.labels_table:
        where.append(f"labels_table={inputs.labels_table}")
    baseline = join(folder, "baseline")
    if inputs.training_set and inputs.model_uri:
        where.append(f"baseline_table={baseline}")
    cfg = _monitor_config(inputs.monitor, [*where, *inputs.overrides], inputs.ab)
    if inputs.training_set and inputs.model_uri and not table_exists(baseline):
        write_baseline(inputs.training_set, inputs.model_uri, baseline)
    result = refresh_monitor(cfg, full=inputs.full)
    registered = None
    if inputs.predictions_table and table_exists(cfg.table):  # nothing unpacked yet: next run
        from churnops.pipelines.databricks.unity_catalog import register_external_table

        register_external_table(inputs.predictions_table, cfg.table, catalog)
        registered = inputs.predictions_table
    srm = split_pvalue(cfg)
    decision = decide_retraining(cfg, srm_pvalue=srm)
    page = None
    if inputs.report:
        from churnops.monitoring.report.monitor_report import monitor_report

        report = Path(inputs.workdir) / "monitoring" / "report"
        page = str(monitor_report(cfg, report, log_to_mlflow=True).html)
    return MonitorRefreshOutputs(
        predictions=cfg.table,
        profile_metrics=cfg.table_path("profile_metrics"),
        drift_metrics=cfg.table_path("drift_metrics"),
        mode=result.mode,
        windows=result.windows,
        unpacked_rows=result.unpacked_rows,
        srm_pvalue=srm,
        retrain=decision.retrain,
        reasons=decision.reasons,
        blocked_by=decision.blocked_by,
        report=page,
        predictions_table=registered,
    )


class MonitorReplayInputs(RunInputs):
    replay: str = "replay_cdnow"  # configs/monitor/<name>.yaml, or a YAML path
    replay_overrides: list[str] = Field(default_factory=list)  # replay config `a.b=value`
    start: date | None = None  # the first and last month end replayed (None: the replay's)
    end: date | None = None
    horizon_days: int | None = Field(default=None, gt=0)  # the labels' (None: the replay's)
    # Each arm serves this registered model's alias of the arm's name (`models:/<name>@champion`);
    # None: the replay config's model URIs.
    model_name: str | None = None
    monitor: str = "churn"  # configs/monitor/<name>.yaml, or a YAML path
    overrides: list[str] = Field(default_factory=list)  # monitor config `a.b=value`
    training_set: str  # with model_uri: the baseline, scored once
    model_uri: str = "models:/churnops_churn@champion"
    ab: ABConfig | None = None  # the split under test (None: the config's)
    report: bool = True  # the plots and the HTML page, logged to MLflow


class MonitorReplayOutputs(StrictConfig):
    months: list[dict]  # one story line per month end (churnops.scenarios.closed_loop)
    windows: int
    labelled_windows: int
    predictions: str
    profile_metrics: str
    drift_metrics: str
    retrain: bool  # the last month's decision: the job's condition task reads this
    reasons: list[str]
    blocked_by: list[str]
    first_retrain: str | None  # the first month end whose decision was to retrain
    retrain_as_of: str | None  # the latest month end whose labels landed: what to train on
    ab_verdict: str | None
    ab_reason: str | None
    ab_roc_auc: dict | None  # difference, ci_low, ci_high, p_value of treatment - control
    report: str | None


def monitor_replay(inputs: MonitorReplayInputs) -> MonitorReplayOutputs:
    """Replay the served versions month by month into an inference log under
    `<tables_root or workdir>/replay/`, refresh the monitor and decide after each month
    (`churnops.scenarios.closed_loop`), then analyse the A/B split and write the report."""
    from churnops.config import load_config
    from churnops.monitoring.refresh.baseline import write_baseline
    from churnops.scenarios.closed_loop import replay_monitor
    from churnops.scenarios.replay import ReplayConfig

    inputs.use_tracking()
    folder = inputs.table_path("monitoring")
    log = inputs.table_path("replay", "inference_log")
    labels = inputs.table_path("replay", "labels")
    replay_cfg = load_config(
        ReplayConfig, _monitor_yaml(inputs.replay),
        [f"inference_log={log}", f"labels={labels}", "predictions=null",
         *[f"{k}={v}" for k in ("start", "end", "horizon_days")
           if (v := getattr(inputs, k)) is not None],
         *inputs.replay_overrides],
    )  # fmt: skip
    if inputs.model_name:
        arms = [
            a.model_copy(update={"model_uri": f"models:/{inputs.model_name}@{a.name}"})
            for a in replay_cfg.arms
        ]
        replay_cfg = replay_cfg.model_copy(update={"arms": arms})
    baseline = join(folder, "baseline")
    cfg = _monitor_config(
        inputs.monitor,
        [f"table={join(folder, 'predictions')}", f"output_dir={folder}",
         f"inference_log={log}", f"labels_table={labels}", f"baseline_table={baseline}",
         *inputs.overrides],
        inputs.ab,
    )  # fmt: skip
    write_baseline(inputs.training_set, inputs.model_uri, baseline)
    loop = replay_monitor(replay_cfg, cfg)
    ab = None
    if cfg.ab is not None:
        from churnops.monitoring.analysis.ab import analyze_monitor_ab

        ab = analyze_monitor_ab(cfg)
    page = None
    if inputs.report:
        from churnops.monitoring.report.monitor_report import monitor_report

        report = Path(inputs.workdir) / "monitoring" / "report"
        page = str(monitor_report(cfg, report, log_to_mlflow=True, ab=ab).html)
    auc = None
    if ab is not None and not ab.comparisons.empty:
        row = ab.comparisons.set_index("metric").loc["roc_auc"]
        auc = {k: float(row[k]) for k in ("difference", "ci_low", "ci_high", "p_value")}
    first = loop.first_retrain
    return MonitorReplayOutputs(
        months=[m.to_dict() for m in loop.months],
        windows=len(loop.months),
        labelled_windows=loop.labelled_windows,
        predictions=cfg.table,
        profile_metrics=cfg.table_path("profile_metrics"),
        drift_metrics=cfg.table_path("drift_metrics"),
        retrain=loop.decision.retrain,
        reasons=loop.decision.reasons,
        blocked_by=loop.decision.blocked_by,
        first_retrain=first.month_end.isoformat() if first else None,
        retrain_as_of=loop.retrain_as_of.isoformat() if loop.retrain_as_of else None,
        ab_verdict=ab.verdict if ab is not None else None,
        ab_reason=ab.reason if ab is not None else None,
        ab_roc_auc=auc,
        report=page,
    )


def _monitor_yaml(name: str) -> Path:
    """configs/monitor/<name>.yaml, or `name` itself when it is a YAML path."""
    from churnops.config import CONFIG_DIR

    path = Path(name)
    return path if path.suffix in (".yaml", ".yml") else CONFIG_DIR / "monitor" / f"{name}.yaml"


def _monitor_config(name: str, overrides: list[str], ab: ABConfig | None) -> MonitorConfig:
    from churnops.config import load_config

    cfg = load_config(MonitorConfig, _monitor_yaml(name), overrides)
    return cfg if ab is None else cfg.model_copy(update={"ab": ab})
