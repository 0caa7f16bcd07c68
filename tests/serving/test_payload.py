"""The four Databricks input formats parse to the same rows; bad bodies name their fault."""

from __future__ import annotations

import orjson
import pytest

from churnops.serving.lookup import RequestError
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
    assert parse_payload(orjson.dumps(body), 100) == ROWS


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "empty body"),
        (b"{not json", 400, "malformed JSON"),
        (b"[1, 2]", 400, "got list"),
        (b'{"records": []}', 400, "expected exactly one of"),
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
