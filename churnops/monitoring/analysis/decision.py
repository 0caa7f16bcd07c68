"""The retraining decision: the policy in config, read off the metric tables with SQL.

`decide_retraining` runs an mlops-stacks-style query over `<name>_profile_metrics` (labelled
quality below a floor) and one over `<name>_drift_metrics` (drift above a level for N windows),
applies minimum rows, a cooldown and the A/B sample-ratio gate, appends one row with its reasons
to `<name>_decisions`, and returns whether to retrain.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from churnops.data.delta_tables import open_table, read_table, table_exists, write_table
from churnops.data.engines import engine_for
from churnops.monitoring.config import MonitorConfig

# mlops-stacks' metric-violation query shape (column_name ':table', no slice, per version, INPUT).
QUALITY_QUERY = """
SELECT window.start AS window_start, {model} AS model_id, count, {metric} AS value
FROM {profile}
WHERE column_name = ':table' AND slice_key IS NULL AND {model} != '*' AND log_type = 'INPUT'
  AND granularity = '{granularity}' AND {metric} IS NOT NULL AND count >= {min_rows}
ORDER BY window DESC"""

DRIFT_QUERY = """SELECT window.start AS window_start, column_name, {value} AS value
FROM {drift}
WHERE drift_type = 'BASELINE' AND slice_key IS NULL AND {model} = '*'
  AND granularity = '{granularity}' AND {value} IS NOT NULL
ORDER BY window DESC"""

DECISIONS_SCHEMA = pa.schema(
    [
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("monitor", pa.string()),
        ("retrain", pa.bool_()),
        ("reasons", pa.list_(pa.string())),
        ("blocked_by", pa.list_(pa.string())),
        ("details", pa.string()),  # JSON: the windows and values behind the reasons
    ]
)


@dataclass
class Decision:
    """The outcome: retrain or not, why, and what held it back."""

    retrain: bool
    reasons: list[str] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def decide_retraining(
    cfg: MonitorConfig,
    engine: Any = None,
    srm_pvalue: float | None = None,
    now: dt.datetime | None = None,
    record: bool = True,
) -> Decision:
    """Apply `cfg.retrain` to the monitor's tables; append the decision to `<name>_decisions`.

    Args:
        cfg: the monitor (its tables must have been refreshed).
        engine: the engine to query with, left running (default: a new `cfg.engine` one, stopped
            when the decision is made).
        srm_pvalue: the A/B sample-ratio-mismatch p-value
            (`churnops.monitoring.analysis.ab.sample_ratio_mismatch`); None when there is no
            A/B split.
        now: the decision time (default: now, UTC).
        record: append the row to the decisions table.
    """
    policy = cfg.retrain
    now = now or dt.datetime.now(dt.UTC)
    with engine_for(cfg.engine, engine) as running:
        decision = _decide(cfg, running)
    if srm_pvalue is not None and srm_pvalue < policy.srm_alpha:
        decision.blocked_by.append(
            f"srm: sample-ratio mismatch p={srm_pvalue:.2e} < {policy.srm_alpha}; "
            "fix the traffic split before trusting per-version metrics"
        )
    last = _last_retrain(cfg)
    if last and (now - last).total_seconds() < policy.cooldown_days * 86400:
        decision.blocked_by.append(
            f"cooldown: last retrain decision at {last.isoformat()}, "
            f"within {policy.cooldown_days} days"
        )
    decision.retrain = bool(decision.reasons) and not decision.blocked_by
    if record:
        _append(cfg, decision, now)
    return decision


def _decide(cfg: MonitorConfig, engine: Any) -> Decision:
    """The reasons `cfg.retrain` finds in the monitor's quality and drift tables."""
    policy = cfg.retrain
    granularity = cfg.granularities[0]
    profile = _register(engine, cfg.table_path("profile_metrics"), f"{cfg.name}_profile_metrics")
    drift = _register(engine, cfg.table_path("drift_metrics"), f"{cfg.name}_drift_metrics")
    model = cfg.model_id_col
    decision = Decision(False)

    quality_metric = {"roc_auc": "roc_auc_score", "pr_auc": "pr_auc_score"}.get(
        policy.quality_metric, policy.quality_metric
    )
    if quality_metric == "f1":
        quality_metric = "f1_score.one_vs_all['1']"
    q = spark_sql_rows(
        engine,
        QUALITY_QUERY.format(
            model=model,
            metric=quality_metric,
            profile=profile,
            granularity=granularity,
            min_rows=policy.min_rows,
        ),
    ) if profile else []  # fmt: skip
    for version in sorted({r["model_id"] for r in q}):
        recent = [r for r in q if r["model_id"] == version][: policy.quality_recent]
        bad = [r for r in recent if r["value"] < policy.quality_floor]
        if recent and len(bad) >= policy.quality_min_bad and recent[0] in bad:
            decision.reasons.append(
                f"quality: {policy.quality_metric} of version {version} below "
                f"{policy.quality_floor} in {len(bad)} of the last {len(recent)} labelled windows "
                f"(latest {recent[0]['value']:.3f})"
            )
            decision.details[f"quality_{version}"] = [_plain(r) for r in recent]

    value = {"ks_statistic": "ks_test.statistic"}.get(policy.drift_metric, policy.drift_metric)
    d = spark_sql_rows(
        engine, DRIFT_QUERY.format(value=value, drift=drift, model=model, granularity=granularity)
    ) if drift else []  # fmt: skip
    counts = _window_counts(engine, profile, model, granularity) if profile else {}
    columns = policy.drift_columns or sorted({r["column_name"] for r in d})
    for column in columns:
        series = [r for r in d if r["column_name"] == column]
        series = [r for r in series if counts.get(r["window_start"], 0) >= policy.min_rows]
        latest = series[: policy.drift_windows]
        if len(latest) == policy.drift_windows and all(
            r["value"] > policy.drift_threshold for r in latest
        ):
            decision.reasons.append(
                f"drift: {policy.drift_metric} of {column} above {policy.drift_threshold} in the "
                f"last {policy.drift_windows} windows (latest {latest[0]['value']:.3f})"
            )
            decision.details[f"drift_{column}"] = [_plain(r) for r in latest]

    return decision


