"""The same monitor on Databricks: a data-profiling (Lakehouse Monitoring) InferenceLog monitor.

Built with databricks-sdk's data-quality API (`w.data_quality.create_monitor`), which addresses
the table and output schema by id, so both are looked up first through Unity Catalog.
"""

from __future__ import annotations

from typing import Any

from churnops.monitoring.config import MonitorConfig

GRANULARITY_ENUM = {
    "1 hour": "AGGREGATION_GRANULARITY_1_HOUR",
    "1 day": "AGGREGATION_GRANULARITY_1_DAY",
    "1 week": "AGGREGATION_GRANULARITY_1_WEEK",
    "1 month": "AGGREGATION_GRANULARITY_1_MONTH",
    "1 year": "AGGREGATION_GRANULARITY_1_YEAR",
}


def monitor_request(cfg: MonitorConfig, table_id: str, output_schema_id: str) -> Any:
    """The `dataquality.Monitor` a create call sends for `cfg` (ids already resolved)."""
    from databricks.sdk.service import dataquality as dq

    if not cfg.databricks_table or not cfg.databricks_output_schema:
        raise ValueError(
            "databricks_table and databricks_output_schema: expected catalog.schema.table and "
            f"catalog.schema, got {cfg.databricks_table!r} and {cfg.databricks_output_schema!r}"
        )
    problem = dq.InferenceProblemType.INFERENCE_PROBLEM_TYPE_CLASSIFICATION
    inference = dq.InferenceLogConfig(
        problem_type=problem,
        timestamp_column=cfg.timestamp_col,
        granularities=[dq.AggregationGranularity(GRANULARITY_ENUM[g]) for g in cfg.granularities],
        prediction_column=cfg.prediction_col,
        model_id_column=cfg.model_id_col,
        label_column=cfg.label_col if cfg.labels_table else None,
    )
    profiling = dq.DataProfilingConfig(
        output_schema_id=output_schema_id,
        assets_dir=cfg.databricks_assets_dir,
        baseline_table_name=cfg.databricks_baseline_table,
        inference_log=inference,
        slicing_exprs=list(cfg.slicing_exprs) or None,
        schedule=dq.CronSchedule(
            quartz_cron_expression=cfg.schedule.quartz_cron_expression,
            timezone_id=cfg.schedule.timezone_id,
        ),
    )
    return dq.Monitor(object_type="table", object_id=table_id, data_profiling_config=profiling)


def create_databricks_monitor(
    cfg: MonitorConfig, client: Any = None, api: str | None = None
) -> Any:
    """Create the monitor in the workspace; returns the SDK's answer.

    Args:
        cfg: the monitor; `databricks_table` and `databricks_output_schema` must be set.
        client: a `WorkspaceClient` (default: one from the environment / ~/.databrickscfg).
        api: `data_quality` (current) or `quality_monitors` (older SDKs); default: the
            current one where the installed SDK has it.
    """
    if client is None:
        from databricks.sdk import WorkspaceClient

        client = WorkspaceClient()
    if not cfg.databricks_table or not cfg.databricks_output_schema:
        monitor_request(cfg, "", "")  # raises the error naming both fields
    api = api or ("data_quality" if hasattr(client, "data_quality") else "quality_monitors")
    if api == "quality_monitors":
        return client.quality_monitors.create(**legacy_request(cfg))
    table = client.tables.get(cfg.databricks_table)
    schema = client.schemas.get(cfg.databricks_output_schema)
    request = monitor_request(cfg, table.table_id, schema.schema_id)
    return client.data_quality.create_monitor(request)


def legacy_request(cfg: MonitorConfig) -> dict[str, Any]:
    """Keyword arguments of `quality_monitors.create` (SDKs before the data-quality API)."""
    from databricks.sdk.service import catalog

    return {
        "table_name": cfg.databricks_table,
        "output_schema_name": cfg.databricks_output_schema,
        "assets_dir": cfg.databricks_assets_dir or f"/Shared/churnops/monitors/{cfg.name}",
        "baseline_table_name": cfg.databricks_baseline_table,
        "slicing_exprs": list(cfg.slicing_exprs) or None,
        "inference_log": catalog.MonitorInferenceLog(
            problem_type=catalog.MonitorInferenceLogProblemType.PROBLEM_TYPE_CLASSIFICATION,
            timestamp_col=cfg.timestamp_col,
            granularities=list(cfg.granularities),
            prediction_col=cfg.prediction_col,
            model_id_col=cfg.model_id_col,
            label_col=cfg.label_col if cfg.labels_table else None,
            prediction_proba_col=cfg.prediction_proba_col,
        ),
        "schedule": catalog.MonitorCronSchedule(
            quartz_cron_expression=cfg.schedule.quartz_cron_expression,
            timezone_id=cfg.schedule.timezone_id,
        ),
    }
