"""`churnops score-batch`: score a table of keys with a registered model; features looked up."""

from __future__ import annotations

import argparse

from churnops.config import CONFIG_DIR

DEFAULT_STORE_CONFIG = CONFIG_DIR / "feature_store" / "local.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    score = sub.add_parser(
        "score-batch",
        help="score rows (keys, optional features) with a model; features from the store",
    )
    score.add_argument("--model-uri", required=True, help="e.g. models:/churnops_churn@champion")
    score.add_argument("--input", required=True, help="Parquet file or Delta table of rows")
    score.add_argument("--output", required=True, help="Delta table folder (or a .parquet file)")
    score.add_argument("--engine", choices=["duckdb", "spark"], help="default: the store config's")
    score.add_argument("--threshold", type=float, help="decision threshold for this run")
    score.add_argument("--tracking-uri", help="MLflow tracking/registry URI")
    score.add_argument("--store-config", default=str(DEFAULT_STORE_CONFIG))
    score.add_argument("--root", help="feature store root folder")
    score.add_argument(
        "overrides",
        nargs="*",
        help="store config overrides, e.g. engine.spark.master=spark://h:7077",
    )
    score.set_defaults(run=run_score)


def run_score(args: argparse.Namespace) -> int:
    from churnops.cli.output import console
    from churnops.scoring.table import score_table

    rows = score_table(
        model_uri=args.model_uri,
        input_path=args.input,
        output_path=args.output,
        engine=args.engine,
        threshold=args.threshold,
        tracking_uri=args.tracking_uri,
        store_config=args.store_config,
        root=args.root,
        overrides=args.overrides,
    )
    console.print(f"scored {rows:,} rows with {args.model_uri} -> {args.output}")
    return 0
