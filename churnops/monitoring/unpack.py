"""Unpack the serving inference log (JSON per request) into the predictions table, incrementally.

One row per scored customer (contract 1). Only log files added since the last unpack are read;
the log version processed is stored in the same Delta commit as the rows it produced, so a crash
can neither lose nor repeat rows. Error responses are skipped; shadow rows keep `is_shadow`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from churnops.data.delta_tables import open_table, table_exists, write_table
from churnops.data.storage import read_parquet
from churnops.monitoring.frames import delta_files

LOG_VERSION_KEY = "churnops.inference_log_version"
LOG_FILES_KEY = "churnops.inference_log_files"
BASE_FIELDS = [
    ("request_id", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("date", pa.date32()),
    ("endpoint_name", pa.string()),
    ("served_entity_name", pa.string()),
    ("model_name", pa.string()),
    ("model_version", pa.string()),
    ("is_shadow", pa.bool_()),
    ("customer_id", pa.string()),
    ("probability", pa.float64()),
    ("prediction", pa.int64()),
]
LOG_COLUMNS = [
    "databricks_request_id",
    "timestamp_ms",
    "status_code",
    "request",
    "response",
    "endpoint_name",
    "served_entity_name",
    "model_name",
    "model_version",
    "is_shadow",
]


def unpack_inference_log(
    log_path: str | Path, table_path: str | Path, id_col: str = "customer_id"
) -> int:
    """Append the rows of log files not yet unpacked to the predictions table; return how many.

    Args:
        log_path: the serving inference log Delta table.
        table_path: the predictions Delta table (created on the first call).
        id_col: the request field holding the customer id.
    """
    from deltalake import CommitProperties

    if not table_exists(log_path):
        raise FileNotFoundError(f"inference_log={str(log_path)!r}: no Delta table there")
    log_version = open_table(log_path).version()
    files = delta_files(log_path)
    done = _processed_files(table_path)
    new = [f for f in files if _name(f) not in done]
    if not new:
        return 0
    log = pa.concat_tables([read_parquet(f, LOG_COLUMNS) for f in new])
    rows = unpack_rows(log.to_pylist(), id_col)
    table = _to_table(rows)
    names = sorted(done | {_name(f) for f in files})
    meta = {LOG_VERSION_KEY: str(log_version), LOG_FILES_KEY: orjson.dumps(names).decode()}
    commit = CommitProperties(custom_metadata=meta)
    write_table(table_path, table, mode="append", schema_mode="merge", commit_properties=commit)
    return table.num_rows


def unpack_rows(
    log_rows: list[dict[str, Any]], id_col: str = "customer_id"
) -> list[dict[str, Any]]:
    """Prediction rows from inference log rows: one per feature row of each successful request."""
    out = []
    for rec in log_rows:
        if rec["status_code"] != 200 or not rec["request"]:
            continue  # errors carry no predictions
        request = orjson.loads(rec["request"])
        preds = orjson.loads(rec["response"]).get("predictions", [])
        rid = rec["databricks_request_id"]
        if len(preds) != len(request):
            raise ValueError(
                f"inference log request {rid}: {len(request)} feature rows but {len(preds)} "
                "predictions; expected one prediction per row"
            )
        ts = dt.datetime.fromtimestamp(rec["timestamp_ms"] / 1000, dt.UTC)
        for features, pred in zip(request, preds, strict=True):
            if not isinstance(pred, dict) or "probability" not in pred:
                raise ValueError(
                    f"inference log request {rid}: prediction {pred!r}; expected "
                    "{'probability': p, 'prediction': 0|1} (a churnops pyfunc answer)"
                )
            row = {
                "request_id": rid,
                "timestamp": ts,
                "date": ts.date(),
                "endpoint_name": rec["endpoint_name"],
                "served_entity_name": rec["served_entity_name"],
                "model_name": rec["model_name"],
                "model_version": rec["model_version"],
                "is_shadow": bool(rec["is_shadow"]),
                "customer_id": None if features.get(id_col) is None else str(features[id_col]),
                "probability": float(pred["probability"]),
                "prediction": int(pred["prediction"]),
            }
            for k, v in features.items():
                if k != id_col:
                    row[k] = (
                        float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                    )
            out.append(row)
    return out


def _to_table(rows: list[dict[str, Any]]) -> pa.Table:
    base = pa.schema(BASE_FIELDS)
    features: dict[str, pa.DataType] = {}
    for r in rows:
        for k, v in r.items():
            if k not in base.names and v is not None and k not in features:
                features[k] = pa.float64() if isinstance(v, float) else pa.string()
    schema = pa.schema([*BASE_FIELDS, *features.items()])
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)


def _processed_files(table_path: str | Path) -> set[str]:
    """Log file names already unpacked, from the predictions table's latest churnops commit."""
    if not table_exists(table_path):
        return set()
    for commit in open_table(table_path).history():  # newest first
        if LOG_FILES_KEY in commit:
            return set(orjson.loads(commit[LOG_FILES_KEY]))
    return set()


def _name(file: str) -> str:
    """A data file's name, from a local path or an object-store URI."""
    return file.rstrip("/").rsplit("/", 1)[-1]
