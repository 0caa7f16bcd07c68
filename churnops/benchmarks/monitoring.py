"""`scripts/benchmark monitoring`: full and incremental refreshes on both engines vs Evidently.

A baseline of 1M rows and 10 daily windows of 100k rows with 18 numeric features (a shift
injected into three of them from window 6 on). The duckdb and spark engines run a full refresh
(every profile and drift statistic), then an incremental one after an 11th window lands;
Evidently's DataDriftPreset compares the same 10 windows with the baseline, in the same run.
KS statistics are checked against `scipy.stats.ks_2samp` on the raw columns and PSI against
numpy on the same bins.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from churnops.benchmarks.report import write_results

COLUMNS = ["engine", "case", "seconds", "rows", "vs_evidently", "ks_max_error", "psi_max_error"]
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def make_rows(n: int, features: int, rng: np.random.Generator, shift: float = 0.0) -> dict:
    """Features of mixed shapes (normal, lognormal, counts); `shift` moves three of them."""
    cols: dict[str, Any] = {}
    for i in range(features):
        kind = i % 3
        if kind == 0:
            x = rng.normal(size=n)
        elif kind == 1:
            x = rng.lognormal(size=n)
        else:
            x = rng.poisson(4, size=n).astype(np.float64)
        if shift and i < 3:
            x = x + shift * (1.0 if kind == 0 else x.std())
        cols[f"f{i}"] = x
    logit = cols["f0"] - 0.3 * np.log1p(cols["f1"]) + rng.normal(scale=0.5, size=n)
    p = 1 / (1 + np.exp(-logit))
    cols["probability"] = p
    cols["prediction"] = (p >= 0.5).astype(np.int64)
    return cols


def window_table(day: int, n: int, features: int, seed: int, shift: float) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols = make_rows(n, features, rng, shift)
    start = int((START + dt.timedelta(days=day)).timestamp() * 1_000_000)
    ts = start + rng.integers(0, 86_400_000_000, n)
    return pa.table(
        {
            "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "model_version": pa.array(["1"] * n, pa.string()),
            **cols,
        }
    )


def run_engine(name: str, cfg: Any, new_window: pa.Table, table: str) -> list[dict[str, Any]]:
    """Full refresh, then append one window and refresh incrementally; time both."""
    from deltalake import write_deltalake

    from churnops.data.engines import engine_for
    from churnops.monitoring.refresh.run import refresh_monitor

    with engine_for(name) as engine:
        cfg = cfg.model_copy(update={"engine": name, "output_dir": f"{cfg.output_dir}_{name}"})
        start = time.perf_counter()
        full = refresh_monitor(cfg, engine=engine, full=True)
        t_full = time.perf_counter() - start
        write_deltalake(table, new_window, mode="append")
        start = time.perf_counter()
        inc = refresh_monitor(cfg, engine=engine)
        t_inc = time.perf_counter() - start
    # Back to the 10 windows for the next engine.
    from deltalake import DeltaTable

    DeltaTable(table).restore(DeltaTable(table).version() - 1)
    assert inc.mode == "incremental", inc
    return [
        {"engine": name, "case": "full", "seconds": t_full, "rows": full.windows, "_cfg": cfg},
        {"engine": name, "case": "incremental", "seconds": t_inc, "rows": inc.windows},
    ]


def check_statistics(cfg: Any, baseline: pa.Table, windows: list[pa.Table]) -> tuple[float, float]:
    """Max |KS - ks_2samp| and max |PSI - numpy PSI| over every window and feature."""
    import json

    from deltalake import DeltaTable
    from scipy import stats

    from churnops.monitoring.refresh.statistics import EPS, BinSpec, psi_edges

    drift = DeltaTable(cfg.table_path("drift_metrics")).to_pandas()
    drift = drift[
        (drift.drift_type == "BASELINE") & drift.slice_key.isna() & (drift.model_version == "*")
    ]
    specs = json.loads(Path(cfg.table_path("state.json")).read_text())["specs"]
    ks_err = psi_err = 0.0
    for w, table in enumerate(windows):
        day = START + dt.timedelta(days=w)
        rows = drift[drift.window.map(lambda v, day=day: v["start"] == day)]
        for _, r in rows.iterrows():
            if r.column_name not in specs or r.column_name not in table.column_names:
                continue
            cur = table[r.column_name].to_numpy()
            base = baseline[r.column_name].to_numpy()
            ks_err = max(ks_err, abs(r.ks_test["statistic"] - stats.ks_2samp(cur, base).statistic))
            spec = BinSpec(**specs[r.column_name])
            edges = spec.edges()[psi_edges(np.bincount(spec.index(base), minlength=spec.bins), 10)]
            edges[0], edges[-1] = -np.inf, np.inf  # the outer bins hold everything beyond
            e = np.maximum(np.histogram(base, edges)[0] / len(base), EPS)
            a = np.maximum(np.histogram(cur, edges)[0] / len(cur), EPS)
            psi_err = max(
                psi_err, abs(r.population_stability_index - np.sum((a - e) * np.log(a / e)))
            )
    return ks_err, psi_err


def run_evidently(baseline: pa.Table, windows: list[pa.Table], features: list[str]) -> float:
    """Evidently's DataDriftPreset: each window against the baseline (data already in memory);
    the seconds for these windows."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=features)
    reference = Dataset.from_pandas(
        baseline.select(features).to_pandas(), data_definition=definition
    )
    start = time.perf_counter()
    for table in windows:
        current = Dataset.from_pandas(
            table.select(features).to_pandas(), data_definition=definition
        )
        Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/benchmark monitoring", description=__doc__)
    parser.add_argument("--baseline-rows", type=int, default=1_000_000)
    parser.add_argument("--window-rows", type=int, default=100_000)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--features", type=int, default=18)
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--no-evidently", action="store_true", help="skip Evidently")
    parser.add_argument(
        "--evidently-seconds",
        type=float,
        help="use this earlier Evidently time instead of running it",
    )
    parser.add_argument(
        "--evidently-windows",
        type=int,
        help="time Evidently on this many windows and scale to all (default: all of them)",
    )
    parser.add_argument("--workdir", help="where the tables go (default: a temp folder)")
    parser.add_argument("--results-dir")
    args = parser.parse_args(argv)

    from deltalake import write_deltalake

    from churnops.monitoring.config import MonitorConfig

    work = Path(args.workdir or tempfile.mkdtemp(prefix="churnops-monitoring-bench-"))
    rng = np.random.default_rng(0)
    baseline = pa.table(make_rows(args.baseline_rows, args.features, rng))
    write_deltalake(str(work / "baseline"), baseline, mode="overwrite")
    windows = [
        window_table(w, args.window_rows, args.features, seed=100 + w, shift=0.5 if w >= 6 else 0.0)
        for w in range(args.windows)
    ]
    table = str(work / "predictions")
    write_deltalake(table, pa.concat_tables(windows), mode="overwrite")
    new_window = window_table(args.windows, args.window_rows, args.features, 999, 0.5)
    cfg = MonitorConfig(
        name="bench",
        table=table,
        output_dir=str(work / "out"),
        baseline_table=str(work / "baseline"),
        granularities=["1 day"],
    )
    rows: list[dict[str, Any]] = []
    state: dict[str, Any] = {"errors": (None, None), "evidently": args.evidently_seconds}

    def publish() -> None:
        # Written after every phase: a run cut short still leaves what it measured.
        _publish(rows, state, args)

    for name in [e for e in args.engines.split(",") if e]:
        got = run_engine(name, cfg, new_window, table)
        if name == "duckdb":
            state["errors"] = check_statistics(got[0].pop("_cfg"), baseline, windows)
        got[0].pop("_cfg", None)
        rows += got
        publish()
        if name == "duckdb" and state["evidently"] is None and not args.no_evidently:
            features = [f"f{i}" for i in range(args.features)] + ["probability"]
            k = min(args.evidently_windows or args.windows, args.windows)
            seconds = run_evidently(baseline, windows[:k], features)
            state["evidently"] = seconds * args.windows / k
            state["evidently_windows"] = k
            publish()
    return 0


