"""TASKS: every name resolves to a typed task whose inputs and outputs are strict models."""

from __future__ import annotations

import json

import pytest

from churnops.config import StrictConfig
from churnops.pipelines.tasks import TASKS, get_task, task_io


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_task_is_typed_with_strict_json_models(name):
    inputs, outputs = task_io(name)
    assert issubclass(inputs, StrictConfig) and issubclass(outputs, StrictConfig)
    assert {"workdir", "tracking_uri", "registry_uri"} <= set(inputs.model_fields)
    json.dumps(inputs.model_json_schema())  # every field has a JSON form
    json.dumps(outputs.model_json_schema())
    assert get_task(name).__name__ == name


def test_unknown_task_names_the_known_ones():
    with pytest.raises(KeyError, match=r"task 'train': unknown; expected one of batch_inference"):
        get_task("train")
