"""The job spec: strict fields, a checked task graph, and the shipped specs."""

from __future__ import annotations

import pytest

from churnops.config import ConfigError
from churnops.pipelines.spec import PIPELINE_DIR, downstream, load_job_spec, parse_job_spec


def spec(*tasks: dict, **fields: object):
    return parse_job_spec({"name": "j", "tasks": list(tasks), **fields})


def t(key: str, *deps: str, **fields: object) -> dict:
    return {"task_key": key, "task": "m:f", "depends_on": [{"task_key": d} for d in deps], **fields}


@pytest.mark.parametrize(
    ("tasks", "fields", "message"),
    [
        ([t("a", "b"), t("b", "a")], {}, "depends_on forms a cycle among \\['a', 'b'\\]"),
        ([t("a", "zz")], {}, "depends_on 'zz' is not a task of this job"),
        ([t("a"), t("a")], {}, "task_key \\['a'\\] used more than once"),
        (
            [t("a", parameters={"x": "{{tasks.b.values.y}}"}), t("b")],
            {},
            "'b' is not upstream of 'a'",
        ),
        ([t("a", parameters={"x": "{{job.parameters.nope}}"})], {}, "no job parameter 'nope'"),
        ([t("a", parameters={"x": "{{job.whatever}}"})], {}, "expected job.parameters.NAME"),
        (
            [t("a"), {"task_key": "b", "task": "m:f",
                      "depends_on": [{"task_key": "a", "outcome": "true"}]}],
            {},
            "only on a condition_task",
        ),
        ([t("a", job_cluster_key="gpu")], {}, "job_cluster_key='gpu' is not in job_clusters"),
    ],
)  # fmt: skip
def test_bad_graphs_are_refused_with_the_reason(tasks, fields, message) -> None:
    with pytest.raises(ConfigError, match=message):
        spec(*tasks, **fields)


def test_field_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'tasks\.0\.max_retry'"):
        spec(t("a", max_retry=2))
    with pytest.raises(ConfigError, match=r"tasks\.0\.run_if='SOMETIMES'"):
        spec(t("a", run_if="SOMETIMES"))
    with pytest.raises(ConfigError, match="expected exactly one of task, condition_task"):
        cond = {"op": "EQUAL_TO", "left": "1", "right": "1"}
        spec({"task_key": "a", "task": "m:f", "condition_task": cond})
    with pytest.raises(ConfigError, match="max_concurrent_runs=0"):
        spec(t("a"), max_concurrent_runs=0)


def test_downstream_follows_dependencies() -> None:
    s = spec(t("a"), t("b", "a"), t("c", "b"), t("d"))
    assert downstream(s, {"b"}) == {"b", "c"}
    assert downstream(s, {"a", "d"}) == {"a", "b", "c", "d"}


@pytest.mark.parametrize("name", sorted(p.stem for p in PIPELINE_DIR.glob("*.yaml")))
def test_shipped_specs_load(name: str) -> None:
    job = load_job_spec(name)
    assert job.name == name  # run_job_task and the bundle refer to jobs by file name


@pytest.mark.parametrize("name", sorted(p.stem for p in PIPELINE_DIR.glob("*.yaml")))
def test_shipped_specs_pass_only_inputs_their_tasks_take(name: str) -> None:
    from churnops.pipelines.task_main import import_function, inputs_model, resolve_task

    for task in load_job_spec(name).tasks:
        if task.task is None:
            continue
        fields = inputs_model(import_function(resolve_task(task.task))).model_fields
        unknown = sorted(set(task.parameters) - set(fields))
        assert not unknown, f"{name}.{task.task_key}: {task.task} takes no {unknown}"


def test_training_spec_is_the_four_stages_with_a_gate() -> None:
    job = load_job_spec("training")
    tasks = [x.task for x in job.tasks if x.task]
    assert tasks == [
        "feature_engineering",
        "model_training",
        "model_validation",
        "model_deployment",
    ]
    deploy = job.task("model_deployment")
    assert [(d.task_key, d.outcome) for d in deploy.depends_on] == [("validation_passed", "true")]


def test_unknown_job_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"known jobs: \[.*'training'"):
        load_job_spec("trainning")
