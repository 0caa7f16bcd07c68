"""The inference table a Databricks Model Serving endpoint writes (its "payload" table), read as
the monitor's inference log: which kind of log a table is, and its rows as requests.

Two documented schemas (docs/databricks.md cites the pages):

- legacy inference tables (custom model endpoints): `databricks_request_id`,
  `client_request_id`, `date`, `timestamp_ms`, `status_code`, `execution_time_ms`, `request`,
  `response`, `sampling_fraction`, `request_metadata` (a map holding `model_name`,
  `endpoint_name`, `model_version`);
- AI Gateway-enabled inference tables: `request_date`, `databricks_request_id`,
  `client_request_id`, `request_time`, `status_code`, `sampling_fraction`,
  `execution_duration_ms`, `request`, `response`, `served_entity_id`, `logging_error_codes`,
  `requester`.

`request` is the body the client sent (`dataframe_split`, `dataframe_records`, `inputs` or
`instances`, parsed by the serving layer's own `parse_payload`), `response` the answer
(`{"predictions": [...]}`). churnops' own serving log (`churnops serve`) carries the legacy
columns too, plus flat `served_entity_name`, `model_name`, `model_version`, `is_shadow`, and its
`request` holds the feature rows the model saw rather than the body.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

import orjson

from churnops.serving.errors import RequestError
from churnops.serving.payload import parse_payload

CHURNOPS = "churnops"  # churnops' own serving log
LEGACY = "databricks_payload (legacy inference table)"
GATEWAY = "databricks_payload (AI Gateway-enabled inference table)"
# The setting's names: what a job declares it reads (`inference_log_format`).
FORMATS = ("churnops", "databricks_payload")

# The columns each kind must have to be unpacked (its other documented columns are not read).
REQUIRED = {
    CHURNOPS: [
        "databricks_request_id", "timestamp_ms", "status_code", "request", "response",
        "endpoint_name", "served_entity_name", "model_name", "model_version", "is_shadow",
    ],
    LEGACY: [
        "databricks_request_id", "timestamp_ms", "status_code", "request", "response",
        "request_metadata",
    ],
    GATEWAY: [
        "databricks_request_id", "request_time", "status_code", "request", "response",
        "served_entity_id",
    ],
}  # fmt: skip
# Columns only one kind has: what a table is recognised by.
_MARKS = {
    CHURNOPS: {"is_shadow", "served_entity_name"},
    GATEWAY: {"request_time", "served_entity_id", "execution_duration_ms", "request_date"},
    LEGACY: {"request_metadata", "timestamp_ms", "execution_time_ms"},
}


class LogFormatError(ValueError):
    """A table that is not an inference log of a kind churnops reads, or not the declared one."""


def log_kind(path: str, columns: list[str], expected: str | None = None) -> str:
    """Which kind of inference log a table with these columns is (`CHURNOPS`, `LEGACY`,
    `GATEWAY`), checked to have every column unpacking reads.

    Args:
        path: the table, for the error.
        columns: the table's column names.
        expected: the declared format (`churnops` | `databricks_payload`); None: any.

    Raises:
        LogFormatError: naming the missing columns, or the kind found when another was declared.
    """
    if expected is not None and expected not in FORMATS:
        raise LogFormatError(f"inference_log_format={expected!r}: expected one of {FORMATS}")
    have = set(columns)
    kind = next((k for k, marks in _MARKS.items() if marks & have), None)
    if kind is None:
        wanted = "; ".join(f"{k}: {REQUIRED[k]}" for k in REQUIRED)
        raise LogFormatError(
            f"inference_log={path!r}: columns {sorted(have)} are no inference log churnops "
            f"reads; expected the columns of one of: {wanted}"
        )
    missing = [c for c in REQUIRED[kind] if c not in have]
    if missing:
        raise LogFormatError(
            f"inference_log={path!r} ({kind}): missing column(s) {missing}; "
            f"expected {REQUIRED[kind]}"
        )
    declared = {CHURNOPS: "churnops", LEGACY: "databricks_payload", GATEWAY: "databricks_payload"}
    if expected is not None and declared[kind] != expected:
        raise LogFormatError(
            f"inference_log={path!r}: a {kind} table, but inference_log_format={expected!r}"
        )
    return kind


@dataclass
class Request:
    """One logged request, whatever the log: who answered, when, what was asked and answered."""

    request_id: str
    timestamp: dt.datetime  # UTC
    endpoint_name: str | None
    served_entity_name: str | None
    model_name: str | None
    model_version: str | None
    is_shadow: bool
    rows: list[dict[str, Any]]  # the feature rows (or keys) the request carried
    predictions: list[Any]  # the response's, one per row


def requests_of(kind: str, log_rows: list[dict[str, Any]]) -> list[Request]:
    """The successful requests of inference log rows of `kind` (status 200; errors carry no
    predictions and are skipped)."""
    out = []
    for rec in log_rows:
        if rec["status_code"] != 200 or not rec["request"]:
            continue
        rid = rec["databricks_request_id"]
        response = orjson.loads(rec["response"])
        preds = response.get("predictions", []) if isinstance(response, dict) else None
        if not isinstance(preds, list):
            raise ValueError(
                f"inference log request {rid}: response {rec['response'][:200]!r}; expected "
                '{"predictions": [one per row]}'
            )
        if kind == CHURNOPS:
            out.append(
                Request(
                    rid, _from_ms(rec["timestamp_ms"]), rec["endpoint_name"],
                    rec["served_entity_name"], rec["model_name"], rec["model_version"],
                    bool(rec["is_shadow"]), orjson.loads(rec["request"]), preds,
                )
            )  # fmt: skip
            continue
        rows = _body_rows(rid, rec["request"])
        if kind == LEGACY:
            meta = dict(rec["request_metadata"] or [])
            out.append(
                Request(
                    rid, _from_ms(rec["timestamp_ms"]), meta.get("endpoint_name"),
                    meta.get("served_entity_name"), meta.get("model_name"),
                    meta.get("model_version"), False, rows, preds,
                )
            )  # fmt: skip
        else:  # GATEWAY: the served entity's id is all the table says of the model
            entity = rec["served_entity_id"]
            out.append(
                Request(
                    rid, _utc(rec["request_time"]), None, entity, None, entity, False, rows,
                    preds,
                )
            )  # fmt: skip
    return out


def _body_rows(rid: str, body: str) -> list[dict[str, Any]]:
    """The rows of a request body in any format MLflow serving accepts (the endpoint answered
    200, so the body parsed there; here a body that does not is a corrupt log)."""
    try:
        return parse_payload(body.encode(), max_rows=sys.maxsize).rows
    except RequestError as exc:
        raise ValueError(f"inference log request {rid}: request body: {exc}") from None


def _from_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _utc(ts: dt.datetime) -> dt.datetime:
    """A TIMESTAMP column's value as UTC (Delta stores timestamps in UTC; one read without a
    zone is UTC)."""
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)
