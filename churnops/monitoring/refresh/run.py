"""`refresh_monitor`: recompute the profile and drift tables for new windows, atomically.

A refresh scans only the windows that changed since the last one (rows appended to the
predictions table, or labels that arrived since), recomputes them in the engine, and replaces
exactly those windows in `<name>_profile_metrics`, `<name>_drift_metrics` and the fine
histograms kept for later comparisons. State (what was processed) is written last.

Here: the order of the steps and the engine work (`_Refresh`). The pieces it calls: `inputs`
(the tables checked, the columns to profile), `state` (what changed since the last refresh),
`histograms` (bin specs, the kept fine histograms) and `write` (the metric tables' rows, written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from churnops.data import storage
from churnops.data.delta_tables import table_exists
from churnops.data.engines import engine_for
from churnops.data.engines.api import dataframe_api
from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.labels import join_labels_query
from churnops.monitoring.refresh import profile as prof
from churnops.monitoring.refresh import quality as qual
from churnops.monitoring.refresh.frames import SLICE, WINDOW, delta_files, table_frame, with_slice
from churnops.monitoring.refresh.histograms import bin_specs, histogram_table, with_all_versions
from churnops.monitoring.refresh.inputs import (
    check_inputs,
    profiled_columns,
    table_schema,
    table_version,
)
from churnops.monitoring.refresh.prepared import PreparedQueries, digest
from churnops.monitoring.refresh.state import changed_since, fingerprint, read_state, write_state
from churnops.monitoring.refresh.statistics import BinSpec
from churnops.monitoring.refresh.unpack import unpack_inference_log
from churnops.monitoring.refresh.write import table_rows, write_metrics
from churnops.monitoring.windows import trunc_unit, utc_or_none


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
    state = read_state(cfg)
    files = delta_files(cfg.table)
    label_files = delta_files(cfg.labels_table) if cfg.labels_table else []
    since = None
    if not full and state and state["fingerprint"] == fingerprint(cfg):
        since = changed_since(cfg, state, files, label_files)
        if since == {}:
            return RefreshResult("unchanged", None, 0, 0, 0, unpacked)
    # Databricks' monitor_version: one more each time the monitor's settings change.
    version = 0 if not state else state.get("monitor_version", 0)
    version += bool(state) and state["fingerprint"] != fingerprint(cfg)
    with engine_for(cfg.engine, engine) as running:
        run = _Refresh(cfg, running, since, state, version)
        result = run.execute()
    write_state(
        cfg,
        {
            "fingerprint": fingerprint(cfg),
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
        self.version = table_version(cfg.table)
        schema = table_schema(cfg.table)
        self.numeric, self.categorical = profiled_columns(cfg, schema)
        schemas = {
            "schema": schema.to_string(),
            "labels": table_schema(cfg.labels_table).to_string() if cfg.labels_table else None,
            "baseline": table_schema(cfg.baseline_table).to_string()
            if cfg.baseline_table
            else None,
        }
        # Views with stable names: the queries read them, so the text compiled by one refresh
        # still holds for the next (see PreparedQueries), whatever files the views list.
        # The schemas are in the name too: SQLFrame keeps a view's columns from its first use.
        self.views = f"churnops_monitor_{digest([cfg.name, cfg.table, schemas], 16)}"
        self.base = table_frame(engine, cfg.table)
        self.F, _ = dataframe_api(self.base)
        self.labels = None
        if cfg.labels_table:
            labels = table_frame(engine, cfg.labels_table)
            labels = labels.withColumn("_y", self.F.col(cfg.label_col))
            self.labels = engine.view(labels, f"{self.views}_labels")
        self.specs: dict[str, BinSpec] = {}
        if since is not None and state:
            self.specs = {c: BinSpec(**s) for c, s in state["specs"].items()}
        context = {
            "config": fingerprint(cfg),
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
            self.specs = bin_specs(
                profile_rows + baseline["profiles"], self.numeric, self.model, cfg.drift_bins
            )
        keys = [WINDOW, self.model, SLICE]
        for skey, bsdf in baseline.get("frames", []):
            # A column added to the predictions after the baseline was written has no baseline.
            specs = {c: s for c, s in self.specs.items() if c in bsdf.columns}
            counts = self._collect_histograms(f"baseline|{skey}", lambda b=bsdf: b, specs)
            baseline["hists"] += [self._tag(counts, g, skey) for g in cfg.granularities]
        hists = [self._tag(self._histograms(g, s), g, s) for g, s in frames]
        hist_new = histogram_table(hists, cat_counts, baseline, self.model)
        keys = [WINDOW, self.model, SLICE, "granularity", "slice_key"]
        for counts in cat_counts:
            rows = prof.categorical_profile(counts, keys, cfg.frequent_items)
            profile_rows += [{**r, WINDOW: utc_or_none(r[WINDOW])} for r in rows]
        for counts in baseline["cats"]:
            rows = prof.categorical_profile(counts, keys, cfg.frequent_items)
            baseline["profiles"] += [{**r, "log_type": "BASELINE"} for r in rows]
        table = table_rows(cfg, profile_rows, quality, baseline)
        profile_rows += baseline["profiles"] + table
        written = write_metrics(
            cfg, self.since, self.specs, profile_rows, hist_new,
            table_version=self.version, monitor_version=self.monitor_version,
        )  # fmt: skip
        return RefreshResult(
            "full" if self.since is None else "incremental",
            {g: s.isoformat() for g, s in self.since.items()} if self.since else None,
            written.windows,
            written.profile_rows,
            written.drift_rows,
        )

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
        return [
            {**r, WINDOW: utc_or_none(r[WINDOW]), "granularity": gran, "slice_key": skey}
            for r in rows
        ]

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
        return with_all_versions(counts, keys, self.model)

    def _histograms(self, gran: str, skey: str | None) -> pa.Table:
        counts = self._collect_histograms(f"{gran}|{skey}", lambda: self._frame(gran, skey))
        return with_all_versions(counts, [WINDOW, self.model, SLICE], self.model)

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
        bdf = table_frame(self.engine, cfg.baseline_table)
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

    # -- assembling ----------------------------------------------------------------------
    def _tag(self, table: pa.Table, gran: str, skey: str | None) -> pa.Table:
        n = table.num_rows
        table = table.append_column("granularity", pa.array([gran] * n, pa.string()))
        return table.append_column("slice_key", pa.array([skey] * n, pa.string()))


__all__ = ["RefreshResult", "refresh_monitor"]
