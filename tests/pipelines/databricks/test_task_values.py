"""Values between tasks as Databricks passes them: text substitution into each notebook widget.

Every shipped job is exported; each notebook task's parameters get Databricks' substitution of
`{{job.parameters.*}}` and `{{tasks.*.values.*}}` (every reference becomes text) with realistic
upstream outputs, and must then validate into the same typed inputs the local runner passes.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import pytest

from churnops.config import ConfigError, build_config
from churnops.data.feature_store.config import OnlineStoreConfig
from churnops.pipelines.databricks.bundle import job_names, job_settings, load_bundle_config
from churnops.pipelines.databricks.task_values import (
    INPUT_PREFIX,
    NOTEBOOK_SOURCE,
    TASK_WIDGET,
    inputs_from_text,
    notebook_parameters,
)
from churnops.pipelines.spec import (
    JobSpec,
    TaskSpec,
    load_job_spec,
    parse_job_spec,
    render_value,
    resolve_references,
    substitute_text,
)
from churnops.pipelines.task_functions import import_function, inputs_model, resolve_task

# Values the runs would produce; the rest follow from each outputs model's field types.
KNOWN = {
    "online": OnlineStoreConfig(path="/Volumes/main/churnops/pipelines/online/features.db"),
    "model_version": "3",
    "challenger_version": "3",
    "champion_version": "2",
    "passed": True,
    "retrain": True,
}


def sample(name: str, annotation: Any) -> Any:
    if name in KNOWN:
        value = KNOWN[name]
        return value.model_dump() if hasattr(value, "model_dump") else value
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return sample(name, next(a for a in args if a is not type(None)))
    if annotation is dict or origin is dict:
        return {"k": sample(name, args[1] if args else float)}
    if origin is list:  # a list of texts (reasons) or of records (a story's months)
        return ["psi:recency"] if not args or args[0] is str else [sample(name, args[0])]
    return {
        str: f"/Volumes/main/churnops/pipelines/{name}",
        int: 7,
        float: 0.8125,
        bool: True,
    }[annotation]


def realistic_outputs(task: TaskSpec) -> dict[str, Any]:
    if task.condition_task is not None or task.run_job_task is not None:
        return {}  # no task values on Databricks (the spec refuses references to them)
    model = typing.get_type_hints(import_function(resolve_task(task.task)))["return"]
    values = {n: sample(n, f.annotation) for n, f in model.model_fields.items()}
    return model.model_validate(values).model_dump(mode="json")


def lookups(spec: JobSpec) -> Any:
    params = {**spec.parameter_defaults(), **load_bundle_config().parameter_defaults}
    params = {k: v for k, v in params.items() if k in spec.parameter_defaults()}
    outputs = {t.task_key: realistic_outputs(t) for t in spec.tasks}
    fixed = {"job.run_id": "123", "job.id": "45", "job.name": spec.name, "task.name": "t",
             "job.start_time.iso_date": "2026-12-06"}  # fmt: skip

    def lookup(ref: str) -> Any:
        parts = ref.split(".")
        if parts[0] == "tasks":
            return outputs[parts[1]][parts[3]]
        if parts[:2] == ["job", "parameters"]:
            return params[parts[2]]
        return fixed[ref]

    return lookup


@pytest.mark.parametrize("name", job_names())
def test_every_task_validates_after_databricks_substitution_as_it_does_locally(name: str) -> None:
    spec = load_job_spec(name)
    lookup = lookups(spec)
    settings = job_settings(spec, load_bundle_config().model_copy(update={"wheel": "w.whl"}))
    exported = {t.task_key: t for t in settings.tasks}
    checked = 0
    workspace = load_bundle_config().task_parameters.get(name, {})
    for task in spec.tasks:
        out = exported[task.task_key]
        if task.task is not None:
            model = inputs_model(import_function(resolve_task(task.task)))
            params = {**task.parameters, **workspace.get(task.task_key, {})}
            local = build_config(model, resolve_references(params, lookup))
            widgets = {
                k: substitute_text(v, lookup) for k, v in out.notebook_task.base_parameters.items()
            }  # each widget on its own: Databricks' substitution, text in, text out
            assert widgets.pop(TASK_WIDGET) == task.task
            texts = {k.removeprefix(INPUT_PREFIX): v for k, v in widgets.items()}
            remote = build_config(model, inputs_from_text(model, texts))
            assert remote.model_dump(mode="json") == local.model_dump(mode="json")
            checked += 1
        elif task.condition_task is not None:
            cond = out.condition_task
            local_left = render_value(resolve_references(task.condition_task.left, lookup))
            assert substitute_text(cond.left, lookup) == local_left
        else:
            params = out.run_job_task.job_parameters
            assert {k: substitute_text(v, lookup) for k, v in params.items()} == {
                k: render_value(v)
                for k, v in resolve_references(task.run_job_task.job_parameters, lookup).items()
            }
    assert checked >= 1


def test_a_dict_output_stays_one_widget_and_parses_back(tmp_path: Path) -> None:
    spec = load_job_spec("training")
    params = notebook_parameters(spec.task("model_deployment"))
    assert params["input.online"] == "{{tasks.feature_engineering.values.online}}"
    text = substitute_text(params["input.online"], lookups(spec))
    from churnops.pipelines.tasks.deployment import ModelDeploymentInputs

    parsed = inputs_from_text(ModelDeploymentInputs, {"online": text, "version": "3"})
    assert parsed["online"] == KNOWN["online"].model_dump()
    assert parsed["version"] == "3"  # a text field stays text, even when it reads as a number


def test_text_that_is_no_json_for_a_typed_field_is_named_by_the_inputs_model() -> None:
    from tests.pipelines.sample_tasks import SumInputs

    with pytest.raises(ConfigError, match="a"):
        build_config(SumInputs, inputs_from_text(SumInputs, {"a": "x", "b": "3"}))


def test_the_generated_notebook_runs_the_task_and_sets_its_values(tmp_path: Path) -> None:
    """The notebook source as Databricks runs it, with the workspace's two dbutils calls."""
    task = TaskSpec(
        task_key="sum", task="tests.pipelines.sample_tasks:add",
        parameters={"a": "{{job.parameters.a}}", "b": 2, "note": "run {{job.run_id}}"},
    )  # fmt: skip
    base = notebook_parameters(task)
    values = {"job.parameters.a": 40, "job.run_id": "77"}
    widgets = {k: substitute_text(v, values.__getitem__) for k, v in base.items()}
    widgets["a"] = "pushed-down job parameter, ignored"  # job parameters reach widgets too
    widgets["note"] = "another one"
    set_values: dict[str, Any] = {}
    dbutils = types.SimpleNamespace(
        widgets=types.SimpleNamespace(getAll=lambda: dict(widgets)),
        jobs=types.SimpleNamespace(
            taskValues=types.SimpleNamespace(set=lambda key, value: set_values.update({key: value}))
        ),
    )
    exec(compile(NOTEBOOK_SOURCE, "churnops_task.py", "exec"), {"dbutils": dbutils})
    assert set_values == {"total": 42, "note": "run 77"}


