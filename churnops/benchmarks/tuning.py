"""`scripts/benchmark tuning`: configs/tune/random_forest.yaml, 20 trials on CDNOW, three ways.

Ray Tune with Optuna TPE at parallelism 1 and 2 (one CPU and one sklearn thread per trial), and
hyperopt `fmin` (TPE) on `SparkTrials` with parallelism 2 on local Spark. Each trial fits on 75%
of the 80% train split and scores `val/auroc` on the rest; trials are nested MLflow runs in a temp
store. `seconds` is the search alone: starting Ray or Spark, loading the data and logging the
trials afterwards are excluded.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from churnops.benchmarks.report import write_results

COLUMNS = ["backend", "trials", "seconds", "best_roc_auc", "trials_per_min"]
BACKENDS = ("ray-p1", "ray-p2", "spark-trials")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/benchmark tuning", description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--training-set", help="training-set Parquet (default: CDNOW's, built)")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def overrides(backend: str, trials: int, seed: int) -> list[str]:
    """The sweep config overrides for one benchmark row."""
    common = [f"num_samples={trials}", f"seed={seed}", "refit=false", "trial_cpus=1"]
    if backend == "ray-p1":
        return [*common, "backend=ray", "search=optuna", "max_concurrent=1"]
    if backend == "ray-p2":
        return [*common, "backend=ray", "search=optuna", "max_concurrent=2"]
    if backend == "spark-trials":
        return [*common, "backend=hyperopt", "spark_trials=true", "max_concurrent=2"]
    raise ValueError(f"backend={backend!r}: expected one of {BACKENDS}")


def run_backend(backend: str, training_set: Path, trials: int, seed: int) -> dict[str, Any]:
    from churnops.trainers.tuning import load_tune_config, sweep

    with tempfile.TemporaryDirectory(prefix=f"tune-{backend}-") as tmp:
        train = [f"data.path={training_set}", f"workdir={tmp}", "logger.log_plots=false"]
        cfg = load_tune_config(
            "random_forest", [*overrides(backend, trials, seed), f"train_overrides={train!r}"]
        )
        result = sweep(cfg)
    return {
        "backend": backend,
        "trials": len(result.trials),
        "seconds": round(result.seconds, 2),
        "best_roc_auc": round(result.best_metric, 4),
        "trials_per_min": round(result.trials_per_min, 2),
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        overrides(b, 1, 0)  # a typo fails before anything runs
    with tempfile.TemporaryDirectory(prefix="tune-data-") as tmp:
        path = Path(args.training_set) if args.training_set else None
        if path is None:
            from churnops.trainers.config import DataConfig
            from churnops.trainers.training_set import build_training_set

            path = Path(tmp) / "training_set.parquet"
            build_training_set(path, DataConfig(), Path(tmp) / "feature_store")
        rows = [run_backend(b, path, args.trials, args.seed) for b in backends]
    write_results(
        "tuning",
        rows,
        COLUMNS,
        title=f"Tuning: {args.trials} trials of the RandomForest space on CDNOW",
        notes=[
            "Space: n_estimators [50, 100, 200], max_depth [5, 10, 15, 20], min_samples_split "
            "[2, 5, 10]; metric val/auroc on a 25% validation split of the 80% train split.",
            "ray-p1 / ray-p2: Ray Tune + Optuna TPE, 1 or 2 concurrent trials, 1 CPU each "
            "(sklearn n_jobs=1). spark-trials: hyperopt fmin (TPE) on SparkTrials, parallelism "
            "2, Spark local[2].",
            "seconds: the search alone (Ray/Spark start-up, data loading and logging the trials "
            "as nested MLflow runs afterwards are excluded).",
        ],
    )
    return 0
