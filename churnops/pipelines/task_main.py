"""One task in its own process: `python -m churnops.pipelines.task_main`.

The runner calls `main` in a process forked from its warm task server (`task_process.py`), with
a task function ("module:function") and an inputs JSON file; `main` validates the inputs against
the function's typed inputs model, calls it and writes the outputs model's fields as JSON. A
failure writes the error beside it and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import traceback
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from churnops.config import ConfigError, StrictConfig, build_config


def resolve_task(name: str, registry: dict[str, Any] | None = None) -> str:
    """A task's import string: `name` itself when it holds ':', else its TASKS entry."""
    if ":" in name:
        return name
    if registry is None:
        from churnops.pipelines.tasks import TASKS

        registry = dict(TASKS)
    target = registry.get(name)
    if target is None:
        raise ConfigError(
            f"task={name!r}: not a churnops task (known: {sorted(registry)}; or give "
            "'module:function')"
        )
    return target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"


def import_function(target: str) -> Callable[..., Any]:
    """Import "module:function"; an error names the target when either part is missing."""
    module_name, _, attr = target.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"task function {target!r}: cannot import ({exc})") from None
    if not callable(fn):
        raise ConfigError(f"task function {target!r}: not callable")
    return fn


def inputs_model(fn: Callable[..., Any]) -> type[StrictConfig]:
    """The StrictConfig inputs model a task function takes as its one parameter."""
    params = list(inspect.signature(fn).parameters)
    hints = typing.get_type_hints(fn)
    model = hints.get(params[0]) if len(params) == 1 else None
    if not (isinstance(model, type) and issubclass(model, StrictConfig)):
        raise ConfigError(
            f"task function {fn.__module__}:{fn.__qualname__}: expected one parameter typed "
            "with a StrictConfig inputs model"
        )
    return model


def run_task(target: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Validate `inputs`, call the task function, return its outputs as JSON-ready fields."""
    fn = import_function(target)
    model = inputs_model(fn)
    result = fn(build_config(model, inputs, source=f"task {target} inputs"))
    if result is None:
        return {}
    if not isinstance(result, BaseModel):
        raise TypeError(
            f"task function {target!r} returned {type(result).__name__}: expected its "
            "outputs model (a StrictConfig)"
        )
    return result.model_dump(mode="json")


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: the reader sees all of it or nothing."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churnops.pipelines.task_main")
    parser.add_argument("--function", help="module:function of a task")
    parser.add_argument("--run-job", help="a job spec path to run as this task (run_job_task)")
    parser.add_argument("--home", help="records home, for --run-job")
    parser.add_argument("--inputs", required=True, type=Path, help="inputs JSON file")
    parser.add_argument("--outputs", required=True, type=Path, help="outputs JSON file")
    parser.add_argument("--error", required=True, type=Path, help="error JSON file")
    args = parser.parse_args(argv)
    try:
        inputs = json.loads(args.inputs.read_text())
        if args.run_job:
            outputs = run_child_job(args.run_job, inputs, args.home)
        else:
            outputs = run_task(args.function, inputs)
    except BaseException as exc:  # the runner records whatever ended the task
        traceback.print_exc()
        write_json(args.error, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    write_json(args.outputs, outputs)
    return 0


def run_child_job(spec_path: str, parameters: dict[str, Any], home: str | None) -> dict[str, Any]:
    """A run_job_task: run the job to its end; fail when the child run fails."""
    from churnops.pipelines.runner import run_job
    from churnops.pipelines.spec import load_job_spec

    result = run_job(
        load_job_spec(spec_path),
        {k: str(v) for k, v in parameters.items()},
        home=home or ".churnops/pipelines",
        trigger="RUN_JOB_TASK",
        spec_dir=Path(spec_path).parent,
    )
    if result.state != "SUCCESS":
        raise RuntimeError(f"child run {result.run_id} of job {result.job!r} ended {result.state}")
    return {"run_id": result.run_id, "state": result.state}


if __name__ == "__main__":
    sys.exit(main())
