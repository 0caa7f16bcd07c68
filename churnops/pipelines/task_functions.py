"""Task functions by name: resolve, import, validate the inputs, call, and write the outputs.

A task function is `def name(inputs: XInputs) -> XOutputs` (`churnops.pipelines.tasks`). The
runner, the task processes it forks, `churnops pipeline task` and the Databricks notebook tasks
all run one through here.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import traceback
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from churnops.config import ConfigError, StrictConfig, build_config
from churnops.pipelines.tasks import TASKS


def resolve_task(name: str, registry: dict[str, Any] | None = None) -> str:
    """A task's import string: `name` itself when it holds ':', else its TASKS entry."""
    if ":" in name:
        return name
    if registry is None:
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


def run_in_files(
    work: Callable[[dict[str, Any]], dict[str, Any]], inputs: Path, outputs: Path, error: Path
) -> int:
    """Call `work` on the JSON in `inputs` and write what it returns to `outputs`: 0. A failure
    prints its traceback and writes `{"error": ...}` to `error`: 1."""
    try:
        result = work(json.loads(inputs.read_text()))
    except BaseException as exc:  # the runner records whatever ended the task
        traceback.print_exc()
        write_json(error, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    write_json(outputs, result)
    return 0
