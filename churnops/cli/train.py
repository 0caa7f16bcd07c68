"""`churnops train [group=option ...] [key=value ...]`: one training run, tracked in MLflow."""

from __future__ import annotations

import argparse
from typing import Any


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


def train_command(table: Any, data_path: str, id_column: str | None = None) -> str:
    """The short `scripts/train` line for a customer table read with `table` (a
    `CustomerTableConfig`): its data settings only; the columns and their types are read again
    from the table, as `churnops features customers` showed them. `data_path` may be the clean
    copy `--out` wrote, whose id column is `id_column` (made there when the table had none)."""
    import shlex

    from churnops.data.sources.customers import DEFAULT_LABEL_VALUES

    if table.kind == "table" and data_path == table.path:  # train reads the table's Delta
        from churnops.data.feature_store.local import LocalFeatureStore

        data_path = str(LocalFeatureStore(table.store_root).table_path(table.path))
    words = [
        f"data.path={data_path}",
        f"data.id_column={(id_column or table.id_column) or 'null'}",
        f"data.label_column={table.label_column}",
    ]
    raw = data_path == table.path  # the clean copy is Parquet, its labels already 0/1
    if raw and table.delimiter != "," and table.kind == "csv":
        words.append(f"data.delimiter={table.delimiter}")
    if raw and any(DEFAULT_LABEL_VALUES.get(k) != v for k, v in table.label_values.items()):
        pairs = ", ".join(f"{k}: {v}" for k, v in table.label_values.items())
        words.append(f"data.label_values={{{pairs}}}")
    if raw and table.invalid_values != "missing":
        words.append(f"data.invalid_values={table.invalid_values}")
    if table.categorical:
        words.append(f"features.categorical=[{', '.join(table.categorical)}]")
    return "scripts/train " + " ".join(shlex.quote(w) for w in words)


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
    if result.data_report is not None:
        console.print(result.data_report.summary(), markup=False)
    print_table(f"test metrics: {result.n_test:,} held-out rows", [result.summary()])
    if result.run_id:
        console.print(f"MLflow run {result.run_id} at {result.tracking_uri}")
        console.print(f"model {result.model_uri}")
    if result.model_uri and result.feature_store_root:
        console.print(
            "score customers by id (a Parquet of ids):\n  .venv/bin/churnops score-batch "
            f"--model-uri {result.model_uri} --tracking-uri {result.tracking_uri} "
            f"--root {result.feature_store_root} --input ids.parquet --output scored.parquet",
            markup=False, soft_wrap=True,
        )  # fmt: skip
    if result.model_version:
        alias = f" @{cfg.registry.alias}" if cfg.registry.alias else ""
        console.print(f"registered {cfg.registry.model_name} v{result.model_version}{alias}")
    return 0
