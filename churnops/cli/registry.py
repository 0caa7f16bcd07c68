"""`churnops registry list|promote|validate`: the registered model's versions, aliases and gate."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    reg = sub.add_parser("registry", help="list versions, promote, run the validation gate")
    rsub = reg.add_subparsers(dest="registry_command", required=True)

    ls = rsub.add_parser("list", help="registered versions with aliases, stage and gate status")
    ls.add_argument("--all", action="store_true", help="every registered model, not just one")
    _common(ls)
    ls.set_defaults(run=run_list)

    promote = rsub.add_parser("promote", help="point an alias (champion) at a version")
    promote.add_argument("version", help="version number, or an alias such as challenger")
    promote.add_argument("--alias", default="champion")
    promote.add_argument("--stage", help="also transition to this stage (e.g. Production)")
    _common(promote)
    promote.set_defaults(run=run_promote)

    validate = rsub.add_parser(
        "validate", help="gate the challenger against the champion; promote when it passes"
    )
    validate.add_argument("--challenger", default="challenger", help="alias or version")
    validate.add_argument("--holdout", help="training-set Parquet (overrides holdout.path)")
    validate.add_argument("--no-promote", action="store_true", help="report only")
    _common(validate)
    validate.set_defaults(run=run_validate)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="registry YAML (default configs/registry/default.yaml)")
    parser.add_argument("--name", help="registered model name (overrides model_name)")
    parser.add_argument("--tracking-uri", help="MLflow tracking/registry URI")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. gate.max_auc_drop=0")


def _setup(args: argparse.Namespace):
    from churnops.trainers.registry import ModelRegistry
    from churnops.trainers.registry.config import load_registry_config
    from churnops.trainers.tracking import default_tracking_uri

    overrides = list(args.overrides)
    if args.name:
        overrides.append(f"model_name={args.name}")
    if args.tracking_uri:
        overrides.append(f"tracking_uri={args.tracking_uri}")
    if getattr(args, "holdout", None):
        overrides.append(f"holdout.path={args.holdout}")
    cfg = load_registry_config(args.config, overrides)
    uri = cfg.tracking_uri or default_tracking_uri(cfg.workdir)
    return cfg, ModelRegistry(uri)


def run_list(args: argparse.Namespace) -> int:
    from churnops.cli.output import console, print_table

    cfg, registry = _setup(args)
    versions = registry.list_versions(None if args.all else cfg.model_name)
    rows = [
        {
            "model": v.name,
            "version": v.version,
            "aliases": ", ".join(v.aliases),
            "stage": v.stage,
            "validation": v.status or "",
            "test/auroc": v.tags.get("metric.test/auroc", ""),
            "run": (v.run_id or "")[:12],
        }
        for v in versions
    ]
    if rows:
        print_table(f"registry at {registry.tracking_uri}", rows)
    else:
        console.print("no registered versions")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    from churnops.cli.output import console

    cfg, registry = _setup(args)
    version = registry.get_version(cfg.model_name, args.version).version
    mv = registry.promote(cfg.model_name, version, alias=args.alias)
    if args.stage:
        registry.transition_stage(cfg.model_name, mv.version, args.stage, archive_existing=True)
    console.print(f"models:/{cfg.model_name}@{args.alias} -> version {mv.version}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from churnops.cli.output import console, print_table
    from churnops.trainers.registry.gate import load_holdout, validate_challenger

    cfg, registry = _setup(args)
    x, y = load_holdout(cfg.holdout)
    report = validate_challenger(
        registry,
        cfg.model_name,
        x,
        y,
        cfg.gate,
        challenger=args.challenger,
        promote=cfg.promote and not args.no_promote,
        experiment=cfg.experiment,
        set_stages=cfg.set_stages,
    )
    print_table(
        f"gate: {cfg.model_name} v{report.challenger_version} vs champion "
        f"{'v' + report.champion_version if report.champion_version else '(none)'}, "
        f"{report.holdout_rows:,} holdout rows",
        [
            {
                "check": c.name,
                "passed": c.passed,
                "value": c.value,
                "bound": c.threshold,
                "detail": c.detail[:60],
            }
            for c in report.checks
        ],
    )
    verdict = "promoted to champion" if report.promoted else "champion unchanged"
    console.print(f"validation_status={report.status}: {verdict} (report run {report.run_id})")
    return 0 if report.passed else 1