def _register(engine: Any, path: str, name: str) -> str | None:
    """Make the Delta table queryable by `name` in the engine's SQL; None when it has no rows
    yet (after the first window there is nothing to compare drift with)."""
    from churnops.monitoring.refresh.frames import table_frame

    if not table_exists(path):
        raise FileNotFoundError(f"{path!r}: no metric table; run `churnops monitor refresh` first")
    if not open_table(path).file_uris():
        return None
    table_frame(engine, path).createOrReplaceTempView(name)
    return name


def spark_sql_rows(engine: Any, query: str) -> list[dict[str, Any]]:
    """Run Spark SQL on either engine (SQLFrame transpiles it for DuckDB), as rows (dicts); unlike
    `Engine.run_sql`, which runs SQL already in the engine's own dialect."""
    if engine.name == "duckdb":
        return [r.asDict() for r in engine.session.sql(query, dialect="spark").collect()]
    return [r.asDict() for r in engine.session.sql(query).collect()]


def _window_counts(engine: Any, profile: str, model: str, granularity: str) -> dict:
    query = (
        f"SELECT window.start AS window_start, count FROM {profile} WHERE "
        f"column_name = ':table' AND slice_key IS NULL AND {model} = '*' "
        f"AND log_type = 'INPUT' AND granularity = '{granularity}'"
    )
    return {r["window_start"]: r["count"] for r in spark_sql_rows(engine, query)}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in row.items()}


def _last_retrain(cfg: MonitorConfig) -> dt.datetime | None:
    path = cfg.table_path("decisions")
    if not table_exists(path):
        return None
    rows = [r for r in read_table(open_table(path)).to_pylist() if r["retrain"]]
    return max((r["decided_at"] for r in rows), default=None)


def _append(cfg: MonitorConfig, decision: Decision, now: dt.datetime) -> None:
    row = {
        "decided_at": now,
        "monitor": cfg.name,
        "retrain": decision.retrain,
        "reasons": decision.reasons,
        "blocked_by": decision.blocked_by,
        "details": json.dumps(decision.details, default=str),
    }
    write_table(
        cfg.table_path("decisions"), pa.Table.from_pylist([row], DECISIONS_SCHEMA), mode="append"
    )
