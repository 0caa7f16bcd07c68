"""hyperopt `fmin` with TPE, on `SparkTrials` (trials as Spark tasks, as on Databricks) or on
serial `Trials`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from churnops.trainers.tuning.config import TuneConfig
from churnops.trainers.tuning.objective import TuneData, evaluate_trial
from churnops.trainers.tuning.space import hyperopt_space, plain
from churnops.trainers.tuning.trials import TrialRecord


def search(
    cfg: TuneConfig, base: dict[str, Any], data: TuneData, workdir: Path, spark: Any = None
) -> tuple[list[TrialRecord], float]:
    """The `hyperopt` tuner backend (`TrialSearch`): `run_hyperopt` on `spark`, else on the
    session of `trials_engine` (stopped after, if it started one) when `cfg.spark_trials`. Its
    seconds leave out starting that session."""
    engine = trials_engine(cfg) if cfg.spark_trials and spark is None else None
    try:
        start = time.perf_counter()
        session = spark if engine is None else engine.session
        records = run_hyperopt(cfg, base, data, session if cfg.spark_trials else None)
        return records, time.perf_counter() - start
    finally:
        if engine is not None:
            engine.stop()


def trials_engine(cfg: TuneConfig) -> Any:
    """The Spark engine SparkTrials runs on: the running session, else one on
    `cfg.engine.spark.master` (or `$SPARK_MASTER`, spark-defaults), else `local[max_concurrent]`.
    Its `stop()` stops only a session it started."""
    from churnops.data.engines.spark import SparkEngine

    return SparkEngine(
        **cfg.engine.spark.model_dump(), default_master=f"local[{cfg.max_concurrent}]"
    )


def run_hyperopt(
    cfg: TuneConfig, base: dict[str, Any], data: TuneData, spark: Any = None
) -> list[TrialRecord]:
    """Run `cfg.num_samples` trials with TPE: on `SparkTrials(parallelism=max_concurrent)` on
    `spark` (see `trials_engine`) when `cfg.spark_trials`, else serially.

    Returns:
        One `TrialRecord` per finished trial, in trial order.
    """
    from hyperopt import STATUS_OK, SparkTrials, Trials, fmin, tpe

    cpus = cfg.trial_cpus

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        metrics = evaluate_trial(params, base, data, cpus)
        return {
            "loss": -metrics["val/auroc"],
            "status": STATUS_OK,
            "metrics": metrics,
            "params": {k: plain(v) for k, v in params.items()},
            "seconds": time.perf_counter() - start,
        }

    if cfg.spark_trials:
        if spark is None:
            raise ValueError("spark_trials=true: expected a SparkSession (see trials_engine)")
        trials: Any = SparkTrials(parallelism=cfg.max_concurrent, spark_session=spark)
    else:
        trials = Trials()
    fmin(objective, hyperopt_space(cfg.space), algo=tpe.suggest, max_evals=cfg.num_samples,
         trials=trials, rstate=np.random.default_rng(cfg.seed), show_progressbar=False)  # fmt: skip
    records = []
    for i, result in enumerate(trials.results):
        if result.get("status") != STATUS_OK:
            raise RuntimeError(f"hyperopt trial {i} failed: {result}")
        records.append(
            TrialRecord(i, result["params"], result["metrics"], float(result["seconds"]))
        )
    return records
