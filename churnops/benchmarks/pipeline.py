"""`scripts/benchmark pipeline`: a job run end to end, per task and in total, and the runner's
own overhead: the total minus the sum of the task processes' wall times (start-up included in
each task). Tasks run one at a time (`--parallel 1`), so the difference is the runner's.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

from churnops.benchmarks.report import write_results

COLUMNS = ["task", "seconds", "state", "attempt"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/benchmark pipeline", description=__doc__)
    parser.add_argument("--job", default="demo", help="a job spec name or path (default demo)")
    parser.add_argument("--home", help="records home (default: a temporary folder)")
    parser.add_argument("--parallel", type=int, default=1, help="tasks at once (default 1)")
    parser.add_argument("params", nargs="*", help="job parameters NAME=VALUE")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    from churnops.pipelines.runner import run_job
    from churnops.pipelines.spec import load_job_spec, spec_path

    args = parse_args(argv)
    spec = load_job_spec(args.job)
    params = dict(p.split("=", 1) for p in args.params)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        start = time.perf_counter()
        # The records table's libraries, imported on the runner's first commit; timed apart
        # here (and inside the total) to tell the one-off start-up from the per-task cost.
        import deltalake  # noqa: F401
        import pyarrow.dataset  # noqa: F401

        imports = time.perf_counter() - start
        result = run_job(
            spec, params, home=args.home or tmp, max_parallel_tasks=args.parallel,
            spec_dir=spec_path(args.job).resolve().parent,
        )  # fmt: skip
        total = time.perf_counter() - start
    load_after = os.getloadavg()
    rows: list[dict[str, Any]] = [
        {"task": k, "seconds": round(t.seconds, 3), "state": t.state, "attempt": t.attempt}
        for k, t in result.tasks.items()
        if t.seconds is not None
    ]
    in_tasks = sum(r["seconds"] for r in rows)
    overhead = total - in_tasks
    n = len(result.tasks)
    rows += [
        {"task": "total", "seconds": round(total, 3), "state": result.state, "attempt": None},
        {"task": "overhead", "seconds": round(overhead, 3), "state": None, "attempt": None},
        {"task": "overhead_per_task", "seconds": round(overhead / n, 3), "state": None,
         "attempt": None},
        {"task": "overhead_records_imports", "seconds": round(imports, 3), "state": None,
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
            "the runner); each task runs in its own Python process, its seconds are that "
            "process's wall time, interpreter start-up and imports included.",
            "overhead = total - sum(task seconds): scheduling, the records table's Delta commits "
            "(one per state change), resolving references and condition tasks; tasks ran "
            f"{args.parallel} at a time. overhead_records_imports: the part of the overhead "
            "spent once per run importing deltalake and pyarrow for the records table.",
            f"1-minute load average {load_before[0]:.1f} before the run, {load_after[0]:.1f} "
            f"after, on {os.cpu_count()} cores shared with other work.",
        ],
    )
    return 0 if result.state == "SUCCESS" else 1
