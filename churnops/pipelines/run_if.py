"""Which task runs next, by Databricks Jobs' rules: a task's run_if verdict over its
dependencies, a condition task's comparison, and the launch order when slots are short.

Pure functions over the spec and the tasks' results so far: the runner asks, they answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from churnops.pipelines.records import FAILED_TASK_STATES
from churnops.pipelines.spec import ConditionOp, JobSpec, RunIf, TaskSpec, downstream


class TaskState(Protocol):
    """What the rules read of a task's result: its state and its values."""

    state: str
    outputs: dict[str, Any]


def run_verdict(task: TaskSpec, results: Mapping[str, TaskState]) -> str:
    """RUN, WAIT (a dependency is unfinished), EXCLUDED or UPSTREAM_FAILED, per run_if."""
    deps = [(d, results[d.task_key]) for d in task.depends_on]
    if any(r.state == "PENDING" for _, r in deps):
        return "WAIT"
    if not deps:
        return "RUN"
    ok = [
        r.state == "SUCCESS" and (d.outcome is None or r.outputs.get("outcome") == d.outcome)
        for d, r in deps
    ]
    failed = [r.state in FAILED_TASK_STATES for _, r in deps]
    runs = {
        RunIf.ALL_SUCCESS: all(ok),
        RunIf.AT_LEAST_ONE_SUCCESS: any(ok),
        RunIf.NONE_FAILED: not any(failed) and any(ok),
        RunIf.ALL_DONE: True,
        RunIf.AT_LEAST_ONE_FAILED: any(failed),
        RunIf.ALL_FAILED: all(failed),
    }[task.run_if]
    if runs:
        return "RUN"
    failure_blocks = task.run_if not in (RunIf.AT_LEAST_ONE_FAILED, RunIf.ALL_FAILED)
    return "UPSTREAM_FAILED" if any(failed) and failure_blocks else "EXCLUDED"


def skip_reason(task: TaskSpec, verdict: str, results: Mapping[str, TaskState]) -> str:
    """Why a task did not run, with its dependencies' states."""
    deps = ", ".join(f"{d.task_key}={results[d.task_key].state}" for d in task.depends_on)
    return f"{verdict}: run_if={task.run_if.value} not met ({deps})"


def launch_priority(spec: JobSpec, order: list[str]) -> list[str]:
    """`order` (topological) re-sorted for launching when more tasks are ready than slots: first
    those more tasks wait on, then the deeper ones (a chain's later links before side tasks), so
    the demo's sweep and the deployment chain after it do not queue behind side trainings. Still
    topological: a task always has more tasks waiting on it than any task that depends on it."""
    depth: dict[str, int] = {}
    for k in order:
        depth[k] = max((depth[d.task_key] + 1 for d in spec.task(k).depends_on), default=0)
    waiting = {k: len(downstream(spec, {k})) for k in order}
    return sorted(order, key=lambda k: (-waiting[k], -depth[k]))


def compare(op: ConditionOp, left: str, right: str) -> bool:
    """A condition task's comparison: as numbers when both sides are, else only (in)equality."""
    try:
        a: Any = float(left)
        b: Any = float(right)
    except ValueError:
        if op not in (ConditionOp.EQUAL_TO, ConditionOp.NOT_EQUAL):
            raise ValueError(
                f"condition {op.value}: {left!r} and {right!r} are not both numbers"
            ) from None
        a, b = left, right
    return {
        ConditionOp.EQUAL_TO: a == b,
        ConditionOp.NOT_EQUAL: a != b,
        ConditionOp.GREATER_THAN: a > b,
        ConditionOp.GREATER_THAN_OR_EQUAL: a >= b,
        ConditionOp.LESS_THAN: a < b,
        ConditionOp.LESS_THAN_OR_EQUAL: a <= b,
    }[op]
