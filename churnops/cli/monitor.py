"""`churnops monitor create|refresh|show|decide|ab`: the monitor over the predictions table."""

from __future__ import annotations

import argparse
from typing import Any

from churnops.config import CONFIG_DIR

DEFAULT_CONFIG = CONFIG_DIR / "monitor" / "churn.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    mon = sub.add_parser("monitor", help="profile/drift/quality tables, retraining decision")
    msub = mon.add_subparsers(dest="monitor_command", required=True)

    create = msub.add_parser("create", help="create the monitor (local: first full refresh)")
    create.add_argument("--target", choices=["local", "databricks"], default="local")
    _common(create)
    create.set_defaults(run=run_create)

    refresh = msub.add_parser("refresh", help="recompute windows changed since the last refresh")
    refresh.add_argument("--full", action="store_true", help="recompute every window")
    _common(refresh)
    refresh.set_defaults(run=run_refresh)

    show = msub.add_parser("show", help="print the latest quality and drift rows")
    show.add_argument("--windows", type=int, default=5, help="latest windows to show")
    _common(show)
    show.set_defaults(run=run_show)

    decide = msub.add_parser("decide", help="apply the retraining policy; record the decision")
    decide.add_argument(
        "--srm-pvalue", type=float, help="A/B split p-value (default: from the config's `ab`)"
    )
    _common(decide)
    decide.set_defaults(run=run_decide)

    ab = msub.add_parser(
        "ab", help="A/B analysis: per-version summary, split check, AUC/log-loss/Brier, verdict"
    )
    _common(ab)
    ab.set_defaults(run=run_ab)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="monitor YAML")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. engine=spark")


def _config(args: argparse.Namespace) -> Any:
    from churnops.config import load_config
    from churnops.monitoring.config import MonitorConfig

    return load_config(MonitorConfig, args.config, args.overrides)


def run_create(args: argparse.Namespace) -> int:
    from churnops.cli.output import console

    cfg = _config(args)
    if args.target == "databricks":
        from churnops.monitoring.databricks import create_databricks_monitor

        monitor = create_databricks_monitor(cfg)
        console.print(f"created Databricks monitor on {cfg.databricks_table}: {monitor.object_id}")
        return 0
    return _print_refresh(cfg, full=True)


def run_refresh(args: argparse.Namespace) -> int:
    return _print_refresh(_config(args), full=args.full)


def _print_refresh(cfg: Any, full: bool) -> int:
    from dataclasses import asdict

    from churnops.cli.output import print_table
    from churnops.monitoring.refresh import refresh_monitor

    result = refresh_monitor(cfg, full=full)
    row = {k: v for k, v in asdict(result).items() if k != "since"}
    print_table(f"monitor {cfg.name}: refresh", [row])
    return 0


def run_show(args: argparse.Namespace) -> int:
    from churnops.cli.output import print_table
    from churnops.monitoring.show import latest_drift, latest_quality

    cfg = _config(args)
    print_table(
        f"monitor {cfg.name}: model quality (':table' rows)", latest_quality(cfg, args.windows)
    )
    print_table(
        f"monitor {cfg.name}: baseline drift (all versions)", latest_drift(cfg, args.windows)
    )
    return 0


def run_decide(args: argparse.Namespace) -> int:
    from churnops.cli.output import console
    from churnops.monitoring.decision import decide_retraining
    from churnops.monitoring.experiment import split_pvalue

    cfg = _config(args)
    srm = args.srm_pvalue if args.srm_pvalue is not None else split_pvalue(cfg)
    decision = decide_retraining(cfg, srm_pvalue=srm)
    console.print(f"retrain: {decision.retrain}")
    for line in decision.reasons:
        console.print(f"  reason: {line}")
    for line in decision.blocked_by:
        console.print(f"  blocked by: {line}")
    return 0


def run_ab(args: argparse.Namespace) -> int:
    from churnops.cli.output import console, print_table
    from churnops.monitoring.experiment import analyze_monitor_ab

    cfg = _config(args)
    report = analyze_monitor_ab(cfg)
    print_table(f"monitor {cfg.name}: per version", report.versions.to_dict("records"))
    srm = report.srm
    console.print(
        f"split check: customers {srm['counts']} vs {srm['expected']}: chi2={srm['chi2']:.2f}, "
        f"p={srm['p_value']:.3g}" + (" [red]ALARM[/]" if srm["alarm"] else " ok")
    )
    if not report.comparisons.empty:
        print_table(
            f"{cfg.ab.treatment} - {cfg.ab.control} ({'paired' if report.paired else 'unpaired'})",
            report.comparisons.to_dict("records"),
        )
    console.print(f"verdict: [bold]{report.verdict}[/]: {report.reason}")
    return 0
