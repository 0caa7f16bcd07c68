"""Feature store benchmark: online lookups, point-in-time training sets, merges.

    scripts/benchmark feature_store [--customers 1000000] [--snapshots 10] [--labels 1000000]
                                    [--online-keys 100000] [--lookups 2000] [--engines duckdb,spark]

- online: 1 key x 10 features and 100 keys, SQLite file and Redis (127.0.0.1:6379), in process,
  after the table's latest rows are published; p50/p99 over `--lookups` calls.
- pit: `--labels` label rows against a `customers x snapshots` time-series table of 10 features,
  materialised to Arrow, on each engine and as a hand-written DuckDB window query over the same
  Delta files; the engines' results are checked against the query's.
- merge: 1 M rows (half updates, half new snapshots) into that table, by key.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churnops.benchmarks.report import write_results
from churnops.data.feature_store import FeatureLookup, LocalFeatureStore
from churnops.data.feature_store.online import OnlineStore
from churnops.data.feature_store.online.redis import RedisOnlineStore
from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore

COLUMNS = ["case", "p50_ms", "p99_ms", "seconds", "rows", "check"]
FEATURES = [f"f{i}" for i in range(10)]
TABLE = "bench.fs.customer_ts"
ONLINE_TABLE = "bench.fs.customer_latest"
START = date(2024, 1, 31)


def customer_ids(n: int) -> pa.Array:
    return pc.binary_join_element_wise("c", pc.cast(pa.array(np.arange(n)), pa.string()), "")


def snapshots(customers: int, n_snapshots: int, seed: int = 0) -> pa.Table:
    """`customers x n_snapshots` rows: one row per customer every 30 days, 10 double features."""
    rng = np.random.default_rng(seed)
    ids = customer_ids(customers)
    days = np.repeat(np.arange(n_snapshots) * 30, customers)
    as_of = pa.array(np.datetime64(START, "D") + days.astype("timedelta64[D]"), pa.date32())
    cols = {"customer_id": pa.concat_arrays([ids] * n_snapshots), "as_of": as_of}
    for f in FEATURES:
        cols[f] = pa.array(rng.random(customers * n_snapshots))
    return pa.table(cols)


def labels(customers: int, n_labels: int, n_snapshots: int, seed: int = 1) -> pa.Table:
    """Label rows at random days across the snapshots' span (some before the first)."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, customers, n_labels)
    offset = rng.integers(-15, n_snapshots * 30, n_labels).astype("timedelta64[D]")
    return pa.table(
        {
            "customer_id": customer_ids(customers).take(pa.array(pick)),
            "cutoff": pa.array(np.datetime64(START, "D") + offset, pa.date32()),
            "churn": pa.array(rng.integers(0, 2, n_labels), pa.int32()),
        }
    )


def reference_sql(files: list[str], labels_path: str) -> str:
    """The point-in-time join as one hand-written DuckDB window query."""
    feats = ", ".join(f"f.{f}" for f in FEATURES)
    return f"""
    SELECT customer_id, cutoff, {", ".join(FEATURES)}, churn FROM (
        SELECT l.customer_id, l.cutoff, l.churn, {feats},
               rank() OVER (PARTITION BY l.customer_id, l.cutoff ORDER BY f.as_of DESC) AS rn
        FROM read_parquet('{labels_path}') l
        LEFT JOIN read_parquet({files!r}) f
          ON f.customer_id = l.customer_id AND f.as_of <= l.cutoff
    ) WHERE rn = 1
    """


def checksum(table: pa.Table) -> str:
    """Rows, matched rows and the sum of f0: equal across cases when results agree."""
    f0 = table["f0"]
    total = pc.sum(f0).as_py() or 0.0
    return f"{table.num_rows}/{table.num_rows - f0.null_count}/{total:.6f}"


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ms = sorted(s / 1e6 for s in samples_ns)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]


