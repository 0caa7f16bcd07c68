"""Ray Tune: Optuna TPE (default) or HyperOpt search, limited concurrency, ASHA for the net."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from churnops.trainers.launchers.ray_cluster import connect_ray, storage_uri
from churnops.trainers.tuning.config import TuneConfig
from churnops.trainers.tuning.objective import TuneData, evaluate_trial
from churnops.trainers.tuning.space import plain, ray_space
from churnops.trainers.tuning.trials import TrialRecord

RAY_METRIC = "val_auroc"  # Ray flattens nested results on "/", so the tuner sees val_auroc


def _ray_key(key: str) -> str:
    return key.replace("/", "_")


def _trainable(config: dict[str, Any], data: TuneData, base: dict[str, Any], cpus: int) -> None:
    from ray import tune

    def report(metrics: dict[str, float]) -> None:
        tune.report({_ray_key(k): v for k, v in metrics.items()})

    per_epoch = report if base["model"]["name"] == "mlp" else None
    metrics = evaluate_trial(config, base, data, cpus, per_epoch)
    report({**metrics, "final": 1.0})


def search(
    cfg: TuneConfig, base: dict[str, Any], data: TuneData, workdir: Path, spark: Any = None
) -> tuple[list[TrialRecord], float]:
    """The `ray` tuner backend (`TrialSearch`): `run_ray` with results under
    `<workdir>/ray_results`; its seconds include joining the cluster. `spark` plays no part."""
    start = time.perf_counter()
    records = run_ray(cfg, base, data, workdir / "ray_results")
    return records, time.perf_counter() - start


def run_ray(
    cfg: TuneConfig, base: dict[str, Any], data: TuneData, storage: Path
) -> list[TrialRecord]:
    """Run `cfg.num_samples` trials on Ray: the cluster at `cfg.ray_address` (or `$RAY_ADDRESS`),
    else the running or a new local instance. Results go to `cfg.ray_storage_path` or `storage`.

    Returns:
        One `TrialRecord` per trial, in trial order.
    """
    import ray
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    # No resource arguments: a cluster refuses them; trials at once are capped by the limiter.
    started = connect_ray(cfg.ray_address, "ray_address")
    try:
        if cfg.search == "optuna":
            from ray.tune.search.optuna import OptunaSearch

            searcher: Any = OptunaSearch(metric=RAY_METRIC, mode="max", seed=cfg.seed)
        else:
            from ray.tune.search.hyperopt import HyperOptSearch

            searcher = HyperOptSearch(metric=RAY_METRIC, mode="max", random_state_seed=cfg.seed)
        scheduler = None
        if cfg.use_asha:
            from ray.tune.schedulers import ASHAScheduler

            max_t = int(base["trainer"]["max_epochs"]) + 1  # + the final report
            scheduler = ASHAScheduler(
                time_attr="training_iteration", metric=RAY_METRIC, mode="max", max_t=max_t,
                grace_period=cfg.asha.grace_period, reduction_factor=cfg.asha.reduction_factor,
            )  # fmt: skip
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, data=data, base=base, cpus=cfg.trial_cpus),
            {"cpu": cfg.trial_cpus},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=ray_space(cfg.space),
            tune_config=tune.TuneConfig(
                search_alg=ConcurrencyLimiter(searcher, max_concurrent=cfg.max_concurrent),
                scheduler=scheduler,
                num_samples=cfg.num_samples,
            ),
            run_config=tune.RunConfig(
                name="sweep", storage_path=storage_uri(cfg.ray_storage_path, storage), verbose=0
            ),
        )
        results = tuner.fit()
        records = []
        for i in range(len(results)):
            result: Any = results[i]
            if result.error is not None:
                raise RuntimeError(f"tune trial {i} failed: {result.error}") from result.error
            history = []
            frame = result.metrics_dataframe
            if frame is not None and "epoch" in frame.columns:
                for row in frame.to_dict("records"):
                    epoch = row.get("epoch")
                    if epoch is not None and epoch == epoch and row.get("final") != 1.0:  # not NaN
                        history.append({"val/auroc": row[RAY_METRIC], "epoch": epoch})
            last = result.metrics or {}
            metrics = {k.replace("val_", "val/", 1): float(v) for k, v in last.items()
                       if k.startswith("val_") or k in ("fit_seconds", "epochs")}  # fmt: skip
            finished = last.get("final") == 1.0
            if not finished and history:  # stopped by ASHA: its best epoch counts
                metrics["val/auroc"] = max(h["val/auroc"] for h in history)
            records.append(
                TrialRecord(
                    number=i,
                    params={k: plain(v) for k, v in result.config.items()},
                    metrics=metrics,
                    seconds=float(last.get("time_total_s", 0.0)),
                    history=history,
                    stopped_early=not finished,
                )
            )
        return records
    finally:
        if started:
            ray.shutdown()