@pytest.mark.parametrize(
    ("widgets", "error"),
    [
        ({"churnops_task": "tests.pipelines.sample_tasks:flaky", "input.marker": "MARKER"},
         RuntimeError),
        ({"churnops_task": "tests.pipelines.sample_tasks:add", "input.a": "x", "input.b": "1"},
         ConfigError),
        ({"input.a": "1"}, ConfigError),
    ],
)  # fmt: skip
def test_a_failing_notebook_task_raises_and_sets_no_value(
    tmp_path: Path, widgets: dict, error: type
) -> None:
    """A notebook that raises fails its task run (and with it the job), and sets no value."""
    widgets = {k: v.replace("MARKER", str(tmp_path / "m")) for k, v in widgets.items()}
    set_values: dict[str, Any] = {}
    dbutils = types.SimpleNamespace(
        widgets=types.SimpleNamespace(getAll=lambda: dict(widgets)),
        jobs=types.SimpleNamespace(
            taskValues=types.SimpleNamespace(set=lambda key, value: set_values.update({key: value}))
        ),
    )
    with pytest.raises(error):
        exec(compile(NOTEBOOK_SOURCE, "churnops_task.py", "exec"), {"dbutils": dbutils})
    assert set_values == {}


def test_a_reference_inside_a_list_parameter_is_refused() -> None:
    spec = {
        "name": "j",
        "parameters": [{"name": "x", "default": "1"}],
        "tasks": [{"task_key": "t", "task": "tests.pipelines.sample_tasks:add",
                   "parameters": {"a": 1, "b": 2, "note": ["{{job.parameters.x}}"]}}],
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"parameters.note: a \{\{...\}\} reference inside"):
        parse_job_spec(spec)
