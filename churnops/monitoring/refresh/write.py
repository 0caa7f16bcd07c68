"""A refresh's results into the metric tables: the ':table' rows, quantiles read off the
histograms, drift against the kept windows, and the windows replaced in `<name>_histograms`,
`<name>_drift_metrics` and `<name>_profile_metrics` (in that order)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh import profile as prof
from churnops.monitoring.refresh import quality as qual
from churnops.monitoring.refresh.drift import drift_rows, table_drift_rows
from churnops.monitoring.refresh.frames import SLICE, WINDOW
from churnops.monitoring.refresh.histograms import dense_histograms, is_missing
from churnops.monitoring.refresh.statistics import BinSpec
from churnops.monitoring.refresh.tables import (
    HISTOGRAM_SCHEMA,
    TABLE_ROW,
    drift_schema,
    profile_schema,
    read_or_empty,
    replace_windows,
    stale_mask,
    to_table,
)
from churnops.monitoring.windows import as_utc, previous_start, utc_or_none, window_struct


@dataclass
class Written:
    """What `write_metrics` replaced."""

    windows: int  # (granularity, window) pairs recomputed
    profile_rows: int
    drift_rows: int


def write_metrics(
    cfg: MonitorConfig,
    since: dict[str, dt.datetime] | None,
    specs: dict[str, BinSpec],
    profile_rows: list[dict[str, Any]],
    hist_new: pa.Table,
    *,
    table_version: int,
    monitor_version: int,
) -> Written:
    """Replace the recomputed windows (all of them when `since` is None) in the metric tables.

    Args:
        cfg: the monitor.
        since: per granularity, the first window recomputed; None for a full refresh.
        specs: the numeric columns' fine bins.
        profile_rows: the profile rows of the recomputed windows (and the baseline).
        hist_new: their histograms, in the store's schema.
        table_version: the predictions table's Delta version they were computed from.
        monitor_version: the monitor's settings version.
    """
    model = cfg.model_id_col
    hist_path, drift_path = cfg.table_path("histograms"), cfg.table_path("drift_metrics")
    prof_path = cfg.table_path("profile_metrics")
    # A full refresh replaces every table whole: nothing old to read.
    hist_old = read_or_empty(hist_path, HISTOGRAM_SCHEMA) if since else None
    keep_hist = _keep(hist_old, since, "window_start") if hist_old is not None else None
    hist_all = (
        pa.concat_tables([hist_old.filter(keep_hist), hist_new])
        if hist_old is not None
        else hist_new
    )
    dense = dense_histograms(_recent(hist_all, since, "window_start"), specs)
    fill_profile_quantiles(profile_rows, dense, specs, model, cfg.quantiles)
    p_schema = profile_schema(model)
    prof_old = read_or_empty(prof_path, p_schema) if since else None
    keep_prof = _keep(prof_old, since, "window") if prof_old is not None else None
    for r in profile_rows:
        r["window"] = window_struct(r.get(WINDOW), r["granularity"]) if r.get(WINDOW) else None
        r.setdefault("log_type", "INPUT")
        r["logging_table_commit_version"] = table_version
        r["monitor_version"] = monitor_version
    _set_non_null_columns(profile_rows, model)
    prof_new = to_table(profile_rows, p_schema)
    prof_all = (
        pa.concat_tables([prof_old.filter(keep_prof), prof_new])
        if prof_old is not None
        else prof_new
    )
    profiles = profile_index(_recent(prof_all, since, "window"), model)
    targets = [
        k for k in dense if k[1] is not None and (since is None or as_utc(k[1]) >= since[k[0]])
    ]
    d_rows = drift_rows(dense, profiles, specs, targets, model, cfg.psi_bins)
    d_rows += table_drift_rows(profiles, targets, model, TABLE_ROW)
    for r in d_rows:
        r["monitor_version"] = monitor_version
    d_schema = drift_schema(model)
    d_new = to_table(d_rows, d_schema)
    # Histograms first, profile last: a crash in between leaves state unwritten, and the
    # next refresh redoes the same windows.
    replace_windows(hist_path, hist_new, keep_hist, HISTOGRAM_SCHEMA, hist_old)
    d_old = read_or_empty(drift_path, d_schema) if since else None
    keep_drift = _keep(d_old, since, "window") if d_old is not None else None
    replace_windows(drift_path, d_new, keep_drift, d_schema, d_old)
    replace_windows(prof_path, prof_new, keep_prof, p_schema, prof_old)
    windows = {(k[0], k[1]) for k in targets}
    return Written(len(windows), prof_new.num_rows, d_new.num_rows)


def table_rows(
    cfg: MonitorConfig,
    rows: list[dict[str, Any]],
    quality: list[pa.Table],
    baseline: dict[str, Any],
) -> list[dict[str, Any]]:
    """The ':table' rows: rows per group, and model quality where labels exist."""
    model_col = cfg.model_id_col
    groups: dict[tuple, dict[str, Any]] = {}
    for r in rows + baseline["profiles"]:
        key = (r["granularity"], r[WINDOW], r[model_col], r["slice_key"], r[SLICE])
        groups.setdefault(key, {"count": r["_rows"], "log_type": r.get("log_type")})
    q_all = [t for t in quality + baseline["quality"] if t.num_rows]
    if q_all:
        qdf = pa.concat_tables(q_all).to_pandas()
        keys = ["granularity", WINDOW, model_col, "slice_key", SLICE]
        for key, g in qdf.groupby(keys, dropna=False, sort=False):
            key = tuple(None if is_missing(k) else k for k in key)
            key = (key[0], utc_or_none(key[1]), *key[2:])
            bins = {c: g[c].to_numpy() for c in g.columns if c not in keys}
            bins["_pbin"] = bins["_pbin"].astype(np.int64)
            bins["_label"] = bins["_label"].astype(np.int64)
            target = groups.setdefault(key, {"count": None, "log_type": None})
            target.update(qual.quality_metrics(bins, cfg.calibration_bins))
    out = []
    for (gran, start, model, skey, sval), vals in groups.items():
        count = vals.pop("count")
        log_type = vals.pop("log_type") or "INPUT"
        labelled = vals.get("num_labelled")
        out.append(
            {
                WINDOW: start,
                "granularity": gran,
                model_col: model,
                "slice_key": skey,
                SLICE: sval,
                "column_name": TABLE_ROW,
                "data_type": None,
                "count": count,
                "log_type": log_type,
                "percent_labelled": 100.0 * labelled / count
                if labelled and count
                else (0.0 if count and cfg.labels_table else None),
                # With a labels table, a window none of whose rows is labelled yet has 0.
                "num_labelled": 0 if count and cfg.labels_table else None,
                **vals,
            }
        )
    return out


def fill_profile_quantiles(
    rows: list[dict[str, Any]],
    dense: dict[tuple, Any],
    specs: dict[str, BinSpec],
    model: str,
    quantiles: list[float],
) -> None:
    """Numeric profile rows' quantiles and median, read off their own fine histograms."""
    for r in rows:
        spec = specs.get(r["column_name"])
        if spec is None or r.get("data_type") != "double":
            continue
        key = (
            r["granularity"],
            utc_or_none(r.get(WINDOW)),
            r[model],
            r["slice_key"],
            r[SLICE],
            r["column_name"],
        )
        if key in dense:
            prof.fill_quantiles(r, dense[key], spec, quantiles)


