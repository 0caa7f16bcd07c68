"""Databricks Jobs' rules for which task runs next, as pure functions over results so far."""

from dataclasses import dataclass, field

import pytest

from churnops.pipelines.run_if import compare, launch_priority, run_verdict, skip_reason
from churnops.pipelines.spec import ConditionOp, TaskSpec, parse_job_spec


@dataclass
class Result:
    state: str
    outputs: dict = field(default_factory=dict)


def _task(run_if="ALL_SUCCESS", deps=("a", "b"), outcome=None):
    depends_on = [{"task_key": d, "outcome": outcome} for d in deps]
    return TaskSpec(task_key="t", task="x:y", depends_on=depends_on, run_if=run_if)


@pytest.mark.parametrize(
    ("run_if", "a", "b", "verdict"),
    [
        ("ALL_SUCCESS", "SUCCESS", "SUCCESS", "RUN"),
        ("ALL_SUCCESS", "SUCCESS", "FAILED", "UPSTREAM_FAILED"),
        ("ALL_SUCCESS", "SUCCESS", "EXCLUDED", "EXCLUDED"),
        ("AT_LEAST_ONE_SUCCESS", "FAILED", "SUCCESS", "RUN"),
        ("NONE_FAILED", "SUCCESS", "EXCLUDED", "RUN"),
        ("NONE_FAILED", "SUCCESS", "TIMEDOUT", "UPSTREAM_FAILED"),
        ("ALL_DONE", "FAILED", "FAILED", "RUN"),
        ("AT_LEAST_ONE_FAILED", "SUCCESS", "SUCCESS", "EXCLUDED"),
        ("ALL_FAILED", "FAILED", "FAILED", "RUN"),
        ("ALL_SUCCESS", "SUCCESS", "PENDING", "WAIT"),
    ],
)
def test_run_if_verdicts(run_if, a, b, verdict):
    results = {"a": Result(a), "b": Result(b)}
    assert run_verdict(_task(run_if), results) == verdict


def test_a_condition_branch_runs_only_on_its_outcome():
    task = _task(deps=("cond",), outcome="true")
    assert run_verdict(task, {"cond": Result("SUCCESS", {"outcome": "true"})}) == "RUN"
    assert run_verdict(task, {"cond": Result("SUCCESS", {"outcome": "false"})}) == "EXCLUDED"


def test_skip_reason_names_the_rule_and_the_dependencies():
    why = skip_reason(_task(), "UPSTREAM_FAILED", {"a": Result("SUCCESS"), "b": Result("FAILED")})
    assert why == "UPSTREAM_FAILED: run_if=ALL_SUCCESS not met (a=SUCCESS, b=FAILED)"


def test_compare_numbers_as_numbers_and_text_only_for_equality():
    assert compare(ConditionOp.GREATER_THAN, "10", "9.5")
    assert compare(ConditionOp.EQUAL_TO, "yes", "yes")
    with pytest.raises(ValueError, match="not both numbers"):
        compare(ConditionOp.LESS_THAN, "a", "1")


def test_launch_priority_puts_the_long_chain_first_and_stays_topological():
    spec = parse_job_spec(
        {
            "name": "j",
            "tasks": [
                {"task_key": "side", "task": "x:y"},
                {"task_key": "head", "task": "x:y"},
                {"task_key": "mid", "task": "x:y", "depends_on": [{"task_key": "head"}]},
                {"task_key": "tail", "task": "x:y", "depends_on": [{"task_key": "mid"}]},
            ],
        }
    )
    assert launch_priority(spec, ["side", "head", "mid", "tail"]) == ["head", "mid", "tail", "side"]
