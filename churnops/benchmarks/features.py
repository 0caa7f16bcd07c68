"""Features benchmark: hand-written DuckDB SQL (the reference) vs the duckdb and spark engines.

    scripts/benchmark features [--orders N] [--engines duckdb,spark] [--repeat 2]

Each case computes the 18 customer features as of a cutoff over the same synthetic orders
Parquet, is warmed up once, then timed `--repeat` times (best kept); the engines' results are
compared to the reference (same rows, values to 1e-9). Spark's session start is reported apart.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from churnops.benchmarks.report import write_results
from churnops.benchmarks.scale import CUTOFF
from churnops.data.engines import get_engine
from churnops.data.features import compute_customer_features
from churnops.data.features.parity import compare_frames
from churnops.data.sources.synthetic import generate_orders

AS_OF = CUTOFF.isoformat()  # the synthetic orders' cutoff (configs/features/synthetic.yaml)
COLUMNS = ["case", "orders", "seconds", "orders_per_s", "matches_reference"]


def reference_sql(path: str, as_of: str) -> str:
    """The features as one hand-written DuckDB query: what the engines are measured against."""
    c = f"DATE '{as_of}'"
    windows = ", ".join(
        f"count(*) FILTER (WHERE order_date > {c} - INTERVAL {w} DAY) AS orders_{w}d, "
        f"coalesce(sum(amount) FILTER (WHERE order_date > {c} - INTERVAL {w} DAY), 0) AS spent_{w}d"
        for w in (30, 90, 180)
    )
    return f"""
    WITH history AS (
        SELECT *, order_date - lag(order_date) OVER (PARTITION BY customer_id ORDER BY order_date)
               AS gap_days
        FROM read_parquet('{path}') WHERE order_date <= {c}
    ), per_customer AS (
        SELECT customer_id, count(DISTINCT order_id) AS total_orders, sum(amount) AS total_spent,
               count(DISTINCT order_date) AS active_days, min(order_date) AS first_order_date,
               max(order_date) AS last_order_date, avg(gap_days) AS mean_gap,
               stddev_samp(gap_days) AS std_gap, max(gap_days) AS max_gap,
               sum(quantity) AS total_quantity, max(amount) AS max_order_value, {windows}
        FROM history GROUP BY customer_id
    )
    SELECT customer_id, {c} AS as_of,
           total_orders::BIGINT AS total_orders, total_spent::DOUBLE AS total_spent,
           (total_spent / total_orders)::DOUBLE AS avg_order_value,
           ({c} - last_order_date)::BIGINT AS days_since_last_order,
           active_days::BIGINT AS active_days, ({c} - first_order_date)::BIGINT AS tenure_days,
           mean_gap::DOUBLE AS mean_days_between_orders, std_gap::DOUBLE AS std_days_between_orders,
           max_gap::BIGINT AS max_days_between_orders,
           orders_30d::BIGINT AS orders_30d, orders_90d::BIGINT AS orders_90d,
           orders_180d::BIGINT AS orders_180d, spent_30d::DOUBLE AS spent_30d,
           spent_90d::DOUBLE AS spent_90d, spent_180d::DOUBLE AS spent_180d,
           total_quantity::BIGINT AS total_quantity,
           (total_quantity / total_orders)::DOUBLE AS avg_quantity_per_order,
           max_order_value::DOUBLE AS max_order_value
    FROM per_customer
    """


def best_time(run: Callable[[], pa.Table], repeat: int) -> tuple[float, pa.Table]:
    """Warm up once, then the best of `repeat` timed runs and the last result."""
    result = run()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/benchmark features", description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000_000, help="synthetic orders")
    parser.add_argument("--engines", default="duckdb,spark", help="comma-separated engines")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per case (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=".churnops/bench", help="where the orders go")
    parser.add_argument("--results-dir", default=None, help="default: docs/results")
    args = parser.parse_args(argv)

    path = Path(args.data_dir) / f"orders-o{args.orders}-seed{args.seed}.parquet"
    if not path.exists():
        print(f"generating {args.orders:,} synthetic orders -> {path}")
        generate_orders(path, orders=args.orders, seed=args.seed)
    n_orders = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]

    rows, notes = [], []
    con = duckdb.connect()
    seconds, reference = best_time(
        lambda: con.sql(reference_sql(str(path), AS_OF)).to_arrow_table(), args.repeat
    )
    rows.append(_row("duckdb-sql", n_orders, seconds, True))
    for name in [e.strip() for e in args.engines.split(",") if e.strip()]:
        start = time.perf_counter()
        engine = get_engine(name)
        if name == "spark":
            notes.append(f"spark session start: {time.perf_counter() - start:.1f} s (not included)")
        try:

            def run(engine=engine) -> pa.Table:
                return engine.to_arrow(compute_customer_features(engine.read_parquet(path), AS_OF))

            seconds, result = best_time(run, args.repeat)
        finally:
            engine.stop()
        problems = compare_frames(result, reference)
        if problems:
            notes.append(f"{name} differs from the reference: {'; '.join(problems)}")
        rows.append(_row(name, n_orders, seconds, not problems))
    ref = rows[0]["seconds"]
    for row in rows[1:]:
        notes.append(f"{row['case']}: {row['seconds'] / ref:.2f}x the hand-written SQL")
    notes.append(
        f"features as of {AS_OF}; warm runs, best of {args.repeat}; target: duckdb <= 1.5x"
    )
    write_results(
        "features",
        rows,
        COLUMNS,
        "Features: hand-written DuckDB SQL vs the duckdb and spark engines",
        notes,
        Path(args.results_dir) if args.results_dir else None,
    )
    return 0 if all(r["matches_reference"] for r in rows) else 1


def _row(case: str, orders: int, seconds: float, matches: bool) -> dict:
    return {
        "case": case,
        "orders": orders,
        "seconds": round(seconds, 3),
        "orders_per_s": round(orders / seconds),
        "matches_reference": matches,
    }
