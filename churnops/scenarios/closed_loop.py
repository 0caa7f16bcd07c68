"""The closed loop, replayed month by month: the served versions score every customer at a month
end into the inference log, the labels whose horizon has passed land, the monitor refreshes
incrementally and the retraining policy decides as of that month end.

What a daily monitoring job would see over the months, in minutes: drift growing as the cohort
ages, realized quality appearing as labels land, and the month the policy asks for retraining.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnops.monitoring.analysis.decision import Decision, decide_retraining
from churnops.monitoring.config import MonitorConfig
from churnops.scenarios.replay import ReplayConfig, ReplayResult, replay


@dataclass
class MonthStory:
    """One month of the loop, as a line of the story.

    Attributes:
        month_end: the month end scored.
        rows: customers scored by the live arms (shadow copies not counted).
        refresh: the refresh's mode (`full` the first month, then `incremental`).
        labels_landed: the month ends whose labels landed this month.
        top_drift: the feature drifting most from the baseline in this month's window.
        top_drift_value: its drift statistic (the policy's, e.g. PSI).
        estimated_roc_auc: this window's label-free (CBPE) estimate, all versions; None when
            the baseline shows the model uncalibrated.
        realized_window: the latest window whose labels landed this month, or None.
        realized_roc_auc: that window's realized AUC, all versions.
        retrain: the policy's decision as of this month end.
        reasons: why it asks for retraining.
        blocked_by: what held a retraining back (cooldown, a split mismatch).
    """

    month_end: dt.date
    rows: int
    refresh: str
    labels_landed: list[dt.date]
    top_drift: str | None
    top_drift_value: float | None
    estimated_roc_auc: float | None
    realized_window: dt.date | None
    realized_roc_auc: float | None
    retrain: bool
    reasons: list[str] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (dates as ISO strings), for a task's JSON outputs."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.date):
                out[key] = value.isoformat()
            elif isinstance(value, list):
                out[key] = [v.isoformat() if isinstance(v, dt.date) else v for v in value]
        return out


@dataclass
class LoopResult:
    """What the replayed loop did.

    Attributes:
        months: one story line per month end.
        decision: the decision of the last month (what the job's condition reads).
        retrain_as_of: the latest month end whose labels have landed: the cutoff a retraining
            can train on; None when no label landed.
        labelled_windows: windows with at least one labelled prediction at the end.
    """

    months: list[MonthStory]
    decision: Decision
    retrain_as_of: dt.date | None
    labelled_windows: int

    @property
    def first_retrain(self) -> MonthStory | None:
        """The first month whose decision was to retrain."""
        return next((m for m in self.months if m.retrain), None)


def replay_monitor(
    replay_cfg: ReplayConfig,
    monitor_cfg: MonitorConfig,
    *,
    models: dict[str, Any] | None = None,
    on_month: Callable[[MonthStory], None] | None = None,
) -> LoopResult:
    """Run the loop over the replay's month ends, `replay_cfg.start` to `replay_cfg.end`.

    The replay's inference log and labels are (re)written from scratch, then grow a month at a
    time (labels from `replay_cfg.labels_from`, default the month end one horizon before the
    start, so that the labels landed by the first month are there). The monitor must read them
    (`inference_log`, `labels_table`) and have monthly windows first. Its tables and decisions
    start anew too: the story is the loop's own.

    Args:
        replay_cfg: what to score and where to write (its `mode` is set per month).
        monitor_cfg: the monitor over the replayed log, with its retraining policy.
        models: loaded pyfunc models by arm name (default: loaded once from their URIs).
        on_month: called with each month's story line as soon as it is known.
    """
    from churnops.data import storage
    from churnops.data.engines import engine_for
    from churnops.data.feature_store.timeseries import month_ends
    from churnops.data.sources import SourceConfig, prepare_orders
    from churnops.monitoring.analysis.ab import analyze_ab
    from churnops.monitoring.analysis.estimate import baseline_calibration
    from churnops.monitoring.analysis.read import read_predictions
    from churnops.monitoring.refresh.run import refresh_monitor

    _check_wiring(replay_cfg, monitor_cfg)
    if replay_cfg.tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(replay_cfg.tracking_uri)
        mlflow.set_registry_uri(replay_cfg.tracking_uri)
    models = models or _load_models(replay_cfg)
    for path in (replay_cfg.inference_log, replay_cfg.labels, monitor_cfg.table):
        storage.remove(path)  # the loop's log and labels grow from nothing
    for suffix in ("profile_metrics", "drift_metrics", "decisions", "histograms", "state.json"):
        storage.remove(monitor_cfg.table_path(suffix))
    months = month_ends(replay_cfg.start, replay_cfg.end)
    # The labels already landed when the loop begins are there from its first month (a refresh
    # needs the table to hold rows): those of the month end one horizon back, and later ones.
    back = replay_cfg.start - dt.timedelta(replay_cfg.horizon_days + 31)
    labels_from = replay_cfg.labels_from or month_ends(back, replay_cfg.start)[0]
    stories: list[MonthStory] = []
    decision = Decision(False)
    calibration = baseline_calibration(monitor_cfg)  # the baseline stays as it is
    with engine_for(monitor_cfg.engine) as engine, tempfile.TemporaryDirectory() as tmp:
        # The orders are cleaned once; each month reads that Parquet file.
        orders = Path(tmp, "orders.parquet")
        prepare_orders(replay_cfg.source, orders)
        source = SourceConfig(kind="parquet", path=str(orders))
        for month_end in months:
            month = replay_cfg.model_copy(
                update={"start": month_end, "end": month_end, "mode": "append",
                        "labels_from": labels_from, "source": source, "tracking_uri": None}
            )  # fmt: skip
            scored = replay(month, models)
            refreshed = refresh_monitor(monitor_cfg, engine=engine)
            predictions = read_predictions(monitor_cfg)
            srm = None
            if monitor_cfg.ab is not None:  # the split check gates the decision
                srm = float(analyze_ab(predictions, None, monitor_cfg.ab).srm["p_value"])
            decision = decide_retraining(
                monitor_cfg, engine, srm_pvalue=srm,
                now=dt.datetime.combine(month_end, dt.time(23, 59, 59), dt.UTC),
            )  # fmt: skip
            quality = _quality(monitor_cfg, predictions, calibration)
            story = _story(
                monitor_cfg, month_end, scored, refreshed.mode, decision, predictions, quality
            )
            stories.append(story)
            if on_month is not None:
                on_month(story)
    landed = sorted({c for m in stories for c in m.labels_landed})
    quality = _quality(monitor_cfg, read_predictions(monitor_cfg), calibration)
    windows = 0
    if quality is not None:
        everyone = quality[quality["model_version"] == "*"]
        windows = int((everyone["labelled_count"] > 0).sum())
    return LoopResult(stories, decision, landed[-1] if landed else None, windows)


def _check_wiring(replay_cfg: ReplayConfig, monitor_cfg: MonitorConfig) -> None:
    """The monitor reads what the replay writes, in monthly windows."""
    pairs = (
        ("inference_log", monitor_cfg.inference_log, replay_cfg.inference_log),
        ("labels_table", monitor_cfg.labels_table, replay_cfg.labels),
    )
    for name, got, wanted in pairs:
        if got != wanted:
            raise ValueError(f"monitor {name}={got!r}: expected the replay's {wanted!r}")
    if monitor_cfg.granularities[0] != "1 month":
        raise ValueError(
            f"monitor granularities={monitor_cfg.granularities}: expected '1 month' first "
            "(the replay scores once a month, and the policy reads the first granularity)"
        )


def _load_models(cfg: ReplayConfig) -> dict[str, Any]:
    import mlflow.pyfunc

    return {a.name: mlflow.pyfunc.load_model(a.model_uri) for a in cfg.arms}


def _story(
    cfg: MonitorConfig,
    month_end: dt.date,
    scored: ReplayResult,
    mode: str,
    decision: Decision,
    predictions: pd.DataFrame,
    quality: pd.DataFrame | None,
) -> MonthStory:
    """The month's line: rows, top drift, the estimate now and the quality that just landed."""
    window = pd.Timestamp(month_end.replace(day=1))
    live = predictions[~predictions["is_shadow"].astype(bool)]
    rows = int((pd.to_datetime(live["date"]) == pd.Timestamp(month_end)).sum())
    estimated = realized = None
    realized_window = None
    if quality is not None:
        everyone = quality[quality["model_version"] == "*"]
        now = everyone[everyone["window_start"] == window]
        if len(now) and bool(now["reported"].iloc[0]):
            estimated = _number(now["estimated_roc_auc"].iloc[0])
        landed = [pd.Timestamp(c.replace(day=1)) for c in scored.labelled_cutoffs]
        judged = everyone[everyone["window_start"].isin(landed)].sort_values("window_start")
        if len(judged):
            realized_window = judged["window_start"].iloc[-1].date()
            realized = _number(judged["realized_roc_auc"].iloc[-1])
    column, value = _top_drift(cfg, window)
    return MonthStory(
        month_end=month_end,
        rows=rows,
        refresh=mode,
        labels_landed=list(scored.labelled_cutoffs),
        top_drift=column,
        top_drift_value=value,
        estimated_roc_auc=estimated,
        realized_window=realized_window,
        realized_roc_auc=realized,
        retrain=decision.retrain,
        reasons=list(decision.reasons),
        blocked_by=list(decision.blocked_by),
    )


def _quality(
    cfg: MonitorConfig, predictions: pd.DataFrame, calibration: Any
) -> pd.DataFrame | None:
    """Realized and estimated quality per monthly window and version (the report's frame)."""
    from churnops.monitoring.analysis.estimate import window_quality

    return window_quality(cfg, predictions, "1 month", calibration)


def _top_drift(cfg: MonitorConfig, window: pd.Timestamp) -> tuple[str | None, float | None]:
    """The input column with the largest baseline drift in `window`, by the policy's metric."""
    from churnops.monitoring.refresh.tables import drift_schema, read_or_empty

    metric = cfg.retrain.drift_metric
    t = read_or_empty(cfg.table_path("drift_metrics"), drift_schema(cfg.model_id_col))
    best: tuple[str | None, float | None] = (None, None)
    for r in t.to_pylist():
        start = r["window"]["start"] if r["window"] else None
        if (
            r["drift_type"] != "BASELINE" or r["slice_key"] is not None
            or r[cfg.model_id_col] != "*" or r["granularity"] != cfg.granularities[0]
            or start is None or start.replace(tzinfo=None) != window
            or r["column_name"].startswith(":")
        ):  # fmt: skip
            continue
        value = (
            r["ks_test"]["statistic"] if metric == "ks_statistic" and r["ks_test"] else r[metric]
        )
        if value is not None and (best[1] is None or value > best[1]):
            best = (r["column_name"], float(value))
    return best


def _number(value: Any) -> float | None:
    """A metric as a float, or None where it is missing (NaN: one class absent, suppressed)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)
