"""OpenAPI pieces for the invocation route: the four Databricks input formats and the answers.

The route reads the raw body itself (a pydantic model per request costs more than the model
call), so these schemas document it for clients and for the schemathesis tests.
"""

from __future__ import annotations

from typing import Any

from churnops.serving.payload import FORMATS

_SCALAR = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}, {"type": "null"}]}
_RECORD = {"type": "object", "additionalProperties": _SCALAR}
_COLUMNS = {"type": "object", "additionalProperties": {"type": "array", "items": _SCALAR}}

_JSON_TYPES = {"float64": "number", "float32": "number", "int64": "integer", "int32": "integer"}


def invocation_body(
    columns: dict[str, str] | None = None, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The request body's OpenAPI: the four formats, a row's columns (`columns`: name -> numpy
    dtype, from the served models' signatures) and the per-call `params` they take."""
    record: dict[str, Any] = dict(_RECORD)
    if columns:
        record["properties"] = {
            c: {"anyOf": [{"type": _JSON_TYPES[d]}, {"type": "null"}]}
            if d in _JSON_TYPES
            else _SCALAR
            for c, d in columns.items()
        }
    records = {"type": "array", "items": record, "minItems": 1}
    params_schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    params_schema["properties"] = params or {}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "Exactly one of the four formats, and optional `params` "
                    "(e.g. the decision `threshold`). Rows may carry only `customer_id`: "
                    "missing features are read from the online store.",
                    "minProperties": 1,
                    "maxProperties": 2,
                    "additionalProperties": False,
                    # Exactly one format, as the server reads it (`params` alone is refused).
                    "oneOf": [{"required": [name]} for name in FORMATS],
                    "properties": {
                        "dataframe_records": records,
                        "dataframe_split": {
                            "type": "object",
                            "required": ["columns", "data"],
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "data": {
                                    "type": "array",
                                    "items": {"type": "array", "items": _SCALAR},
                                },
                                "index": {"type": "array"},
                            },
                        },
                        "inputs": {"anyOf": [records, _COLUMNS]},
                        "instances": {"anyOf": [records, _COLUMNS]},
                        "params": {"anyOf": [params_schema, {"type": "null"}]},  # null: none
                    },
                },
                "example": {"dataframe_records": [{"customer_id": "00001"}]},
            }
        },
    }


INVOCATION_RESPONSE: dict[str, Any] = {
    "description": "One prediction per row (a record when the model returns a frame, or "
    '`{"error": ...}` for a row whose key is unknown), and which model version answered '
    "(also in the `served-model-name`, `x-churnops-served-entity` and `x-churnops-model-version` "
    "headers). When "
    "a request's customers are routed to several models, `served_entities` and "
    "`model_versions` say which answered each row.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["predictions"],
                "properties": {
                    "predictions": {"type": "array"},
                    "served_entities": {"type": "array", "items": {"type": "string"}},
                    "model_versions": {"type": "array", "items": {"type": "string"}},
                    "served_entity": {"type": "string"},
                    "model_name": {"type": "string"},
                    "model_version": {"type": "string"},
                },
            }
        }
    },
}

_ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _err("Bad input: malformed JSON, wrong types, missing columns; the message names it"),
    401: _err("Missing or invalid bearer token"),
    404: _err("No endpoint of that name"),
    408: _err("The body did not all arrive within limits.body_timeout_seconds"),
    413: _err("Body or row count over the configured limits"),
    415: _err("Content-Type is not application/json"),
    503: _err("The online feature table is not published"),
}
