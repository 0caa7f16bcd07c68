"""The four Databricks input formats parse to the same rows; bad bodies name their fault."""

from __future__ import annotations

import re

import orjson
import pytest

from churnops.serving.errors import RequestError
from churnops.serving.payload import parse_payload

ROWS = [{"customer_id": "1", "total_orders": 2.0}, {"customer_id": "2", "total_orders": 5.0}]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_records": ROWS},
        {
            "dataframe_split": {
                "columns": ["customer_id", "total_orders"],
                "data": [["1", 2.0], ["2", 5.0]],
            }
        },
        {"inputs": ROWS},
        {"instances": ROWS},
        {"inputs": {"customer_id": ["1", "2"], "total_orders": [2.0, 5.0]}},
        {"instances": {"customer_id": ["1", "2"], "total_orders": [2.0, 5.0]}},
    ],
)
def test_formats_agree(body):
    assert parse_payload(orjson.dumps(body), 100).rows == ROWS


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "empty body"),
        (b"{not json", 400, "malformed JSON"),
        (b"[1, 2]", 400, "got list"),
        (b'{"records": []}', 400, "unknown key(s) ['records']"),
        (b'{"dataframe_records": [], "inputs": []}', 400, "expected exactly one of"),
        (b'{"dataframe_records": []}', 400, "at least one row"),
        (b'{"dataframe_records": {"a": [1]}}', 400, "expected a list of objects"),
        (b'{"dataframe_records": [1]}', 400, "dataframe_records[0]: expected an object"),
        (b'{"dataframe_records": [{"a": [1]}]}', 400, "dataframe_records[0].a"),
        (b'{"dataframe_split": {"columns": ["a"]}}', 400, "`columns` and `data`"),
        (b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}', 400, "data[0]"),
        (b'{"inputs": {"a": [1], "b": [1, 2]}}', 400, "different lengths"),
        (b'{"dataframe_records": [{}, {}, {}]}', 413, "more than the limit 2"),
    ],
)
def test_bad_bodies(body, status, message):
    with pytest.raises(RequestError) as err:
        parse_payload(body, 2)
    assert err.value.status == status
    assert message in str(err.value)


def test_params_come_back_beside_the_rows():
    payload = parse_payload(orjson.dumps({"inputs": ROWS, "params": {"threshold": 0.3}}), 100)
    assert payload.rows == ROWS
    assert payload.params == {"threshold": 0.3}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"inputs": [{"a": 1}], "extra": 1}', "unknown key(s) ['extra']"),
        (b'{"inputs": [{"a": 1}], "params": [0.3]}', "params: expected an object"),
        (b'{"inputs": [{"a": Infinity}]}', "value Infinity: out of range"),
        (b'{"inputs": [{"a": NaN}', "malformed JSON"),
    ],
)
def test_unknown_keys_bad_params_and_infinity_are_refused(body, message):
    with pytest.raises(RequestError, match=re.escape(message)):
        parse_payload(body, 10)


def test_nan_is_a_missing_value_as_in_mlflow_input_examples():
    # MLflow writes input_example.json with Python's json, which spells a missing value NaN.
    body = b'{"dataframe_split": {"columns": ["a", "b"], "data": [[NaN, 2.0]]}}'
    assert parse_payload(body, 10).rows == [{"a": None, "b": 2.0}]