def profile_index(profile: pa.Table, model: str) -> dict[tuple, dict[str, Any]]:
    """Profile rows as {histogram key: row} (what drift deltas read)."""
    profiles = {}
    cols = [
        "window",
        "granularity",
        model,
        "slice_key",
        "slice_value",
        "column_name",
        "count",
        "avg",
        "percent_null",
        "percent_zeros",
        "percent_distinct",
        "non_null_columns",
        "log_type",
    ]
    for r in profile.select(cols).to_pylist():
        start = r["window"]["start"] if r["window"] else None
        key = (
            r["granularity"],
            start,
            r[model],
            r["slice_key"],
            r["slice_value"],
            r["column_name"],
        )
        profiles[key] = r
    return profiles


def _set_non_null_columns(rows: list[dict[str, Any]], model: str) -> None:
    """Each table row's `non_null_columns`: the columns with a value in its window and slice."""
    group = ("granularity", "window", model, "log_type", "slice_key", "slice_value")
    found: dict[tuple, list[str]] = {}
    for r in rows:
        if r["column_name"] != TABLE_ROW and r.get("count"):
            found.setdefault(tuple(str(r.get(k)) for k in group), []).append(r["column_name"])
    for r in rows:
        if r["column_name"] == TABLE_ROW:
            r["non_null_columns"] = sorted(found.get(tuple(str(r.get(k)) for k in group), []))


def _keep(table: pa.Table, since: dict | None, col: str) -> pa.Array | None:
    return stale_mask(table, since, col) if since is not None else None


def _recent(table: pa.Table, since: dict | None, col: str) -> pa.Table:
    """The rows an incremental refresh's drift reads: the baseline (NULL window) and windows
    from the one before `since` on; older windows are neither compared nor recomputed."""
    if since is None or table.num_rows == 0:
        return table
    starts = table[col] if col != "window" else pc.struct_field(table["window"], "start")
    wanted = pc.is_null(starts)
    for granularity, start in since.items():
        first = previous_start(start, granularity)
        in_gran = pc.equal(table["granularity"], granularity)
        newer = pc.greater_equal(starts, pa.scalar(first, pa.timestamp("us", tz="UTC")))
        wanted = pc.or_(wanted, pc.and_(in_gran, pc.fill_null(newer, False)))
    return table.filter(wanted)
