"""`churnops monitor create|refresh|show|decide|ab|report|baseline|replay`: the monitor over the
predictions table, its report, its baseline, and the CDNOW replay that feeds it."""

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

    report = msub.add_parser(
        "report", help="plots (PNG) and one self-contained HTML page from the monitor's tables"
    )
    report.add_argument("--out", help="folder (default: <output_dir>/<name>_report)")
    report.add_argument("--mlflow", action="store_true", help="also log the files to MLflow")
    _common(report)
    report.set_defaults(run=run_report)

    baseline = msub.add_parser(
        "baseline", help="score the training set with the model: the monitor's baseline table"
    )
    baseline.add_argument("--training-set", required=True, help="Parquet: features and label")
    baseline.add_argument("--model-uri", required=True, help="e.g. models:/churnops_churn@champion")
    baseline.add_argument("--out", required=True, help="the Delta table to write (replaced)")
    baseline.set_defaults(run=run_baseline)

    replay = msub.add_parser(
        "replay", help="the CDNOW replay: month-end scoring by champion and challenger, labels"
    )
    replay.add_argument(
        "--config", default=str(CONFIG_DIR / "monitor" / "replay_cdnow.yaml"), help="replay YAML"
    )
    replay.add_argument("overrides", nargs="*", help="config overrides, e.g. end=1998-03-31")
    replay.set_defaults(run=run_replay)


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
        from churnops.monitoring.refresh.databricks import create_databricks_monitor

        monitor = create_databricks_monitor(cfg)
        console.print(f"created Databricks monitor on {cfg.databricks_table}: {monitor.object_id}")
        return 0
    return _print_refresh(cfg, full=True)


def run_refresh(args: argparse.Namespace) -> int:
    return _print_refresh(_config(args), full=args.full)


def _print_refresh(cfg: Any, full: bool) -> int:
    from dataclasses import asdict

    from churnops.cli.output import print_table
    from churnops.monitoring.refresh.run import refresh_monitor

    result = refresh_monitor(cfg, full=full)
    row = {k: v for k, v in asdict(result).items() if k != "since"}
    print_table(f"monitor {cfg.name}: refresh", [row])
    return 0


def run_show(args: argparse.Namespace) -> int:
    from churnops.cli.output import print_table
    from churnops.monitoring.report.show import latest_drift, latest_quality

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
    from churnops.monitoring.analysis.ab import split_pvalue
    from churnops.monitoring.analysis.decision import decide_retraining

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
    from churnops.monitoring.analysis.ab import analyze_monitor_ab

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


def run_report(args: argparse.Namespace) -> int:
    from churnops.cli.output import console
    from churnops.monitoring.report.monitor_report import monitor_report

    files = monitor_report(_config(args), args.out, log_to_mlflow=args.mlflow)
    console.print(f"report: {files.html}")
    for name, path in files.images.items():
        console.print(f"  {name}: {path}")
    return 0


def run_baseline(args: argparse.Namespace) -> int:
    from churnops.cli.output import console
    from churnops.monitoring.refresh.baseline import write_baseline

    rows = write_baseline(args.training_set, args.model_uri, args.out)
    console.print(f"baseline: {rows} rows scored by {args.model_uri} -> {args.out}")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from churnops.cli.output import print_table
    from churnops.config import load_config
    from churnops.scenarios.replay import ReplayConfig, replay

    cfg = load_config(ReplayConfig, args.config, args.overrides)
    result = replay(cfg)
    row = {
        "month_ends": len(result.cutoffs),
        "labelled_month_ends": len(result.labelled_cutoffs),
        "log_rows": result.log_rows,
        "prediction_rows": result.prediction_rows,
        "inference_log": cfg.inference_log,
        "labels": cfg.labels,
        "predictions": cfg.predictions,
    }
    print_table(f"replay {result.cutoffs[0]} .. {result.cutoffs[-1]}", [row])
    return 0
