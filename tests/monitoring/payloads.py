"""Payload tables as a Databricks Model Serving endpoint writes them (legacy and AI
Gateway-enabled inference tables, the documented columns), with realistic requests: batches in
each body format MLflow serving accepts, an error answer, two served models."""

from __future__ import annotations

import datetime as dt

import orjson
import pyarrow as pa

# The legacy inference table (custom model endpoints), column for column as documented.
LEGACY = pa.schema(
    [
        ("databricks_request_id", pa.string()),
        ("client_request_id", pa.string()),
        ("date", pa.date32()),
        ("timestamp_ms", pa.int64()),
        ("status_code", pa.int32()),
        ("execution_time_ms", pa.int64()),
        ("request", pa.string()),
        ("response", pa.string()),
        ("sampling_fraction", pa.float64()),
        ("request_metadata", pa.map_(pa.string(), pa.string())),
    ]
)
# The AI Gateway-enabled inference table.
GATEWAY = pa.schema(
    [
        ("request_date", pa.date32()),
        ("databricks_request_id", pa.string()),
        ("client_request_id", pa.string()),
        ("request_time", pa.timestamp("us", tz="UTC")),
        ("status_code", pa.int32()),
        ("sampling_fraction", pa.float64()),
        ("execution_duration_ms", pa.int64()),
        ("request", pa.string()),
        ("response", pa.string()),
        ("served_entity_id", pa.string()),
        ("logging_error_codes", pa.list_(pa.string())),
        ("requester", pa.string()),
    ]
)
T0 = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)
FEATURES = [
    {"customer_id": 11, "recency": 3.0, "frequency": 2.0, "monetary": 40.5},
    {"customer_id": 12, "recency": 30.0, "frequency": 1.0, "monetary": 9.9},
    {"customer_id": 13, "recency": 7.0, "frequency": 5.0, "monetary": 120.0},
]


def answer(*probs: float) -> str:
    # What MLflow serving answers for churnops' pyfunc: its DataFrame as records.
    return orjson.dumps(
        {"predictions": [{"probability": p, "prediction": int(p >= 0.5)} for p in probs]}
    ).decode()


def split(rows: list[dict]) -> str:
    cols = list(rows[0])
    return orjson.dumps(
        {"dataframe_split": {"columns": cols, "data": [[r[c] for c in cols] for r in rows]}}
    ).decode()


def requests(minutes: int = 0) -> list[dict]:
    """Realistic requests: a batch in `dataframe_split`, one in `dataframe_records`, columnar
    `inputs`, an error answer (no predictions), a second served model."""
    at = T0 + dt.timedelta(minutes=minutes)
    return [
        dict(rid=f"r{minutes}-1", at=at, status=200, body=split(FEATURES[:2]),
             answer=answer(0.81, 0.12), model="1"),
        dict(rid=f"r{minutes}-2", at=at + dt.timedelta(seconds=5), status=200,
             body=orjson.dumps({"dataframe_records": FEATURES[2:]}).decode(),
             answer=answer(0.55), model="1"),
        dict(rid=f"r{minutes}-3", at=at + dt.timedelta(seconds=9), status=400,
             body='{"dataframe_records": [{"customer_id": "x", "recency": "soon"}]}',
             answer='{"error_code": "BAD_REQUEST", "message": "recency: not a number"}',
             model="1"),
        dict(rid=f"r{minutes}-4", at=at + dt.timedelta(seconds=12), status=200,
             body=orjson.dumps({"inputs": {k: [r[k] for r in FEATURES[:2]] for k in FEATURES[0]}})
             .decode(),
             answer=answer(0.77, 0.2), model="2"),
    ]  # fmt: skip


def legacy_rows(reqs: list[dict]) -> pa.Table:
    rows = [
        {
            "databricks_request_id": r["rid"],
            "client_request_id": None,
            "date": r["at"].date(),
            "timestamp_ms": int(r["at"].timestamp() * 1000),
            "status_code": r["status"],
            "execution_time_ms": 14,
            "request": r["body"],
            "response": r["answer"],
            "sampling_fraction": 1.0,
            "request_metadata": [
                ("model_name", "main.churnops.churnops_churn"),
                ("endpoint_name", "churn"),
                ("model_version", r["model"]),
            ],
        }
        for r in reqs
    ]
    return pa.Table.from_pylist(rows, schema=LEGACY)


def gateway_rows(reqs: list[dict]) -> pa.Table:
    entity = {"1": "4f1c-champion", "2": "9a2e-challenger"}
    rows = [
        {
            "request_date": r["at"].date(),
            "databricks_request_id": r["rid"],
            "client_request_id": None,
            "request_time": r["at"],
            "status_code": r["status"],
            "sampling_fraction": 1.0,
            "execution_duration_ms": 14,
            "request": r["body"],
            "response": r["answer"],
            "served_entity_id": entity[r["model"]],
            "logging_error_codes": [],
            "requester": "svc-batch@example.com",
        }
        for r in reqs
    ]
    return pa.Table.from_pylist(rows, schema=GATEWAY)
