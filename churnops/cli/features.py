"""`churnops features ...`: build customer features and labels as of a cutoff."""

from __future__ import annotations

import argparse

from churnops.cli.output import console, print_table
from churnops.config import CONFIG_DIR, load_config
from churnops.data.features.build import FeaturesBuild, FeaturesJobConfig, build_features

DEFAULT_CONFIG = CONFIG_DIR / "features" / "cdnow.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    features = sub.add_parser("features", help="build and inspect customer features")
    fsub = features.add_subparsers(dest="features_command", required=True)
    build = fsub.add_parser("build", help="compute features and labels as of a cutoff")
    build.add_argument("--config", default=str(DEFAULT_CONFIG), help="features job YAML")
    build.add_argument(
        "--source", help="orders source kind: cdnow | csv | parquet | delta | synthetic"
    )
    build.add_argument("--path", help="source file or folder (csv, parquet, delta)")
    build.add_argument("--as-of", help="cutoff day, YYYY-MM-DD")
    build.add_argument("--horizon", type=int, help="label horizon in days")
    build.add_argument("--engine", help="duckdb | spark")
    build.add_argument("--output-dir", help="where features, labels and clean orders go")
    build.add_argument("overrides", nargs="*", help="config overrides, e.g. source.seed=3")
    build.set_defaults(run=run_build)


def job_config(args: argparse.Namespace) -> FeaturesJobConfig:
    """The job config from the YAML file, the flags and KEY=VALUE overrides, in that order."""
    flags = {
        "source.kind": args.source,
        "source.path": args.path,
        "as_of": args.as_of,
        "horizon_days": args.horizon,
        "engine": args.engine,
        "output_dir": args.output_dir,
    }
    overrides = [f"{k}={v}" for k, v in flags.items() if v is not None] + list(args.overrides)
    return load_config(FeaturesJobConfig, args.config, overrides)


def run_build(args: argparse.Namespace) -> int:
    cfg = job_config(args)
    console.print(
        f"building features: source={cfg.source.kind} as_of={cfg.as_of} engine={cfg.engine}"
    )
    result = build_features(cfg)
    print_summary(result, cfg)
    return 0


def print_summary(result: FeaturesBuild, cfg: FeaturesJobConfig) -> None:
    print_table(
        f"features as of {cfg.as_of} (engine {cfg.engine})",
        [
            {
                "customers": result.customers,
                "features": result.features,
                "churn rate": result.churn_rate,
                "seconds": result.seconds,
            }
        ],
    )
    console.print(result.report.summary())
    console.print(f"features: {result.features_path}\nlabels:   {result.labels_path}")
