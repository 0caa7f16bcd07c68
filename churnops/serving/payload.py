"""Parse the Databricks invocation formats into rows: `dataframe_records`, `dataframe_split`,
`inputs` and `instances` (a list of objects, or an object of equal-length columns), plus the
optional per-call `params`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from churnops.serving.errors import RequestError

FORMATS = ("dataframe_records", "dataframe_split", "inputs", "instances")
TOP_LEVEL = (*FORMATS, "params")
_SCALARS = (str, int, float, bool, type(None))
MAX_DEPTH = 1024  # orjson's nesting limit; deeper is a 400, as the standard parser would crash


@dataclass
class Payload:
    """A parsed invocation: its rows and its `params` (empty when none were sent)."""

    rows: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)


def parse_payload(body: bytes, max_rows: int) -> Payload:
    """The request's rows and params; a `RequestError` (400, or 413: too many rows) says why not."""
    if not body:
        raise RequestError(f"empty body: expected a JSON object with one of {', '.join(FORMATS)}")
    data = _loads(body)
    if not isinstance(data, dict):
        raise RequestError(
            f"body: expected a JSON object with one of {', '.join(FORMATS)}, "
            f"got {type(data).__name__}"
        )
    unknown = [str(k) for k in data if k not in TOP_LEVEL]
    if unknown:
        raise RequestError(
            f"body: unknown key(s) {sorted(unknown)}; expected one of {list(TOP_LEVEL)}"
        )
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise RequestError(
            f"params: expected an object of name: value, got {type(params).__name__}"
        )
    given = [k for k in FORMATS if k in data]
    if len(given) != 1:
        found = ", ".join(sorted(map(str, data))) or "none"
        raise RequestError(f"body: expected exactly one of {', '.join(FORMATS)}; keys: {found}")
    fmt = given[0]
    value = data[fmt]
    if fmt == "dataframe_split":
        rows = _split_rows(value)
    elif isinstance(value, list):
        rows = value
    elif isinstance(value, dict) and fmt != "dataframe_records":
        rows = _columns_rows(fmt, value)
    else:
        raise RequestError(f"{fmt}: expected a list of objects, got {type(value).__name__}")
    if not rows:
        raise RequestError(f"{fmt}: expected at least one row")
    if len(rows) > max_rows:
        raise RequestError(f"{fmt}: {len(rows)} rows, more than the limit {max_rows}", status=413)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(f"{fmt}[{i}]: expected an object, got {type(row).__name__}")
        for col, v in row.items():
            if not isinstance(v, _SCALARS):
                raise RequestError(
                    f"{fmt}[{i}].{col}: expected a number, string or null, got {type(v).__name__}"
                )
    return Payload(rows, params)


def _loads(body: bytes) -> Any:
    """JSON, where NaN (as Python's json and MLflow's `input_example.json` write it) is null.

    orjson (fast) refuses NaN; only a body it refuses is read again with the standard parser,
    where NaN becomes a missing value and +-Infinity is refused as out of range. What the
    standard parser takes but orjson cannot write back (a lone surrogate, so neither the answer
    nor the log could quote it) and nesting deeper than `MAX_DEPTH` are 400s too.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = exc
    if "recursion" in str(error):  # the standard parser would recurse until Python refuses
        raise RequestError(f"body: nested deeper than {MAX_DEPTH} levels") from None
    try:
        data = json.loads(body, parse_constant=_constant)
    except RequestError:
        raise
    except RecursionError:
        raise RequestError(f"body: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise RequestError(f"malformed JSON: {error}") from None
    try:  # orjson refused it for a reason the standard parser lets through: a lone surrogate
        orjson.dumps(data)
    except orjson.JSONEncodeError:
        raise RequestError(
            "malformed JSON: a string holds a lone UTF-16 surrogate (e.g. \\ud800), which is "
            "not a character; expected valid Unicode"
        ) from None
    return data


def _constant(name: str) -> None:
    if name == "NaN":
        return None
    raise RequestError(f"value {name}: out of range, expected a finite number or null (NaN)")


def _split_rows(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict) or "columns" not in value or "data" not in value:
        raise RequestError("dataframe_split: expected an object with `columns` and `data`")
    columns, data = value["columns"], value["data"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise RequestError("dataframe_split.columns: expected a list of column names (strings)")
    if not isinstance(data, list):
        raise RequestError(
            f"dataframe_split.data: expected a list of rows, got {type(data).__name__}"
        )
    rows = []
    for i, r in enumerate(data):
        if not isinstance(r, list) or len(r) != len(columns):
            raise RequestError(
                f"dataframe_split.data[{i}]: expected {len(columns)} values, one per column"
            )
        rows.append(dict(zip(columns, r, strict=True)))
    return rows


def _columns_rows(fmt: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    if not value:
        raise RequestError(f"{fmt}: expected at least one column")
    lengths = {k: len(v) if isinstance(v, list) else -1 for k, v in value.items()}
    bad = [k for k, n in lengths.items() if n < 0]
    if bad:
        raise RequestError(f"{fmt}.{bad[0]}: expected a list of values (columnar input)")
    if len(set(lengths.values())) != 1:
        raise RequestError(f"{fmt}: columns have different lengths {lengths}")
    names = list(value)
    return [dict(zip(names, vals, strict=True)) for vals in zip(*value.values(), strict=True)]
