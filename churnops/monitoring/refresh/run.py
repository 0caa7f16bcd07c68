"""`refresh_monitor`: recompute the profile and drift tables for new windows, atomically.

A refresh scans only the windows that changed since the last one (rows appended to the
predictions table, or labels that arrived since), recomputes them in the engine, and replaces
exactly those windows in `<name>_profile_metrics`, `<name>_drift_metrics` and the fine
histograms kept for later comparisons. State (what was processed) is written last.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churnops.data import storage
from churnops.data.delta_tables import open_table, table_exists
from churnops.data.engines.api import dataframe_api
from churnops.data.storage import read_parquet
from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.engine import monitor_engine
from churnops.monitoring.labels import join_labels_query
from churnops.monitoring.refresh import profile as prof
from churnops.monitoring.refresh import quality as qual
from churnops.monitoring.refresh.drift import drift_rows, table_drift_rows
from churnops.monitoring.refresh.frames import SLICE, WINDOW, delta_files, delta_frame, with_slice
from churnops.monitoring.refresh.prepared import PreparedQueries, digest
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
from churnops.monitoring.refresh.unpack import unpack_inference_log
from churnops.monitoring.windows import (
    as_utc,
    previous_start,
    trunc_unit,
    window_start,
    window_struct,
)

# Columns of the predictions contract that describe a row rather than the model's input.
META = {"request_id", "date", "endpoint_name", "served_entity_name", "model_name", "is_shadow"}
MODEL = "model_id"  # the model id column inside the histogram store


@dataclass
class RefreshResult:
    """What one refresh did."""

    mode: str  # full | incremental | unchanged
    since: dict[str, str] | None  # per granularity: the first window recomputed
    windows: int  # (granularity, window) pairs recomputed
    profile_rows: int
    drift_rows: int
    unpacked_rows: int = 0
    compiled_queries: int = 0  # queries built and compiled anew (the rest ran kept SQL)


def refresh_monitor(cfg: MonitorConfig, engine: Any = None, full: bool = False) -> RefreshResult:
    """Refresh the monitor's tables; `full` recomputes every window and the baseline.

    Args:
        cfg: the monitor.
        engine: an engine to reuse, left running (default: a new `cfg.engine` one, stopped
            when the refresh ends; a Spark session it found running is left alone).
        full: recompute everything, even when nothing changed.
    """
    if cfg.storage is not None:
        storage.configure_storage(cfg.storage)
    unpacked = 0
    if cfg.inference_log:
        unpacked = unpack_inference_log(cfg.inference_log, cfg.table, cfg.id_col)
    if not table_exists(cfg.table):
        raise FileNotFoundError(f"table={cfg.table!r}: no Delta table there (nothing scored yet?)")
    check_inputs(cfg)
    state = _read_state(cfg)
    files = delta_files(cfg.table)
    label_files = delta_files(cfg.labels_table) if cfg.labels_table else []
    since = None
    if not full and state and state["fingerprint"] == _fingerprint(cfg):
        since = _changed_since(cfg, state, files, label_files)
        if since == {}:
            return RefreshResult("unchanged", None, 0, 0, 0, unpacked)
    # Databricks' monitor_version: one more each time the monitor's settings change.
    version = 0 if not state else state.get("monitor_version", 0)
    version += bool(state) and state["fingerprint"] != _fingerprint(cfg)
    with monitor_engine(cfg.engine, engine) as running:
        run = _Refresh(cfg, running, since, state, version)
        result = run.execute()
    _write_state(
        cfg,
        {
            "fingerprint": _fingerprint(cfg),
            "files": files,
            "label_files": label_files,
            "specs": {c: s.to_dict() for c, s in run.specs.items()},
            "queries": run.queries.kept,
            "monitor_version": version,
        },
    )
    result.unpacked_rows = unpacked
    result.compiled_queries = run.queries.compiled
    return result


class _Refresh:
    """One refresh's work: profiles, quality, histograms and drift for the changed windows."""

    def __init__(
        self,
        cfg: MonitorConfig,
        engine: Any,
        since: dict | None,
        state: dict | None,
        monitor_version: int = 0,
    ):
        self.cfg, self.engine, self.since = cfg, engine, since
        self.monitor_version = monitor_version
        self.model = cfg.model_id_col
        self.version = _delta_version(cfg.table)
        schema = _schema(cfg.table)
        self.numeric, self.categorical = _columns(cfg, schema)
        schemas = {
            "schema": schema.to_string(),
            "labels": _schema(cfg.labels_table).to_string() if cfg.labels_table else None,
            "baseline": _schema(cfg.baseline_table).to_string() if cfg.baseline_table else None,
        }
        # Views with stable names: the queries read them, so the text compiled by one refresh
        # still holds for the next (see PreparedQueries), whatever files the views list.
        # The schemas are in the name too: SQLFrame keeps a view's columns from its first use.
        self.views = f"churnops_monitor_{digest([cfg.name, cfg.table, schemas], 16)}"
        self.base = delta_frame(engine, cfg.table)
        self.F, _ = dataframe_api(self.base)
        self.labels = None
        if cfg.labels_table:
            labels = delta_frame(engine, cfg.labels_table)
            labels = labels.withColumn("_y", self.F.col(cfg.label_col))
            self.labels = engine.view(labels, f"{self.views}_labels")
        self.specs: dict[str, BinSpec] = {}
        if since is not None and state:
            self.specs = {c: BinSpec(**s) for c, s in state["specs"].items()}
        context = {
            "config": _fingerprint(cfg),
            "numeric": self.numeric,
            "categorical": self.categorical,
            **schemas,
            "views": self.views,
        }
        kept = state.get("queries") if since is not None and state else None
        self.queries = PreparedQueries(engine, context, kept)
        self._inputs: dict[str, Any] = {}
        self._frames: dict[tuple, Any] = {}

    def _input(self, gran: str) -> Any:
        """The rows a granularity recomputes (from its first changed window on), as a view."""
        if gran not in self._inputs:
            df = self.base
            if self.since is not None:
                start = self.since[gran].replace(tzinfo=None)
                df = df.where(self.F.col(self.cfg.timestamp_col) >= self.F.lit(start))
            name = f"{self.views}_{gran.replace(' ', '_')}"
            self._inputs[gran] = self.engine.view(df, name)
        return self._inputs[gran]

    def _frame(self, gran: str, skey: str | None) -> Any:
        """The input of (granularity, slice) with labels, window, version and slice columns;
        built only when a query over it has to be compiled."""
        if (gran, skey) not in self._frames:
            cfg, F = self.cfg, self.F
            df = self._input(gran)
            if self.labels is not None:
                df = join_labels_query(
                    df, self.labels, cfg.id_col, cfg.timestamp_col, cfg.label_time_col,
                    cfg.max_label_age_days,
                )  # fmt: skip
            window = F.date_trunc(trunc_unit(gran), F.col(cfg.timestamp_col))
            model = F.col(self.model).cast("string")
            self._frames[gran, skey] = with_slice(df, skey, **{WINDOW: window, self.model: model})
        return self._frames[gran, skey]

    def execute(self) -> RefreshResult:
        cfg = self.cfg
        slices = [None, *cfg.slicing_exprs]
        profile_rows: list[dict[str, Any]] = []
        quality: list[pa.Table] = []
        cat_counts: list[pa.Table] = []
        frames = []
        for gran in cfg.granularities:
            self._input(gran)  # the view exists before any query over it runs
            for skey in slices:
                frames.append((gran, skey))
                profile_rows += self._profiles(gran, skey)
                cat_counts.append(self._tag(self._cat_counts(gran, skey), gran, skey))
                if cfg.labels_table:
                    quality.append(self._tag(self._quality(gran, skey), gran, skey))
        baseline = self._baseline(slices)
        if self.since is None:
            self.specs = self._bin_specs(profile_rows + baseline["profiles"])
        keys = [WINDOW, self.model, SLICE]
        for skey, bsdf in baseline.get("frames", []):
            # A column added to the predictions after the baseline was written has no baseline.
            specs = {c: s for c, s in self.specs.items() if c in bsdf.columns}
            counts = self._collect_histograms(f"baseline|{skey}", lambda b=bsdf: b, specs)
            baseline["hists"] += [self._tag(counts, g, skey) for g in cfg.granularities]
        hists = [self._tag(self._histograms(g, s), g, s) for g, s in frames]
        hist_new = _histogram_table(hists, cat_counts, baseline, self.model)
        keys = [WINDOW, self.model, SLICE, "granularity", "slice_key"]
        for counts in cat_counts:
            rows = prof.categorical_profile(counts, keys, cfg.frequent_items)
            profile_rows += [{**r, WINDOW: _ts(r[WINDOW])} for r in rows]
        for counts in baseline["cats"]:
            rows = prof.categorical_profile(counts, keys, cfg.frequent_items)
            baseline["profiles"] += [{**r, "log_type": "BASELINE"} for r in rows]
        table_rows = self._table_rows(profile_rows, quality, baseline)
        profile_rows += baseline["profiles"] + table_rows
        return self._write(profile_rows, hist_new)

    # -- engine work ---------------------------------------------------------------------
    def _profiles(self, gran: str, skey: str | None) -> list[dict[str, Any]]:
        rows = self._numeric_profile(f"{gran}|{skey}", [WINDOW, self.model, SLICE], gran, skey)
        versions: dict[tuple, set] = {}
        for r in rows:
            versions.setdefault((r[WINDOW], r[SLICE]), set()).add(r[self.model])
        if all(len(v) == 1 for v in versions.values()):
            # One version per window: its rows are the all-versions rows; skip the second scan.
            rows += [{**r, self.model: "*"} for r in rows]
        else:
            for r in self._numeric_profile(f"{gran}|{skey}|*", [WINDOW, SLICE], gran, skey):
                rows.append({**r, self.model: "*"})
        return [{**r, WINDOW: _ts(r[WINDOW]), "granularity": gran, "slice_key": skey} for r in rows]

    def _numeric_profile(
        self, name: str, keys: list[str], gran: str, skey: str | None
    ) -> list[dict[str, Any]]:
        return self._collect_profile(name, keys, lambda: self._frame(gran, skey), self.numeric)

    def _collect_profile(
        self, name: str, keys: list[str], frame: Any, columns: list[str]
    ) -> list[dict[str, Any]]:
        if not columns:
            return []
        result = self.queries.collect(
            f"profile|{name}", lambda: prof.numeric_profile_query(frame(), keys, columns)
        )
        return prof.numeric_profile_rows(result, keys, columns)

    def _cat_counts(self, gran: str, skey: str | None) -> pa.Table:
        keys = [WINDOW, self.model, SLICE]
        counts = self.queries.collect(
            f"categorical|{gran}|{skey}",
            lambda: prof.categorical_counts_query(self._frame(gran, skey), keys, self.categorical),
        )
        return _with_all_versions(counts, keys, self.model)

    def _histograms(self, gran: str, skey: str | None) -> pa.Table:
        counts = self._collect_histograms(f"{gran}|{skey}", lambda: self._frame(gran, skey))
        return _with_all_versions(counts, [WINDOW, self.model, SLICE], self.model)

    def _collect_histograms(
        self, name: str, frame: Any, specs: dict[str, BinSpec] | None = None
    ) -> pa.Table:
        keys = [WINDOW, self.model, SLICE]
        specs = self.specs if specs is None else specs
        if not specs:  # no numeric column (or none the baseline has): nothing to bin
            return pa.table(
                {
                    WINDOW: pa.array([], pa.timestamp("us", tz="UTC")),
                    **{k: pa.array([], pa.string()) for k in (self.model, SLICE, "column_name")},
                    "bin": pa.array([], pa.int64()),
                    "count": pa.array([], pa.int64()),
                }
            )
        spec_digest = digest({c: s.to_dict() for c, s in specs.items()}, 16)
        counts = self.queries.collect(
            f"histograms|{name}|{spec_digest}",
            lambda: prof.numeric_histograms_query(frame(), keys, specs),
        )
        return prof.histogram_rows(counts, keys, specs)

    def _quality(self, gran: str, skey: str | None) -> pa.Table:
        cfg = self.cfg
        keys = [WINDOW, self.model, SLICE]
        bins = self.queries.collect(
            f"quality|{gran}|{skey}",
            lambda: qual.quality_bins_query(
                self._frame(gran, skey), keys, cfg.prediction_proba_col, cfg.prediction_col
            ),
        )
        return pa.concat_tables(
            [
                bins,
                bins.set_column(
                    bins.column_names.index(self.model),
                    self.model,
                    pa.array(["*"] * bins.num_rows, pa.string()),
                ),
            ]
        )

    def _baseline(self, slices: list[str | None]) -> dict[str, Any]:
        """Baseline profiles, counts and quality (full refresh), or the stored histograms."""
        out: dict[str, Any] = {"profiles": [], "cats": [], "hists": [], "quality": []}
        cfg = self.cfg
        if not cfg.baseline_table or self.since is not None:
            return out
        bdf = delta_frame(self.engine, cfg.baseline_table)
        bdf = self.engine.view(bdf, f"{self.views}_baseline")
        extra = {WINDOW: self.F.lit(None).cast("timestamp"), self.model: self.F.lit("*")}
        labelled = cfg.label_col in bdf.columns
        if labelled:
            extra["_label"] = self.F.col(cfg.label_col)
        keys = [WINDOW, self.model, SLICE]
        numeric = [c for c in self.numeric if c in bdf.columns]
        categorical = [c for c in self.categorical if c in bdf.columns]
        for skey in slices:
            sdf = with_slice(bdf, skey, **extra)
            rows = self._collect_profile(f"baseline|{skey}", keys, lambda s=sdf: s, numeric)
            cats = self.queries.collect(
                f"categorical|baseline|{skey}",
                lambda s=sdf: prof.categorical_counts_query(s, keys, categorical),
            )
            for gran in cfg.granularities:
                out["profiles"] += [
                    {**r, "granularity": gran, "slice_key": skey, "log_type": "BASELINE"}
                    for r in rows
                ]
                out["cats"].append(self._tag(cats, gran, skey))
            out["frames"] = [*out.get("frames", []), (skey, sdf)]
            if labelled:
                bins = self.queries.collect(
                    f"quality|baseline|{skey}",
                    lambda s=sdf: qual.quality_bins_query(
                        s, keys, cfg.prediction_proba_col, cfg.prediction_col
                    ),
                )
                out["quality"] += [self._tag(bins, g, skey) for g in cfg.granularities]
        return out

    def _bin_specs(self, rows: list[dict[str, Any]]) -> dict[str, BinSpec]:
        """Fine bins per numeric column: the range of everything seen, centred and scaled by the
        baseline's (else the windows') mean and stddev: exact aggregates, so both engines cut
        the same bins. A column whose reference holds whole numbers only gets integral bins."""
        specs = {}
        for c in self.numeric:
            mine = [
                r
                for r in rows
                if r["column_name"] == c
                and r.get("min") is not None
                and r["slice_key"] is None
                and r[self.model] == "*"
            ]
            if not mine:
                continue
            base = [r for r in mine if r.get("log_type") == "BASELINE"] or mine
            lo, hi = min(r["min"] for r in mine), max(r["max"] for r in mine)
            center = float(np.mean([r["avg"] for r in base]))
            scale = float(np.mean([r["stddev"] or 0.0 for r in base]))
            integral = all(r["_fractional"] == 0 for r in base)
            specs[c] = BinSpec.from_stats(lo, hi, center, scale, self.cfg.drift_bins, integral)
        return specs

    # -- assembling ----------------------------------------------------------------------
    def _tag(self, table: pa.Table, gran: str, skey: str | None) -> pa.Table:
        n = table.num_rows
        table = table.append_column("granularity", pa.array([gran] * n, pa.string()))
        return table.append_column("slice_key", pa.array([skey] * n, pa.string()))

    def _table_rows(
        self, rows: list[dict[str, Any]], quality: list[pa.Table], baseline: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The ':table' rows: rows per group, and model quality where labels exist."""
        groups: dict[tuple, dict[str, Any]] = {}
        for r in rows + baseline["profiles"]:
            key = (r["granularity"], r[WINDOW], r[self.model], r["slice_key"], r[SLICE])
            groups.setdefault(key, {"count": r["_rows"], "log_type": r.get("log_type")})
        q_all = [t for t in quality + baseline["quality"] if t.num_rows]
        if q_all:
            qdf = pa.concat_tables(q_all).to_pandas()
            keys = ["granularity", WINDOW, self.model, "slice_key", SLICE]
            for key, g in qdf.groupby(keys, dropna=False, sort=False):
                key = tuple(None if _isna(k) else k for k in key)
                key = (key[0], _ts(key[1]), *key[2:])
                bins = {c: g[c].to_numpy() for c in g.columns if c not in keys}
                bins["_pbin"] = bins["_pbin"].astype(np.int64)
                bins["_label"] = bins["_label"].astype(np.int64)
                target = groups.setdefault(key, {"count": None, "log_type": None})
                target.update(qual.quality_metrics(bins, self.cfg.calibration_bins))
        out = []
        for (gran, start, model, skey, sval), vals in groups.items():
            count = vals.pop("count")
            log_type = vals.pop("log_type") or "INPUT"
            labelled = vals.get("num_labelled")
            out.append(
                {
                    WINDOW: start,
                    "granularity": gran,
                    self.model: model,
                    "slice_key": skey,
                    SLICE: sval,
                    "column_name": TABLE_ROW,
                    "data_type": None,
                    "count": count,
                    "log_type": log_type,
                    "percent_labelled": 100.0 * labelled / count
                    if labelled and count
                    else (0.0 if count and self.cfg.labels_table else None),
                    # With a labels table, a window none of whose rows is labelled yet has 0.
                    "num_labelled": 0 if count and self.cfg.labels_table else None,
                    **vals,
                }
            )
        return out

    def _write(self, profile_rows: list[dict[str, Any]], hist_new: pa.Table) -> RefreshResult:
        cfg, since = self.cfg, self.since
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
        dense = self._dense(_recent(hist_all, since, "window_start"))
        self._fill_quantiles(profile_rows, dense)
        p_schema = profile_schema(self.model)
        prof_old = read_or_empty(prof_path, p_schema) if since else None
        keep_prof = _keep(prof_old, since, "window") if prof_old is not None else None
        for r in profile_rows:
            r["window"] = window_struct(r.get(WINDOW), r["granularity"]) if r.get(WINDOW) else None
            r.setdefault("log_type", "INPUT")
            r["logging_table_commit_version"] = self.version
            r["monitor_version"] = self.monitor_version
        _set_non_null_columns(profile_rows, self.model)
        prof_new = to_table(profile_rows, p_schema)
        prof_all = (
            pa.concat_tables([prof_old.filter(keep_prof), prof_new])
            if prof_old is not None
            else prof_new
        )
        profiles = self._profile_index(_recent(prof_all, since, "window"))
        targets = [
            k for k in dense if k[1] is not None and (since is None or as_utc(k[1]) >= since[k[0]])
        ]
        d_rows = drift_rows(dense, profiles, self.specs, targets, self.model, cfg.psi_bins)
        d_rows += table_drift_rows(profiles, targets, self.model, TABLE_ROW)
        for r in d_rows:
            r["monitor_version"] = self.monitor_version
        d_schema = drift_schema(self.model)
        d_new = to_table(d_rows, d_schema)
        # Histograms first, profile last: a crash in between leaves state unwritten, and the
        # next refresh redoes the same windows.
        replace_windows(hist_path, hist_new, keep_hist, HISTOGRAM_SCHEMA, hist_old)
        d_old = read_or_empty(drift_path, d_schema) if since else None
        keep_drift = _keep(d_old, since, "window") if d_old is not None else None
        replace_windows(drift_path, d_new, keep_drift, d_schema, d_old)
        replace_windows(prof_path, prof_new, keep_prof, p_schema, prof_old)
        windows = {(k[0], k[1]) for k in targets}
        return RefreshResult(
            "full" if since is None else "incremental",
            {g: s.isoformat() for g, s in since.items()} if since else None,
            len(windows),
            prof_new.num_rows,
            d_new.num_rows,
        )

    def _fill_quantiles(self, rows: list[dict[str, Any]], dense: dict[tuple, Any]) -> None:
        """Numeric profile rows' quantiles and median, read off their own fine histograms."""
        for r in rows:
            spec = self.specs.get(r["column_name"])
            if spec is None or r.get("data_type") != "double":
                continue
            key = (
                r["granularity"],
                _ts(r.get(WINDOW)),
                r[self.model],
                r["slice_key"],
                r[SLICE],
                r["column_name"],
            )
            if key in dense:
                prof.fill_quantiles(r, dense[key], spec, self.cfg.quantiles)

    def _dense(self, hists: pa.Table) -> dict[tuple, Any]:
        """Histograms as {key: dense counts | {item: count}}."""
        keys = ["granularity", "window_start", MODEL, "slice_key", "slice_value", "column_name"]
        dense: dict[tuple, Any] = {}
        bins = hists["bin"].fill_null(0).to_numpy()
        counts = hists["count"].to_numpy().astype(np.float64)
        items = hists["item"].to_pylist()
        # Row indices per group (no per-group DataFrame: hundreds of groups per refresh).
        groups = hists.select(keys).to_pandas().groupby(keys, dropna=False, sort=False).indices
        for key, rows in groups.items():
            key = (key[0], _ts(key[1]), *[None if _isna(k) else k for k in key[2:]])
            column = key[-1]
            if column in self.specs:
                dense[key] = np.bincount(bins[rows], counts[rows], self.specs[column].bins)
            else:
                dense[key] = {items[i]: int(counts[i]) for i in rows}
        return dense

    def _profile_index(self, profile: pa.Table) -> dict[tuple, dict[str, Any]]:
        """Profile rows as {histogram key: row} (what drift deltas read)."""
        profiles = {}
        cols = [
            "window",
            "granularity",
            self.model,
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
                r[self.model],
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


def _histogram_table(
    hists: list[pa.Table], cats: list[pa.Table], baseline: dict[str, Any], model: str
) -> pa.Table:
    """Numeric bins and categorical items of every group in the store's schema."""
    parts = []
    for t in hists:
        parts.append(_store_rows(t, model, "bin"))
    for t in cats + baseline["cats"]:
        parts.append(_store_rows(t, model, "item"))
    for t in baseline.get("hists", []):
        parts.append(_store_rows(t, model, "bin"))
    return pa.concat_tables(parts) if parts else HISTOGRAM_SCHEMA.empty_table()


def _store_rows(t: pa.Table, model: str, kind: str) -> pa.Table:
    n = t.num_rows
    cols = {
        "granularity": t["granularity"],
        "window_start": pc.cast(t[WINDOW], pa.timestamp("us", tz="UTC")),
        "model_id": pc.cast(t[model], pa.string()),
        "slice_key": t["slice_key"],
        "slice_value": t[SLICE],
        "column_name": t["column_name"],
        "bin": pc.cast(t["bin"], pa.int64()) if kind == "bin" else pa.nulls(n, pa.int64()),
        "item": t["item"] if kind == "item" else pa.nulls(n, pa.string()),
        "count": pc.cast(t["count"], pa.int64()),
    }
    return pa.table(cols, schema=HISTOGRAM_SCHEMA)


def _with_all_versions(counts: pa.Table, keys: list[str], model: str) -> pa.Table:
    """Per-version counts plus their sum as version '*'."""
    if counts.num_rows == 0:
        return counts
    if len(pc.unique(counts[model])) == 1:
        # One version: its counts are the all-versions counts (no group-by needed).
        star = pa.array(np.full(counts.num_rows, "*"), pa.string())
        merged = counts.set_column(counts.column_names.index(model), model, star)
        return pa.concat_tables([counts, merged.cast(counts.schema)])
    merged = prof.merge_counts(counts, keys, model, "*").select(counts.column_names)
    return pa.concat_tables([counts, merged.cast(counts.schema)])


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


def check_inputs(cfg: MonitorConfig) -> None:
    """The tables exist and hold the columns the config names, with usable types: an error that
    names the field, the value and what was expected, before any engine work."""
    schema = _schema(cfg.table)

    def need(field: str, column: str, table: str, names: list[str]) -> None:
        if column not in names:
            raise ValueError(
                f"{field}={column!r}: expected a column of {table!r}, which has {names}"
            )

    need("timestamp_col", cfg.timestamp_col, cfg.table, schema.names)
    if not pa.types.is_timestamp(schema.field(cfg.timestamp_col).type):
        raise ValueError(
            f"timestamp_col={cfg.timestamp_col!r}: expected a timestamp column, "
            f"got {schema.field(cfg.timestamp_col).type}"
        )
    need("model_id_col", cfg.model_id_col, cfg.table, schema.names)
    need("prediction_proba_col", cfg.prediction_proba_col, cfg.table, schema.names)
    for field, path in (("baseline_table", cfg.baseline_table), ("labels_table", cfg.labels_table)):
        if path and not table_exists(path):
            raise FileNotFoundError(f"{field}={path!r}: no Delta table there")
    if cfg.labels_table:
        need("id_col", cfg.id_col, cfg.table, schema.names)
        labels = _schema(cfg.labels_table)
        for field in ("id_col", "label_time_col", "label_col"):
            need(field, getattr(cfg, field), cfg.labels_table, labels.names)
        kind = labels.field(cfg.label_col).type
        if not (
            pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_floating(kind)
        ):
            raise ValueError(
                f"label_col={cfg.label_col!r}: expected 0/1 labels (integer, boolean or float) "
                f"in {cfg.labels_table!r}, got {kind}"
            )
    for i, expr in enumerate(cfg.slicing_exprs):
        words = _identifiers(expr)
        if words and not words & set(schema.names):
            raise ValueError(
                f"slicing_exprs[{i}]={expr!r}: expected an expression over columns of "
                f"{cfg.table!r}, which has {schema.names}"
            )


def _identifiers(expr: str) -> set[str]:
    """The words of a SQL expression outside its string literals (column names among them)."""
    import re

    unquoted = re.sub(r"'(?:[^']|'')*'", "", expr)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", unquoted))


def _columns(cfg: MonitorConfig, schema: pa.Schema) -> tuple[list[str], list[str]]:
    """(numeric, categorical) columns to profile: the features, the score and the decision."""
    skip = {*META, cfg.timestamp_col, cfg.model_id_col, cfg.id_col, cfg.label_col}
    names = (
        list(cfg.feature_cols)  # a copy: the config is what the next refresh compares with
        if cfg.feature_cols is not None
        else [n for n in schema.names if n not in skip]
    )
    missing = [n for n in names if n not in schema.names]
    if missing:
        raise ValueError(f"feature_cols {missing}: not columns of table {cfg.table!r}")
    for extra in (cfg.prediction_proba_col, cfg.prediction_col):
        if extra not in names and extra in schema.names:
            names.append(extra)
    numeric, categorical = [], []
    for n in names:
        t = schema.field(n).type
        is_num = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        if n == cfg.prediction_col or n in cfg.categorical_cols or not is_num:
            categorical.append(n)
        else:
            numeric.append(n)
    return numeric, categorical


def _schema(path: str) -> pa.Schema:
    return pa.schema(open_table(path).schema().to_arrow())


def _delta_version(path: str) -> int:
    return int(open_table(path).version())


def _changed_since(
    cfg: MonitorConfig, state: dict, files: list[str], label_files: list[str]
) -> dict[str, dt.datetime] | None:
    """Per granularity, the first window that new rows or new labels touch ({}: none)."""
    old, old_labels = set(state["files"]), set(state["label_files"])
    if not old <= set(files) or not old_labels <= set(label_files):
        return None  # files were rewritten (compaction, overwrite): recompute everything
    points = []
    new = [f for f in files if f not in old]
    if new:
        ts = pa.concat_arrays(
            [read_parquet(f, [cfg.timestamp_col])[cfg.timestamp_col].combine_chunks() for f in new]
        )
        if len(ts):
            points.append(as_utc(pc.min(ts).as_py()))
    new_labels = [f for f in label_files if f not in old_labels]
    if new_labels:
        cut = pa.concat_arrays(
            [
                read_parquet(f, [cfg.label_time_col])[cfg.label_time_col].combine_chunks()
                for f in new_labels
            ]
        )
        if len(cut):
            day = pc.min(cut).as_py()
            points.append(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
    if not points:
        return {}
    first = min(points)
    return {g: window_start(first, g) for g in cfg.granularities}


def _fingerprint(cfg: MonitorConfig) -> str:
    """A refresh may reuse earlier windows only while what they were computed with is unchanged."""
    # What only decisions, A/B and Databricks read leaves the computed windows as they are.
    fields = cfg.model_dump(
        exclude={
            "retrain", "schedule", "inference_log", "ab", "databricks_table",
            "databricks_output_schema", "databricks_baseline_table", "databricks_assets_dir",
            "storage",
        }
    )  # fmt: skip
    return digest(fields, 64)


def _state_path(cfg: MonitorConfig) -> str:
    return cfg.table_path("state.json")


def _read_state(cfg: MonitorConfig) -> dict | None:
    path = _state_path(cfg)
    return json.loads(storage.read_bytes(path)) if storage.is_file(path) else None


def _write_state(cfg: MonitorConfig, state: dict) -> None:
    # Atomic: the old state or the new one, never half of it (renamed or copied into place).
    storage.write_bytes_atomic(_state_path(cfg), json.dumps(state, indent=1).encode())


def _ts(value: Any) -> dt.datetime | None:
    if value is None or _isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return as_utc(value)


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


__all__ = ["RefreshResult", "asdict", "refresh_monitor"]
