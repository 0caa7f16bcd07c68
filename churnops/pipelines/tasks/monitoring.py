"""`monitor_refresh`: unpack the inference log, refresh the monitor's tables, decide whether to
retrain."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from churnops.config import StrictConfig
from churnops.data.storage import join
from churnops.monitoring.ab import ABConfig
from churnops.pipelines.tasks.base import RunInputs


class MonitorRefreshInputs(RunInputs):
    monitor: str = "churn"  # configs/monitor/<name>.yaml, or a YAML path
    overrides: list[str] = Field(default_factory=list)  # monitor config `a.b=value`
    inference_log: str | None = None  # the serving log to unpack; None: the config's
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
    from churnops.config import CONFIG_DIR, load_config
    from churnops.data.delta_tables import table_exists
    from churnops.monitoring.baseline import write_baseline
    from churnops.monitoring.config import MonitorConfig
    from churnops.monitoring.decision import decide_retraining
    from churnops.monitoring.experiment import split_pvalue
    from churnops.monitoring.refresh import refresh_monitor

    catalog = None
    if inputs.predictions_table:  # before any work: no session, nothing to register it with
        from churnops.pipelines.databricks.unity_catalog import catalog_session

        catalog = catalog_session(inputs.predictions_table)
    inputs.use_tracking()
    folder = inputs.table_path("monitoring")
    path = Path(inputs.monitor)
    if path.suffix not in (".yaml", ".yml"):
        path = CONFIG_DIR / "monitor" / f"{inputs.monitor}.yaml"
    where = [f"table={join(folder, 'predictions')}", f"output_dir={folder}"]
    if inputs.inference_log:
        where.append(f"inference_log={inputs.inference_log}")
    if inputs.labels_table:
        where.append(f"labels_table={inputs.labels_table}")
    baseline = join(folder, "baseline")
    if inputs.training_set and inputs.model_uri:
        where.append(f"baseline_table={baseline}")
    cfg = load_config(MonitorConfig, path, [*where, *inputs.overrides])
    if inputs.ab is not None:
        cfg = cfg.model_copy(update={"ab": inputs.ab})
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
        from churnops.monitoring.monitor_report import monitor_report

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
