"""`churnops pipeline ...`: run, list, show, repair and schedule jobs; export and deploy them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HOME_HELP = "records, locks and run folders (default .churnops/pipelines)"


def register(sub: argparse._SubParsersAction) -> None:
    pipeline = sub.add_parser(
        "pipeline",
        help="run jobs of tasks locally, on a schedule, or as Databricks Jobs",
        description="NAME is configs/pipeline/NAME.yaml (training, batch_inference, monitoring, "
        "demo) or a YAML path.",
    )
    cmds = pipeline.add_subparsers(dest="pipeline_command", required=True)

    run = cmds.add_parser("run", help="run a job now, each task in its own process")
    run.add_argument("name")
    run.add_argument("overrides", nargs="*", help="job parameters, e.g. threshold=0.7")
    run.add_argument("--home", default=".churnops/pipelines", help=HOME_HELP)
    run.add_argument("--trigger", default="MANUAL", help=argparse.SUPPRESS)
    run.set_defaults(run=run_pipeline)

    runs = cmds.add_parser("runs", help="list runs, newest first (from the records table)")
    runs.add_argument("--job", help="only this job's runs")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--home", default=".churnops/pipelines", help=HOME_HELP)
    runs.set_defaults(run=list_runs)

    show = cmds.add_parser("show", help="one run's tasks: state, attempt, times, error, values")
    show.add_argument("run_id")
    show.add_argument("--home", default=".churnops/pipelines", help=HOME_HELP)
    show.set_defaults(run=show_run)

    repair = cmds.add_parser(
        "repair", help="rerun a run's failed or unfinished tasks and what depends on them"
    )
    repair.add_argument("run_id")
    repair.add_argument("--home", default=".churnops/pipelines", help=HOME_HELP)
    repair.set_defaults(run=repair_pipeline)

    schedule = cmds.add_parser("schedule", help="fire a job on its Quartz schedule (foreground)")
    schedule.add_argument("name")
    schedule.add_argument("--home", default=".churnops/pipelines", help=HOME_HELP)
    schedule.add_argument(
        "--missed",
        choices=["skip", "run_once"],
        default="skip",
        help="firings missed while no scheduler ran: skip them (default, as Databricks) or run "
        "once for all of them",
    )
    schedule.add_argument("--max-runs", type=int, help="stop after this many runs")
    schedule.set_defaults(run=schedule_pipeline)

    task = cmds.add_parser(
        "task", help="run one task function in this process (e.g. a python_wheel_task)"
    )
    task.add_argument("name", help="a task name (churnops.pipelines.tasks.TASKS) or module:fn")
    task.add_argument("--inputs", required=True, help="inputs as JSON, or @FILE")
    task.add_argument("--outputs", help="also write the outputs JSON here")
    task.set_defaults(run=run_single_task)

    export = cmds.add_parser("export", help="write a Databricks Asset Bundle of the jobs")
    export.add_argument("names", nargs="*", help="jobs (default: every spec in configs/pipeline)")
    export.add_argument("--target", choices=["databricks"], required=True)
    export.add_argument("--out", default="bundle", help="bundle folder (default ./bundle)")
    export.set_defaults(run=export_bundle)

    deploy = cmds.add_parser(
        "deploy", help="create or reset the jobs in a Databricks workspace (Jobs API)"
    )
    deploy.add_argument("names", nargs="*", help="jobs (default: every spec in configs/pipeline)")
    deploy.add_argument("--target", choices=["databricks"], required=True)
    deploy.add_argument("--wheel", required=True, help="the churnops wheel's workspace path")
    deploy.add_argument("--profile", help="a ~/.databrickscfg profile (else DATABRICKS_* env)")
    deploy.add_argument(
        "--run",
        dest="run_job",
        metavar="JOB",
        help="then run this deployed job now and wait for its end",
    )
    deploy.set_defaults(run=deploy_jobs)


def _task_rows(result_tasks: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, t in result_tasks.items():
        rows.append(
            {
                "task": key,
                "state": t.state,
                "attempt": t.attempt,
                "seconds": t.seconds if t.seconds is not None else "-",
                "values / error": (t.error or json.dumps(t.outputs))[:90],
            }
        )
    return rows


def run_pipeline(args: argparse.Namespace) -> int:
    from churnops.cli.output import console, print_table
    from churnops.pipelines.runner import RunRefused, run_job
    from churnops.pipelines.spec import load_job_spec, spec_path

    spec = load_job_spec(args.name)
    params = {}
    for text in args.overrides or []:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ValueError(f"job parameter {text!r}: expected NAME=VALUE")
        params[key] = value
    try:
        result = run_job(
            spec, params, home=args.home, trigger=args.trigger,
            spec_dir=spec_path(args.name).resolve().parent,
        )  # fmt: skip
    except RunRefused as exc:
        console.print(f"[yellow]refused:[/] {exc}")
        return 3
    print_table(f"run {result.run_id} of {result.job}: {result.state}", _task_rows(result.tasks))
    console.print(f"logs under {result.run_dir}")
    return 0 if result.state == "SUCCESS" else 1


def list_runs(args: argparse.Namespace) -> int:
    from churnops.cli.output import console, print_table
    from churnops.pipelines.records import RunRecords

    runs = RunRecords(args.home).runs(args.job)[: args.limit]
    if not runs:
        console.print(f"no runs recorded under {args.home}")
        return 0
    print_table(
        f"pipeline runs ({args.home})",
        [
            {
                "run_id": r.run_id,
                "job": r.job,
                "state": r.display_state,
                "trigger": r.trigger,
                "repair": r.repair,
                "start": f"{r.start_time:%Y-%m-%d %H:%M:%S}" if r.start_time else "-",
                "seconds": round((r.end_time - r.start_time).total_seconds(), 2)
                if r.end_time and r.start_time
                else "-",
                "error": (r.error or "")[:60],
            }
            for r in runs
        ],
    )
    return 0


def show_run(args: argparse.Namespace) -> int:
    from churnops.cli.output import console, print_table
    from churnops.pipelines.records import RunRecords

    view = RunRecords(args.home).run(args.run_id)
    r = view.run
    console.print(
        f"run {r.run_id} of {r.job}: {r.display_state} (trigger {r.trigger}, repair {r.repair}, "
        f"parameters {json.dumps(r.parameters)})"
    )
    print_table(
        "tasks",
        [
            {
                "task": t.task_key,
                "state": t.state,
                "attempt": t.attempt,
                "seconds": t.seconds if t.seconds is not None else "-",
                "values / error": (t.error or json.dumps(t.outputs))[:90],
                "log": t.log_path or "-",
            }
            for t in view.tasks.values()
        ],
    )
    return 0


def repair_pipeline(args: argparse.Namespace) -> int:
    from churnops.cli.output import console, print_table
    from churnops.pipelines.runner import RunRefused, repair_run

    try:
        result = repair_run(args.run_id, home=args.home)
    except RunRefused as exc:
        console.print(f"[yellow]refused:[/] {exc}")
        return 3
    print_table(
        f"repair {result.repair} of run {result.run_id} ({result.job}): {result.state}",
        _task_rows(result.tasks),
    )
    return 0 if result.state == "SUCCESS" else 1


def schedule_pipeline(args: argparse.Namespace) -> int:
    from churnops.cli.output import console
    from churnops.pipelines.scheduler import Scheduler, launch_run_process
    from churnops.pipelines.spec import load_job_spec, spec_path

    spec = load_job_spec(args.name)
    path = spec_path(args.name).resolve()
    scheduler = Scheduler(spec, args.home, missed=args.missed)
    assert spec.schedule is not None
    console.print(
        f"scheduling {spec.name} on '{spec.schedule.quartz_cron_expression}' "
        f"({spec.schedule.timezone_id}); missed firings: {args.missed}; Ctrl-C stops"
    )

    def launch(fire: Any) -> None:
        pid = launch_run_process(path, args.home, fire)
        console.print(f"{fire:%Y-%m-%d %H:%M:%S %Z}: started run process {pid}")

    def report(tick: Any) -> None:
        if tick.missed:
            console.print(
                f"[yellow]{len(tick.missed)} missed firing(s)[/] from {tick.missed[0]} to "
                f"{tick.missed[-1]}: {args.missed}"
            )

    try:
        scheduler.serve(launch, on_tick=report, max_runs=args.max_runs)
    except KeyboardInterrupt:
        console.print("scheduler stopped")
    return 0


def run_single_task(args: argparse.Namespace) -> int:
    from churnops.pipelines.task_functions import resolve_task, run_task, write_json

    text = args.inputs
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        inputs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--inputs: not JSON ({exc})") from None
    outputs = run_task(resolve_task(args.name), inputs)
    if args.outputs:
        write_json(Path(args.outputs), outputs)
    print(json.dumps(outputs))
    return 0


def export_bundle(args: argparse.Namespace) -> int:
    from churnops.cli.output import console
    from churnops.pipelines.databricks.bundle import write_bundle

    written = write_bundle(args.names or None, Path(args.out))
    for path in written:
        console.print(f"wrote {path}")
    return 0


def deploy_jobs(args: argparse.Namespace) -> int:
    from churnops.cli.output import print_table
    from churnops.pipelines.databricks.bundle import job_names
    from churnops.pipelines.databricks.deploy import deploy, run_now, workspace_client
    from churnops.pipelines.spec import load_job_spec

    for name in args.names or job_names():  # a bad spec is refused before any sign-in
        load_job_spec(name)
    names = args.names or job_names()
    if args.run_job and args.run_job not in [load_job_spec(n).name for n in names]:
        raise ValueError(f"--run {args.run_job!r}: not among the deployed jobs {names}")
    client = workspace_client(profile=args.profile)
    deployed = deploy(client, args.names or None, args.wheel)
    print_table(
        "Databricks jobs",
        [{"job": d.name, "job_id": d.job_id, "action": d.action} for d in deployed],
    )
    if not args.run_job:
        return 0
    job_id = next(d.job_id for d in deployed if d.name == args.run_job)
    run = run_now(client, job_id)
    print_table(
        f"run {run.run_id} of {args.run_job}: {run.life_cycle_state} {run.result_state}",
        [{"task": k, "result": v or "-"} for k, v in run.tasks.items()],
    )
    return 0 if run.result_state == "SUCCESS" else 1
