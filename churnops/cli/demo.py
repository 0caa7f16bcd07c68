"""`churnops demo`: the lifecycle on embedded defaults, as the `demo` pipeline.

The job spec `configs/pipeline/demo.yaml` chains the typed stage tasks; the local runner runs each
in its own process. This module starts the run and prints each task's outputs as a table.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from churnops.cli.output import console, print_table
from churnops.pipelines.demo_job import demo_parameters

COMPARED = ("mlp", "random_forest", "xgboost", "logistic_regression")  # train_<name> tasks


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the end-to-end demo pipeline on embedded defaults")
    demo.add_argument("--workdir", default=".churnops/demo", help="where the demo writes")
    demo.add_argument("--requests", type=int, default=400, help="serving check requests")
    demo.add_argument(
        "--keep", action="store_true", help="keep the previous run's outputs (default: start clean)"
    )
    demo.set_defaults(run=run_demo)


def output_rows(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    """A task's outputs as (output, value) rows; a flat mapping gets one row per entry."""
    rows = []
    for key, value in outputs.items():
        if isinstance(value, dict) and value and not isinstance(next(iter(value.values())), dict):
            rows += [{"output": f"{key}.{k}", "value": v} for k, v in value.items()]
        else:
            rows.append({"output": key, "value": value})
    return rows


def story_line(month: dict[str, Any]) -> str:
    """One month of the replayed loop: window, rows, top drift, the label-free and the realized
    AUC (of the window whose labels landed that month), and the policy's decision."""
    drift = f"{month['top_drift']} {month['top_drift_value']:.2f}" if month["top_drift"] else "-"
    estimated, realized = month["estimated_roc_auc"], month["realized_roc_auc"]
    landed = f"{realized:.3f} ({month['realized_window'][:7]})" if realized is not None else "-"
    decision = "RETRAIN" if month["retrain"] else ("held" if month["blocked_by"] else "no")
    return (
        f"{month['month_end']}  {month['rows']:>6,} rows  top drift {drift:<28} "
        f"est. AUC {'-' if estimated is None else f'{estimated:.3f}':<6} "
        f"realized AUC {landed:<16} {decision}"
    )


def print_monitoring(outputs: dict[str, Any], ab: dict[str, Any] | None) -> None:
    """The replayed loop as a story (one line per month, the reasons where the policy fired),
    then the latest drift per feature and the A/B split's per-version table and verdict."""
    from churnops.cli.monitor import DEFAULT_CONFIG
    from churnops.config import load_config
    from churnops.monitoring.analysis.ab import analyze_monitor_ab
    from churnops.monitoring.config import ABConfig, MonitorConfig
    from churnops.monitoring.report.show import latest_drift

    months = outputs.get("months", [])
    if months:
        console.print(
            "the loop, month by month: drift against the training set, AUC of all versions "
            "(realized: the window whose labels landed that month), the policy's decision"
        )
        fired = False
        for month in months:
            console.print(story_line(month), soft_wrap=True, highlight=False)
            if month["retrain"] and not fired:  # the first time the policy fires: say why
                for reason in month["reasons"]:
                    console.print(f"    reason: {reason}", soft_wrap=True, highlight=False)
                fired = True
        console.print(
            f"{outputs['windows']} monthly windows, {outputs['labelled_windows']} with labels; "
            f"policy first fired {outputs['first_retrain'] or 'never'}; today's decision: "
            f"retrain={outputs['retrain']}, train on the cutoff {outputs['retrain_as_of']}"
        )
        for blocked in outputs.get("blocked_by", []):
            console.print(f"    blocked by: {blocked}")
    folder = Path(outputs["drift_metrics"]).parent
    windows = 'granularities=["1 month"]' if months else 'granularities=["1 day"]'
    where = [f"table={outputs['predictions']}", f"output_dir={folder}", windows]
    cfg = load_config(MonitorConfig, DEFAULT_CONFIG, where)
    drift = sorted(latest_drift(cfg, windows=1), key=lambda r: -(r.get("psi") or 0))
    print_table("drift against the training set (latest window, all versions)", drift)
    split = cfg.model_copy(update={"ab": ABConfig.model_validate(ab)}) if ab else cfg
    if split.ab is not None:
        report = analyze_monitor_ab(split, with_labels=False)  # the verdict below has labels
        versions = report.versions.drop(columns=["labelled", "actual_churn_rate"], errors="ignore")
        print_table("A/B: per served entity", versions.to_dict("records"))
    if outputs.get("ab_verdict"):
        console.print(f"A/B verdict: {outputs['ab_verdict']}: {outputs['ab_reason']}")


