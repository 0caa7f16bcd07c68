"""The lifecycle's stages as typed task functions (`def name(inputs: XInputs) -> XOutputs`).

`TASKS` maps each task's name (what a job spec's `task:` says) to its function as a lazy
`module:function` string, so listing tasks imports none of their dependencies.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

TASKS: dict[str, str] = {
    "feature_engineering": "churnops.pipelines.tasks.features:feature_engineering",
    "model_training": "churnops.pipelines.tasks.training:model_training",
    "tuning": "churnops.pipelines.tasks.tuning:tuning",
    "model_validation": "churnops.pipelines.tasks.validation:model_validation",
    "model_deployment": "churnops.pipelines.tasks.deployment:model_deployment",
    "batch_inference": "churnops.pipelines.tasks.batch:batch_inference",
    "serving_check": "churnops.pipelines.tasks.serving:serving_check",
}


def get_task(name: str) -> Callable[[Any], Any]:
    """The task function `name` names; an unknown name is an error listing the known ones."""
    if name not in TASKS:
        raise KeyError(f"task {name!r}: unknown; expected one of {', '.join(sorted(TASKS))}")
    module, _, function = TASKS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def task_io(name: str) -> tuple[type, type]:
    """(inputs model, outputs model) of task `name`, read from its type hints."""
    import typing

    hints = typing.get_type_hints(get_task(name))
    return next(v for k, v in hints.items() if k != "return"), hints["return"]
