"""`churnops train [group=option ...] [key=value ...]`: one training run, tracked in MLflow."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="train a model (mlp | random_forest | logistic_regression | xgboost | recency)",
        description="Compose configs/train.yaml with group choices (model=xgboost, "
        "launcher=ray, trainer=quick) and overrides (trainer.max_epochs=5).",
    )
    train.add_argument("--config", help="root YAML instead of configs/train.yaml")
    train.add_argument("--print-config", action="store_true", help="print the resolved config")
    train.add_argument("overrides", nargs="*", help="group=option or a.b=value")
    train.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    import yaml

    from churnops.cli.output import console, print_table
    from churnops.trainers.config import load_train_config
    from churnops.trainers.train import train

    cfg = load_train_config(args.overrides, path=args.config)
    if args.print_config:
        console.print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
        return 0
    data = cfg.data.path or (
        f"{cfg.data.source.kind} as of {cfg.data.as_of}, {cfg.data.horizon_days}-day horizon"
    )
    console.print(
        f"training {cfg.model.name} on {data} (launcher {cfg.launcher.name}, seed {cfg.seed})"
    )
    result = train(cfg)
    print_table(f"test metrics: {result.n_test:,} held-out rows", [result.summary()])
    if result.run_id:
        console.print(f"MLflow run {result.run_id} at {result.tracking_uri}")
        console.print(f"model {result.model_uri}")
    if result.model_version:
        alias = f" @{cfg.registry.alias}" if cfg.registry.alias else ""
        console.print(f"registered {cfg.registry.model_name} v{result.model_version}{alias}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m churnops.cli.train ...`: what scripts/train runs."""
    import sys

    from churnops.config import ConfigError

    parser = argparse.ArgumentParser(prog="scripts/train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run_train(args)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"scripts/train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
