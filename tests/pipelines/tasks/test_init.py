"""TASKS: every name resolves to a typed task whose inputs and outputs are strict models."""

from __future__ import annotations

import json
import typing

import pytest

from churnops.config import ConfigError, StrictConfig
from churnops.pipelines.task_functions import import_function, inputs_model, resolve_task
from churnops.pipelines.tasks import TASKS


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_task_is_typed_with_strict_json_models(name):
    fn = import_function(resolve_task(name))
    inputs, outputs = inputs_model(fn), typing.get_type_hints(fn)["return"]
    assert issubclass(inputs, StrictConfig) and issubclass(outputs, StrictConfig)
    assert {"workdir", "tracking_uri", "registry_uri"} <= set(inputs.model_fields)
    json.dumps(inputs.model_json_schema())  # every field has a JSON form
    json.dumps(outputs.model_json_schema())
    assert fn.__name__ == name


def test_unknown_task_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"task='train': not a churnops task \(known: \['batch"):
        resolve_task("train")
