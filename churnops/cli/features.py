"""`churnops features ...`: build features into a feature table; list, describe, publish;
check a customer table (inferred types, what would be rejected) before training on it."""

from __future__ import annotations

import argparse

from churnops.cli.output import console, print_table
from churnops.config import CONFIG_DIR, load_config
from churnops.data.feature_store.config import FeatureStoreConfig
from churnops.data.feature_store.features_table import (
    features_table_name,
    write_features_snapshot,
)
from churnops.data.features.build import FeaturesBuild, FeaturesJobConfig, build_features
from churnops.data.features.customer_table import customer_table_config, parse_label_values
from churnops.data.sources.customers import (
    CustomerTableConfig,
    prepare_customers,
    read_customer_table,
)

DEFAULT_CONFIG = CONFIG_DIR / "features" / "cdnow.yaml"
DEFAULT_STORE_CONFIG = CONFIG_DIR / "feature_store" / "local.yaml"


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
    build.add_argument(
        "--table", help="feature table to merge the snapshot into (default: features_table)"
    )
    build.add_argument("--no-store", action="store_true", help="write Parquet files only")
    _store_args(build)
    build.add_argument("overrides", nargs="*", help="config overrides, e.g. source.seed=3")
    build.set_defaults(run=run_build)

    customers = fsub.add_parser(
        "customers", help="read a customer table: inferred column types, rejects, train command"
    )
    customers.add_argument("path", help="CSV / Parquet file or folder, Delta table, table name")
    customers.add_argument(
        "--kind", choices=["csv", "parquet", "delta", "table"],
        help="default: from the path (.csv, _delta_log, else parquet)",
    )  # fmt: skip
    customers.add_argument(
        "--id-column", default="customer_id", help="customer id column; 'none' numbers the rows"
    )
    customers.add_argument("--label-column", default="churn", help="the 0/1 or Yes/No label")
    customers.add_argument("--label-values", help="raw=0|1 pairs, e.g. 'Churned=1,Active=0'")
    customers.add_argument("--categorical", help="comma-separated columns to read as categories")
    customers.add_argument("--numeric", help="comma-separated columns to read as numbers")
    customers.add_argument(
        "--invalid-values", choices=["missing", "reject"], default="missing",
        help="an unparseable number: a missing value, or reject the row",
    )  # fmt: skip
    customers.add_argument("--delimiter", default=",", help="csv only")
    customers.add_argument("--out", help="write the clean table here as Parquet (+ .report.json)")
    customers.set_defaults(run=run_customers)

    ls = fsub.add_parser("ls", help="list the feature tables")
    _store_args(ls)
    ls.set_defaults(run=run_ls)

    describe = fsub.add_parser("describe", help="show a feature table's metadata and versions")
    describe.add_argument("name", help="catalog.schema.table")
    _store_args(describe)
    describe.set_defaults(run=run_describe)

    publish = fsub.add_parser("publish", help="copy the latest row per key to the online store")
    publish.add_argument("name", help="catalog.schema.table")
    publish.add_argument("--mode", choices=["incremental", "full"], default="incremental")
    publish.add_argument("--online", choices=["sqlite", "redis"], help="online store kind")
    _store_args(publish)
    publish.set_defaults(run=run_publish)


def _store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store-config", default=str(DEFAULT_STORE_CONFIG), help="feature store YAML"
    )
    parser.add_argument("--root", help="feature store root folder")


def store_config(args: argparse.Namespace) -> FeatureStoreConfig:
    """The feature store config from its YAML and the flags."""
    overrides = [f"root={args.root}"] if args.root else []
    if getattr(args, "online", None):
        overrides.append(f"online.kind={args.online}")
    return load_config(FeatureStoreConfig, args.store_config, overrides)


def _local_store(cfg: FeatureStoreConfig):
    from churnops.data.feature_store import get_feature_store

    return get_feature_store(cfg)


def job_config(args: argparse.Namespace) -> FeaturesJobConfig:
    """The job config from the YAML file, the flags and KEY=VALUE overrides, in that order."""
    flags = {
        "source.kind": args.source,
        "source.path": args.path,
        "as_of": args.as_of,
        "horizon_days": args.horizon,
        "engine.name": args.engine,  # keeps the config's engine.spark settings
        "output_dir": args.output_dir,
    }
    overrides = [f"{k}={v}" for k, v in flags.items() if v is not None] + list(args.overrides)
    return load_config(FeaturesJobConfig, args.config, overrides)


