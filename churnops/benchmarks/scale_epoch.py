"""Scale run: synthetic customers through the feature store into a training set, one epoch.

    scripts/benchmark scale_epoch [--customers 100000000] [--batch-size 262144] [--workers N]
                                  [--usd-per-hour 4.0] [--workdir DIR] [--keep]

1. generate: the synthetic orders generator (`churnops.data.sources.synthetic`), its seeded
   blocks spread over `--workers` processes, one Parquet file per process;
2. features: the orders cleaned and customer features as of the cutoff (duckdb engine)
   written to the local feature store as a Delta time-series table;
3. training set: churn labels over the horizon, `create_training_set` with a point-in-time
   `FeatureLookup` into that table, materialised as Parquet. Stages 2 and 3 are one call of
   the training-set builder `train(cfg)` uses (`trainers.training_set.build_training_set`),
   split at the feature table's commit;
4. train: `train(cfg)` (what `scripts/train` runs) on it, the net for one epoch at
   `--batch-size`, streamed from the Parquet with the `arrow-stream` loader; bf16 on a GPU.

Each stage's rows, seconds, rate and cost (at `--usd-per-hour`, an assumed price for the
machine: pass the real one) are a row; `at_100m_s` scales each stage's time linearly to 100 M
customers, so a small run says what the full one would take.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from churnops.benchmarks.report import load_note, write_results
from churnops.benchmarks.scale import CUTOFF, HORIZON_DAYS, TABLE

TITLE = "Scale run: synthetic customers through the feature store, one epoch"
COLUMNS = ["stage", "customers", "rows", "seconds", "rows_per_s", "cost_usd", "at_100m_s", "note"]
FULL = 100_000_000


def _generate_part(path: str, seed: int, blocks: list[int], last_customers: int | None) -> int:
    """Orders of `blocks` to one Parquet file; the final block cut to `last_customers`."""
    from churnops.data.sources.synthetic import BLOCK, generate_block

    rows = 0
    with pq.ParquetWriter(path, _orders_schema()) as writer:
        for block in blocks:
            table = generate_block(seed, block, BLOCK)
            if last_customers is not None and block == blocks[-1]:
                # As `generate_orders` does: the whole block drawn, its first customers kept.
                bound = f"S{block * BLOCK + last_customers:09d}"
                table = table.filter(pc.less(table["customer_id"], bound))
            writer.write_table(table, row_group_size=1 << 20)
            rows += len(table)
    return rows


def _orders_schema() -> Any:
    from churnops.data.schema import ORDERS_SCHEMA

    return ORDERS_SCHEMA


def generate(folder: Path, customers: int, seed: int, workers: int) -> int:
    """Synthetic orders for `customers` as Parquet files under `folder`; the orders written.

    Blocks are seeded by (seed, block), so the orders are the same as `generate_orders`
    writes in one file, whatever `workers` is.
    """
    from churnops.data.sources.synthetic import BLOCK

    folder.mkdir(parents=True, exist_ok=True)
    n_blocks = -(-customers // BLOCK)
    tail = customers - (n_blocks - 1) * BLOCK
    parts = [list(range(n_blocks))[i::workers] for i in range(workers)]
    parts = [sorted(p) for p in parts if p]
    with ProcessPoolExecutor(len(parts)) as pool:
        futures = [
            pool.submit(
                _generate_part,
                str(folder / f"part-{i:04d}.parquet"),
                seed,
                blocks,
                tail if tail < BLOCK and blocks[-1] == n_blocks - 1 else None,
            )
            for i, blocks in enumerate(parts)
        ]
        return sum(f.result() for f in futures)


def build_set(orders_dir: Path, store_root: Path, path: Path) -> tuple[int, int, float]:
    """The training set at `path` from the orders under `orders_dir`, by the one builder
    (`churnops.trainers.training_set.build_training_set`: clean orders, features into the
    feature store, a point-in-time set).

    Returns:
        (feature-table rows, training-set rows, seconds until the feature table's commit:
        the orders cleaned and the features in the store).
    """
    from churnops.data.engines import get_engine
    from churnops.data.feature_store import LocalFeatureStore
    from churnops.data.sources import SourceConfig
    from churnops.data.sources.reuse import CACHE_ENV
    from churnops.trainers.config import DataConfig
    from churnops.trainers.training_set import build_training_set

    source = SourceConfig(kind="parquet", path=str(orders_dir))
    data = DataConfig(name="synthetic", source=source, as_of=CUTOFF, horizon_days=HORIZON_DAYS)
    started = datetime.now(UTC)
    # The clean orders stay in this run's folder (removed without --keep), not in the
    # shared clean-orders cache.
    with _environ(CACHE_ENV, "off"):
        built = build_training_set(path, data, store_root, feature_table=TABLE)
    engine = get_engine("duckdb")
    try:
        store = LocalFeatureStore(str(store_root), engine=engine)
        # The set is built from the table as last committed: that commit ends the features.
        committed = datetime.fromisoformat(store.history(TABLE)[0]["timestamp"])
        feature_rows = store.read_table(TABLE).count()
    finally:
        engine.stop()
    return feature_rows, built.rows, (committed - started).total_seconds()


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """`name` set to `value` inside the block, as it was after."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def train_one_epoch(path: Path, workdir: Path, batch_size: int, device: str) -> Any:
    """`train(cfg)` on `path`: the net, one epoch, streamed with `arrow-stream`."""
    from churnops.trainers.config import load_train_config
    from churnops.trainers.train import train

    overrides = [
        f"workdir={workdir}",
        f"data.path={path}",
        "model=mlp",
        "trainer.max_epochs=1",
        f"trainer.batch_size={batch_size}",
        "trainer.loader=arrow-stream",
        "trainer.progress_bar=false",
        "logger=none",
    ]
    if device == "cuda":
        overrides += ["trainer=gpu", "launcher.use_gpu=true"]
    else:
        overrides += ["trainer.accelerator=cpu"]
    return train(load_train_config(overrides))


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The four stages, timed; one row each and a total."""
    workdir = Path(args.workdir).resolve()
    if workdir.exists():
        shutil.rmtree(workdir)  # a rerun measures from scratch, not from a half-built folder
    workdir.mkdir(parents=True)
    rows: list[dict[str, Any]] = []

    def row(stage: str, n: int, seconds: float, note: str = "") -> None:
        rows.append(
            {
                "stage": stage,
                "customers": args.customers,
                "rows": n,
                "seconds": round(seconds, 1),
                "rows_per_s": round(n / seconds) if seconds > 0 else None,
                "cost_usd": round(seconds / 3600 * args.usd_per_hour, 4),
                "at_100m_s": round(seconds * FULL / args.customers),
                "note": note,
            }
        )

    start = time.perf_counter()
    orders = generate(workdir / "orders", args.customers, args.seed, args.workers)
    row("generate orders", orders, time.perf_counter() - start, f"{args.workers} processes")

    start = time.perf_counter()
    path = workdir / "training_set.parquet"
    feature_rows, set_rows, features_s = build_set(
        workdir / "orders", workdir / "feature_store", path
    )
    row(
        "features -> feature store",
        feature_rows,
        features_s,
        f"orders cleaned, Delta table {TABLE}",
    )
    row(
        "point-in-time training set",
        set_rows,
        time.perf_counter() - start - features_s,
        f"Parquet, {pq.ParquetFile(path).metadata.num_row_groups} row groups",
    )

    start = time.perf_counter()
    result = train_one_epoch(path, workdir / "train", args.batch_size, args.device)
    total = time.perf_counter() - start
    fit = result.model.fit_result
    row(
        "train: the epoch (fit)",
        result.n_train,
        fit.seconds,
        f"{fit.device}, batch {args.batch_size:,}, arrow-stream, test AUROC "
        f"{result.metrics['test/auroc']:.4f}",
    )
    row("train: all of train(cfg)", set_rows, total, "read, split, write splits, fit, score")
    row("total", set_rows, sum(r["seconds"] for r in rows[:3]) + total)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def parse_args(argv: list[str]) -> argparse.Namespace:
    import torch

    p = argparse.ArgumentParser(prog="scripts/benchmark scale_epoch", description=__doc__)
    p.add_argument("--customers", type=int, default=FULL, help="synthetic customers")
    p.add_argument("--batch-size", type=int, default=262_144)
    p.add_argument("--device", choices=["cuda", "cpu"])
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="generator processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--usd-per-hour", type=float, default=4.0, help="machine price (assumed)")
    p.add_argument("--workdir", default=".churnops/scale")
    p.add_argument("--keep", action="store_true", help="keep the orders, store and training set")
    p.add_argument("--results-dir", type=Path, help="write scale.json/.md here (default docs/)")
    p.add_argument("--name", default="scale", help="results file name")
    args = p.parse_args(argv)
    if args.customers < 1:
        p.error(f"--customers: {args.customers}: expected a positive integer")
    # Every synthetic customer is acquired before the cutoff, so the set has one row each;
    # train(cfg) holds out 20% for test and 10% of the rest for validation.
    fit_rows = int(args.customers * 0.8 * 0.9)
    if fit_rows < args.batch_size:
        p.error(
            f"--batch-size {args.batch_size:,} is more than the fit split's ~{fit_rows:,} rows "
            f"of {args.customers:,} customers: the epoch would hold no full batch; use more "
            "customers or a smaller batch"
        )
    if args.workers < 1:
        p.error(f"--workers: {args.workers}: expected a positive integer")
    cuda = torch.cuda.is_available()
    args.device = args.device or ("cuda" if cuda else "cpu")
    if args.device == "cuda" and not cuda:
        p.error("--device cuda: torch sees no CUDA GPU on this machine")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    load_before = os.getloadavg()[0]
    rows = run(args)
    notes = [
        f"{args.customers:,} synthetic customers (seed {args.seed}), features as of {CUTOFF}, "
        f"churn over {HORIZON_DAYS} days; the net (configs/model/mlp.yaml) for one epoch at "
        f"batch {args.batch_size:,} on {args.device}"
        + (" in bf16 (trainer=gpu)" if args.device == "cuda" else "")
        + ", streamed from the training set's Parquet by arrow-stream.",
        "train: the epoch (fit) is the fit's own time (one epoch over the fit split plus its "
        "validation pass); all of train(cfg) adds reading the set, splitting, writing the "
        "splits as Parquet and scoring the test split.",
        f"cost_usd at ${args.usd_per_hour:g}/hour (--usd-per-hour; an assumed price). "
        f"at_100m_s: the stage's seconds scaled linearly to {FULL:,} customers.",
        load_note(load_before),
    ]
    write_results(args.name, rows, COLUMNS, TITLE, notes, results_dir=args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
