"""One task in its own process: `python -m churnops.pipelines.task_main`.

Given a task function ("module:function") or a job spec (a run_job_task) and an inputs JSON
file, it validates the inputs against the function's typed inputs model, calls it and writes the
outputs model's fields as JSON. A failure writes the error beside it and exits 1. The runner's
own task processes run the same work without this parser (`task_process.py`).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from churnops.pipelines.runner import run_child_job
from churnops.pipelines.task_functions import run_in_files, run_task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churnops.pipelines.task_main")
    parser.add_argument("--function", help="module:function of a task")
    parser.add_argument("--run-job", help="a job spec path to run as this task (run_job_task)")
    parser.add_argument("--home", help="records home, for --run-job")
    parser.add_argument("--inputs", required=True, type=Path, help="inputs JSON file")
    parser.add_argument("--outputs", required=True, type=Path, help="outputs JSON file")
    parser.add_argument("--error", required=True, type=Path, help="error JSON file")
    args = parser.parse_args(argv)
    if args.run_job:
        work = partial(run_child_job, args.run_job, home=args.home)
    else:
        work = partial(run_task, args.function)
    return run_in_files(work, args.inputs, args.outputs, args.error)


if __name__ == "__main__":
    sys.exit(main())