def print_child_run(run_id: str, home: Path) -> None:
    """What a run_job_task's run did, task by task: the retraining's cutoff, gate and alias."""
    from churnops.pipelines.records import RunRecords

    view = RunRecords(home).run(run_id)
    params = view.run.parameters
    console.print(
        f"training run {run_id}: {view.run.state}, as of {params.get('as_of')} "
        f"(horizon {params.get('horizon_days')} days), model {params.get('model')}"
    )
    gate = view.tasks.get("model_validation")
    if gate is not None and gate.outputs:
        out = gate.outputs
        console.print(
            f"  gate: v{out['challenger_version']} against champion v{out['champion_version']}: "
            f"{out['status']} ({', '.join(k for k, ok in out['checks'].items() if ok)} passed)"
        )
    deploy = view.tasks.get("model_deployment")
    if deploy is not None and deploy.outputs:
        out = deploy.outputs
        console.print(
            f"  deployed: champion v{out['champion_version']}, challenger "
            f"v{out['challenger_version']}, traffic {out['traffic']}"
        )
    elif deploy is not None:
        console.print(f"  deployment: {deploy.state} (the gate decides)")


def print_aliases(workdir: Path) -> None:
    """Which registered version holds each alias once the run is over."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    store = demo_parameters(workdir)["tracking_uri"]
    client = MlflowClient(store, store)
    rows = []
    for alias in ("champion", "challenger"):
        try:
            version = client.get_model_version_by_alias("churnops_churn", alias)
        except MlflowException:
            continue  # the run stopped before that alias was set
        run = client.get_run(version.run_id) if version.run_id else None
        name = (run.data.tags.get("mlflow.runName") if run else None) or "-"
        rows.append({"alias": alias, "version": version.version, "run": name})
    if rows:
        print_table("registry aliases after the run", rows)


def run_demo(args: argparse.Namespace) -> int:
    from churnops.pipelines.runner import run_job
    from churnops.pipelines.spec import load_job_spec

    start = time.perf_counter()
    workdir = Path(args.workdir)
    if workdir.exists() and not args.keep:
        shutil.rmtree(workdir)  # a demo run starts from nothing, so what it shows is all its own
    workdir.mkdir(parents=True, exist_ok=True)
    spec = load_job_spec("demo")
    console.rule(f"demo pipeline: {len(spec.tasks)} tasks, each in its own process")
    result = run_job(spec, demo_parameters(workdir, args.requests), home=workdir / "pipelines")

    compared = []
    for task in spec.tasks:
        done = result.tasks.get(task.task_key)
        if done is None:
            continue
        seconds = f"{done.seconds:.1f} s" if done.seconds is not None else "-"
        kind = task.task or (f"job {task.run_job_task.job}" if task.run_job_task else "condition")
        title = f"{task.task_key} ({kind}): {done.state}, {seconds}"
        if done.error:
            console.rule(title)
            console.print(f"[red]{done.error}[/]  log: {done.log_path}")
        elif task.task_key.startswith("train_"):
            test = {k.removeprefix("test/"): v for k, v in done.outputs["metrics"].items()}
            compared.append({"model": task.task_key.removeprefix("train_"), **test,
                             "fit_s": done.outputs["fit_seconds"],
                             "version": done.outputs["model_version"] or "-"})  # fmt: skip
            if len(compared) == len(COMPARED):
                console.rule("model_training: the Lightning net and three baselines")
                print_table("test metrics (held-out 20%, stratified, seed 42)", compared)
        elif done.outputs:
            console.rule(title)
            shown = {k: v for k, v in done.outputs.items() if k != "months"}  # the story's
            print_table(task.task_key, output_rows(shown))
            if task.task in ("monitor_refresh", "monitor_replay"):
                print_monitoring(done.outputs, task.parameters.get("ab"))
            if task.run_job_task is not None and done.outputs.get("run_id"):
                print_child_run(done.outputs["run_id"], workdir / "pipelines")
    print_aliases(workdir)
    console.rule(
        f"{result.state} in {time.perf_counter() - start:.0f} s; outputs under {workdir}/, "
        f"task logs under {result.run_dir}/"
    )
    return 0 if result.state == "SUCCESS" else 1