def _publish(rows: list[dict[str, Any]], state: dict[str, Any], args: argparse.Namespace) -> None:
    out = [dict(r) for r in rows]
    evidently = state["evidently"]
    if evidently is not None:
        out.append(
            {"engine": "evidently", "case": "full", "seconds": evidently, "rows": args.windows}
        )
    full = {r["engine"]: r["seconds"] for r in out if r["case"] == "full"}
    for r in out:
        if evidently and r["engine"] != "evidently":
            r["vs_evidently"] = evidently / r["seconds"]
        if r["engine"] == "duckdb" and r["case"] == "full":
            r["ks_max_error"], r["psi_max_error"] = state["errors"]
        if r["case"] == "incremental":
            r["share_of_full"] = r["seconds"] / full[r["engine"]]
    load = os.getloadavg()
    k = state.get("evidently_windows")
    notes = [
        f"load average (1/5/15 min) at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
        " on 2 cores shared with other jobs: absolute seconds are inflated by that load",
        f"data: baseline {args.baseline_rows:,} rows, {args.windows} daily windows of "
        f"{args.window_rows:,} rows, {args.features} numeric features plus score and decision; "
        "`rows` is the number of windows each refresh computed",
        "full: profile (count, nulls, zeros, mean, stddev, min, max, distinct; quantiles read off "
        "the fine histograms), fine histograms (integral bins for the whole-number count "
        "features), CONSECUTIVE and BASELINE drift (KS, Wasserstein, PSI; chi2/JS/TV/L-inf for "
        "the decision); incremental: after one new window lands",
        "Evidently: DataDriftPreset, each window against the baseline, on pandas frames already "
        "in memory (its reading is not timed; ours is)"
        + (
            f"; timed on {k} of {args.windows} windows and scaled by {args.windows}/{k}"
            if k and k < args.windows
            else ""
        ),
        "ks_max_error: max |KS - scipy.stats.ks_2samp| over windows x features (target <= 0.005);"
        " psi_max_error: max |PSI - numpy PSI on the same bins|",
        "targets: duckdb full >= 40x faster than Evidently; incremental <= 15% of full",
    ]
    write_results(
        "monitoring",
        out,
        [*COLUMNS, "share_of_full"],
        "Monitoring refresh: duckdb and spark engines vs Evidently",
        notes,
        Path(args.results_dir) if args.results_dir else None,
    )
