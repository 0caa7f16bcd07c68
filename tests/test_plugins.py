import pytest

from churnops.plugins import load_choice

CHOICES = {"json": "json:dumps", "path": "pathlib:Path"}


def test_load_choice_imports_the_named_attribute():
    import json

    assert load_choice(CHOICES, "json", field="x.kind") is json.dumps


def test_unknown_name_names_the_field_value_and_choices():
    with pytest.raises(ValueError, match=r"x\.kind='yaml': expected one of json, path"):
        load_choice(CHOICES, "yaml", field="x.kind")