def bench_online(store: LocalFeatureStore, workdir: Path, keys: int, lookups: int) -> list[dict]:
    latest = snapshots(keys, 1, seed=3).drop_columns(["as_of"])
    store.create_table(ONLINE_TABLE, "customer_id", df=latest)
    rows = []
    rng = np.random.default_rng(4)
    ids = customer_ids(keys).to_pylist()
    onlines: dict[str, OnlineStore] = {"sqlite": SQLiteOnlineStore(workdir / "online.db")}
    try:
        import redis

        redis.Redis(socket_connect_timeout=1).ping()
        onlines["redis"] = RedisOnlineStore(prefix="churnops-bench:")
    except Exception as exc:  # no server: say so in the table instead of failing the run
        print(f"redis skipped: {exc}")
    for kind, online in onlines.items():
        online.drop(ONLINE_TABLE)
        result = store.publish_table(ONLINE_TABLE, online, mode="full")
        for batch in (1, 100):
            for _ in range(50):  # warm-up: statement cache, connection
                online.read(ONLINE_TABLE, [ids[0]])
            samples, misses = [], 0
            for _ in range(lookups if batch == 1 else max(lookups // 4, 50)):
                wanted = [ids[i] for i in rng.integers(0, keys, batch)]
                t0 = time.perf_counter_ns()
                found = online.read(ONLINE_TABLE, wanted)
                samples.append(time.perf_counter_ns() - t0)
                misses += len(found.missing)
            p50, p99 = percentiles(samples)
            rows.append(
                {
                    "case": f"online-{kind}-{'1key' if batch == 1 else '100keys'}",
                    "p50_ms": p50,
                    "p99_ms": p99,
                    "seconds": None,
                    "rows": keys,
                    "check": f"{len(samples)} lookups, {misses} missing",
                }
            )
        print(f"published {result.rows_written:,} rows to {kind} in {result.seconds:.1f}s")
        online.drop(ONLINE_TABLE)
        online.close()
    return rows


def bench_pit(store, workdir: Path, label_rows: pa.Table, engines: list[str]) -> list[dict]:
    labels_path = workdir / "labels.parquet"
    pq.write_table(label_rows, labels_path)
    files = [u.removeprefix("file://") for u in store._open(TABLE).file_uris()]
    con = duckdb.connect()
    con.sql(reference_sql(files, str(labels_path))).to_arrow_table()  # warm the file cache
    ref, seconds = timed(lambda: con.sql(reference_sql(files, str(labels_path))).to_arrow_table())
    rows = [
        {"case": "pit-duckdb-sql", "seconds": seconds, "rows": ref.num_rows, "check": checksum(ref)}
    ]
    lookup = FeatureLookup(TABLE, "customer_id", timestamp_lookup_key="cutoff")
    for name in engines:
        from churnops.data.engines import get_engine

        engine, start_s = timed(lambda name=name: get_engine(name))
        try:
            df = engine.read_parquet(labels_path)

            def run(engine=engine, df=df):
                training = store.create_training_set(df, [lookup], label="churn")
                return engine.to_arrow(training.load_df())

            if name == "duckdb":
                run()  # warm-up, as for the reference; spark is timed cold but after start
            out, seconds = timed(run)
        finally:
            engine.stop()
        same = checksum(out) == checksum(ref)
        rows.append(
            {
                "case": f"pit-{name}",
                "seconds": seconds,
                "rows": out.num_rows,
                "check": checksum(out) + (" = sql" if same else " != sql"),
            }
        )
        if name == "spark":
            rows[-1]["check"] += f" (session start {start_s:.1f}s apart)"
    return rows


def bench_merge(store: LocalFeatureStore, customers: int, n_snapshots: int, rows: int) -> dict:
    half = rows // 2
    rng = np.random.default_rng(5)
    base = snapshots(customers, n_snapshots, seed=6)
    updates = base.take(pa.array(rng.choice(base.num_rows, half, replace=False)))
    new = snapshots(customers, n_snapshots + 1, seed=7).slice(customers * n_snapshots, rows - half)
    batch = pa.concat_tables([updates, new])
    before = store.get_table(TABLE).version
    _, seconds = timed(lambda: store.write_table(TABLE, batch))
    after = store._open(TABLE).count()
    return {
        "case": "merge-duckdb",
        "seconds": seconds,
        "rows": batch.num_rows,
        "check": f"v{before}->v{store.get_table(TABLE).version}, table {after:,} rows",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmark feature_store", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--snapshots", type=int, default=10)
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--merge-rows", type=int, default=1_000_000)
    parser.add_argument("--online-keys", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--workdir", help="keep the data here (default: a temp folder)")
    parser.add_argument("--results-dir", help="where the JSON/MD go (default docs/results)")
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]

    with tempfile.TemporaryDirectory(prefix="churnops-bench-fs-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        store = LocalFeatureStore(workdir / "fs")
        rows = bench_online(store, workdir, args.online_keys, args.lookups)

        table = snapshots(args.customers, args.snapshots)
        start = time.perf_counter()
        store.create_table(TABLE, "customer_id", df=table, timeseries_column="as_of")
        print(
            f"wrote the {table.num_rows:,}-row time-series table "
            f"in {time.perf_counter() - start:.1f}s"
        )
        del table
        label_rows = labels(args.customers, args.labels, args.snapshots)
        rows += bench_pit(store, workdir, label_rows, engines)
        rows.append(bench_merge(store, args.customers, args.snapshots, args.merge_rows))

    for r in rows:
        for c in ("p50_ms", "p99_ms", "seconds"):
            r.setdefault(c, None)
    write_results(
        "feature_store",
        rows,
        COLUMNS,
        title="Feature store: online lookups, point-in-time training sets, merges",
        notes=[
            f"online: {args.online_keys:,} keys x 10 double features, published; "
            f"{args.lookups} single-key lookups, a quarter as many 100-key ones, in process",
            f"pit: {args.labels:,} labels vs {args.customers:,} customers x {args.snapshots} "
            "snapshots (10 features), materialised to Arrow; check = rows/matched/sum(f0)",
            "pit-duckdb-sql is the same window-function join written by hand over the Delta files",
            f"merge: {args.merge_rows:,} rows (half updates, half new snapshots) into the table",
        ],
        results_dir=Path(args.results_dir) if args.results_dir else None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
