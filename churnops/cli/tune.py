"""`churnops tune [NAME] [key=value ...]`: a hyperparameter sweep (what scripts/sweep runs)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    tune = sub.add_parser(
        "tune",
        help="sweep hyperparameters (Ray Tune + Optuna/HyperOpt, or hyperopt SparkTrials)",
        description="NAME is configs/tune/NAME.yaml (random_forest, mlp, xgboost) or a YAML path.",
    )
    tune.add_argument("name", nargs="?", default="random_forest", help="tune config name or path")
    tune.add_argument("--register", action="store_true", help="register the best as challenger")
    tune.add_argument(
        "overrides", nargs="*",
        help="e.g. num_samples=10 backend=hyperopt; train-config keys (data=mine.yaml, "
        "data.path=..., features.*, trainer.*) go to every trial's training config",
    )  # fmt: skip
    tune.set_defaults(run=run_tune)


# Train-config sections a sweep's trials share, passed as `train_overrides` (`model` and
# `seed` are the sweep's own keys).
TRAIN_KEYS = ("data", "features", "trainer", "launcher", "logger", "workdir")


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(the sweep's own overrides, train-config overrides for every trial)."""
    own: list[str] = []
    train: list[str] = []
    for text in overrides:
        key = text.partition("=")[0].split(".")[0]
        (train if key in TRAIN_KEYS else own).append(text)
    return own, train


def run_tune(args: argparse.Namespace) -> int:
    from churnops.cli.output import console, print_table
    from churnops.trainers.tuning import load_tune_config, sweep

    overrides = list(args.overrides) + (["register_best.enabled=true"] if args.register else [])
    own, train = split_overrides(overrides)
    cfg = load_tune_config(args.name, own)
    if train:  # after the YAML's: a key given on the command line wins
        cfg = cfg.model_copy(update={"train_overrides": [*cfg.train_overrides, *train]})
    search = cfg.search if cfg.backend == "ray" else "tpe"
    console.print(
        f"sweeping {cfg.model}: {cfg.num_samples} trials on {cfg.backend} ({search}), "
        f"{cfg.max_concurrent} at once"
    )
    result = sweep(cfg)
    rows = [
        {
            "trial": t.number,
            **{k.split(".")[-1]: v for k, v in t.params.items()},
            "val/auroc": t.metrics.get("val/auroc"),
            "seconds": t.seconds,
            "early_stop": t.stopped_early,
        }
        for t in sorted(result.trials, key=lambda t: -t.metrics.get("val/auroc", 0))
    ]
    print_table(f"{len(result.trials)} trials, {result.seconds:.1f}s ({result.backend})", rows)
    console.print(f"best val/auroc {result.best_metric:.4f} with {result.best.params}")
    if result.test_metrics:
        console.print(
            f"refit on the train split: test/auroc {result.test_metrics['test/auroc']:.4f}"
        )
    if result.registered_version:
        console.print(
            f"registered {cfg.register_best.model_name} v{result.registered_version} as "
            f"@{cfg.register_best.alias}"
        )
    console.print(f"MLflow parent run {result.parent_run_id} at {result.tracking_uri}")
    return 0
