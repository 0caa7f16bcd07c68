"""`scripts/benchmark pipeline`: a job run end to end, per task and in total, and the runner's
own overhead: the time in which no task process was running (measured from the tasks' own start
and end times, so it holds however many tasks run at once).

The demo job runs as `churnops demo` runs it: a fresh working folder, the demo's parameters, and
as many tasks at once as the runner's default (one per core).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from churnops.benchmarks.report import write_results

COLUMNS = ["task", "seconds", "state", "attempt"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/benchmark pipeline", description=__doc__)
    parser.add_argument("--job", default="demo", help="a job spec name or path (default demo)")
    parser.add_argument("--home", help="records home (default: a temporary folder)")
    parser.add_argument(
        "--parallel", type=int, help="tasks at once (default: the runner's, one per core)"
    )
    parser.add_argument("params", nargs="*", help="job parameters NAME=VALUE")
    return parser.parse_args(argv)


def busy_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    """The length of the union of `intervals`: the time at least one of them was running."""
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += (stop - start).total_seconds()
            end = stop
        elif stop > end:
            total += (stop - end).total_seconds()
            end = stop
    return total


def main(argv: list[str]) -> int:
    from churnops.pipelines.demo_job import demo_parameters
    from churnops.pipelines.runner import run_job
    from churnops.pipelines.spec import load_job_spec, spec_path

    args = parse_args(argv)
    spec = load_job_spec(args.job)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        params = dict(p.split("=", 1) for p in args.params)
        if args.job == "demo":  # as `churnops demo` runs it: a fresh folder, its parameters
            params = {**demo_parameters(Path(tmp, "demo")), **params}
        start = time.perf_counter()
        result = run_job(
            spec, params, home=args.home or Path(tmp, "pipelines"),
            max_parallel_tasks=args.parallel,
            spec_dir=spec_path(args.job).resolve().parent,
        )  # fmt: skip
        total = time.perf_counter() - start
    load_after = os.getloadavg()
    # Task processes only: condition tasks are evaluated inside the runner.
    ran = [t for k, t in result.tasks.items() if spec.task(k).condition_task is None]
    rows: list[dict[str, Any]] = [
        {"task": t.task_key, "seconds": round(t.seconds, 3), "state": t.state, "attempt": t.attempt}
        for t in ran
        if t.seconds is not None
    ]
    intervals = [(t.start_time, t.end_time) for t in ran if t.start_time and t.end_time]
    overhead = total - busy_seconds(intervals)
    n = len(result.tasks)
    parallel = args.parallel or os.cpu_count() or 1
    how = (
        " as `churnops demo` (`make demo`) runs them, in a fresh folder"
        if args.job == "demo"
        else ""
    )
    rows += [
        {"task": "total", "seconds": round(total, 3), "state": result.state, "attempt": None},
        {"task": "overhead", "seconds": round(overhead, 3), "state": None, "attempt": None},
        {"task": "overhead_per_task", "seconds": round(overhead / n, 3), "state": None,
         "attempt": None},
    ]  # fmt: skip
    write_results(
        "pipeline",
        rows,
        COLUMNS,
        title=f"Pipeline: job {spec.name!r}, per task and in total",
        notes=[
            f"Job {spec.name!r} from {spec_path(args.job)}: {n} tasks "
            f"({sum(1 for t in spec.tasks if t.condition_task)} condition tasks, evaluated in "
            f"the runner), up to {parallel} at a time{how}. "
            "Each task runs in its own process, forked from the runner's task server (which "
            "imports the libraries tasks share once per run); a task's seconds are its "
            "process's wall time from launch to exit, its own imports included (the first "
            "task's include waiting for the server's imports).",
            "total: the run's wall time. overhead: the part of the total in which no task "
            "process was running (the union of the tasks' start-to-end times, from the run's "
            "records, subtracted from the total): the runner's start, its records commits "
            "between a task's end and the next launch, condition tasks, the run's last "
            "commit. With tasks running side by side, the task seconds add up to more than "
            "the total.",
            f"1-minute load average {load_before[0]:.1f} before the run, {load_after[0]:.1f} "
            f"after, on {os.cpu_count()} cores shared with other work.",
        ],
    )
    return 0 if result.state == "SUCCESS" else 1