def run_build(args: argparse.Namespace) -> int:
    cfg = job_config(args)
    store_cfg = None if args.no_store else store_config(args)
    console.print(
        f"building features: source={cfg.source.kind} as_of={cfg.as_of} engine={cfg.engine}"
    )
    result = build_features(cfg)
    print_summary(result, cfg)
    if store_cfg is not None:
        name = args.table or features_table_name(store_cfg.features_table, cfg.source)
        table = write_features_snapshot(store_cfg, name, result.features_path)
        console.print(
            f"feature table: {name} v{table.version} (keys customer_id, as_of) "
            f"under {store_cfg.root}"
        )
    return 0


def customer_config(args: argparse.Namespace) -> CustomerTableConfig:
    """The customer-table config from the flags; a malformed --label-values names itself."""
    labels = (
        parse_label_values(args.label_values, field="--label-values") if args.label_values else None
    )
    return customer_table_config(
        args.path,
        kind=args.kind,
        id_column=args.id_column,
        label_column=args.label_column,
        label_values=labels,
        categorical=args.categorical,
        numeric=args.numeric,
        invalid_values=args.invalid_values,
        delimiter=args.delimiter,
    )


def run_customers(args: argparse.Namespace) -> int:
    cfg = customer_config(args)
    report = prepare_customers(cfg, args.out) if args.out else read_customer_table(cfg).report
    print_table(
        f"columns of {report.source} (types inferred unless forced)",
        [
            {
                "column": name,
                "type": kind,
                "missing": sum(report.missing.get(name, {}).values()),
            }
            for name, kind in report.columns.items()
        ],
    )
    console.print(report.summary())
    console.print(
        f"id: {report.id_column}{' (made from the row number)' if report.id_made else ''}; "
        f"label {cfg.label_column}: {report.label_counts.get(1, 0):,} churned, "
        f"{report.label_counts.get(0, 0):,} stayed"
    )
    for line in report.malformed_lines[:5]:
        console.print(f"  malformed line {line['line']}: {line['error']}", markup=False)
    from churnops.cli.train import train_command

    console.print(
        f"train on it with (the same data.* settings serve scripts/sweep and scripts/benchmark "
        f"baselines, or keep them in a YAML file for data=FILE.yaml):\n  "
        f"{train_command(cfg, args.out or args.path, report.id_column if args.out else None)}",
        markup=False,
        soft_wrap=True,  # one line, to copy
    )
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


def run_ls(args: argparse.Namespace) -> int:
    cfg = store_config(args)
    store = _local_store(cfg)
    names = store.list_tables()
    if not names:
        console.print(f"no feature tables under {cfg.root}")
        return 0
    rows = []
    for name in names:
        t = store.get_table(name)
        rows.append(
            {
                "table": name,
                "version": t.version,
                "keys": ", ".join(t.key_columns),
                "features": len(t.features),
                "updated": t.updated_at,
            }
        )
    print_table(f"feature tables under {cfg.root}", rows)
    return 0


def run_describe(args: argparse.Namespace) -> int:
    store = _local_store(store_config(args))
    t = store.get_table(args.name)
    console.print(
        f"[bold]{t.name}[/bold]  version {t.version}  ({t.path})\n"
        f"primary keys:      {', '.join(t.primary_keys)}\n"
        f"timeseries column: {t.timeseries_column or '-'}\n"
        f"description:       {t.description or '-'}\n"
        f"tags:              {t.tags or '-'}\n"
        f"created:           {t.created_at} by {t.created_by}"
    )
    print_table("columns", [{"column": c, "type": ty} for c, ty in t.schema.items()])
    print_table("versions", store.history(args.name)[:10])
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from churnops.data.feature_store import get_online_store

    cfg = store_config(args)
    online = get_online_store(cfg.online)
    try:
        with _local_store(cfg) as store:
            result = store.publish_table(args.name, online, mode=args.mode)
    finally:
        online.close()
    where = cfg.online.path if cfg.online.kind == "sqlite" else cfg.online.url
    console.print(
        f"published {args.name} v{result.version} to {cfg.online.kind} {where}: "
        f"{result.rows_written:,} rows ({result.mode}, {result.seconds:.2f}s)"
    )
    return 0
