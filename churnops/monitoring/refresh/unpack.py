"""Unpack an inference log (JSON per request) into the predictions table, incrementally.

The log is churnops' own serving log or the payload table a Databricks Model Serving endpoint
writes (`churnops.monitoring.refresh.payload_table` tells them apart by their columns): one row
per scored customer (the predictions table). Only log files added since the last unpack are
read; the log version and files processed are stored in the same Delta commit as the rows they
produced, so a crash can neither lose nor repeat rows. After a compaction of the log (its
rewritten files look new) rows whose request is already in the table are dropped. Error
responses are skipped; shadow rows keep `is_shadow`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from churnops.data.delta_tables import open_table, read_table, table_exists, write_table
from churnops.data.storage import read_parquet
from churnops.monitoring.refresh.frames import delta_files
from churnops.monitoring.refresh.payload_table import (
    REQUIRED,
    LogFormatError,
    Request,
    log_kind,
    requests_of,
)

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
# Commits of the log that rewrite rows already there (compaction): the files they add hold rows
# an earlier unpack may have read from the files they replaced.
REWRITES = {"OPTIMIZE", "REORG", "RESTORE"}


def unpack_inference_log(
    log_path: str | Path,
    table_path: str | Path,
    id_col: str = "customer_id",
    log_format: str | None = None,
) -> int:
    """Append the rows of log files not yet unpacked to the predictions table; return how many.

    Args:
        log_path: the inference log Delta table: churnops' serving log, or the payload table
            of a Databricks Model Serving endpoint (legacy or AI Gateway-enabled inference
            table); which one is read from its columns
            (`churnops.monitoring.refresh.payload_table`).
        table_path: the predictions Delta table (created on the first call).
        id_col: the request field holding the customer id.
        log_format: the format the caller expects (`churnops` | `databricks_payload`); None:
            whichever the columns say.

    Raises:
        FileNotFoundError: no Delta table at `log_path`.
        LogFormatError: a table missing a column unpacking reads (named), or not of
            `log_format`; nothing is written.
    """
    from deltalake import CommitProperties

    log, kind = check_inference_log(log_path, log_format)
    mapping = log.metadata().configuration.get("delta.columnMapping.mode", "none")
    if mapping != "none":  # its Parquet files name columns by id: read by name, nothing matches
        raise LogFormatError(
            f"inference_log={str(log_path)!r}: delta.columnMapping.mode={mapping!r}; expected "
            "none (the log's files are read by column name)"
        )
    parts = [c for c in REQUIRED[kind] if c in log.metadata().partition_columns]
    if parts:  # their values live in the Delta log, not in the Parquet files read here
        raise LogFormatError(
            f"inference_log={str(log_path)!r}: partitioned by {parts}; expected those columns "
            "in the data files"
        )
    log_version = log.version()
    files = delta_files(log_path)
    done, done_version = _processed(table_path)
    new = [f for f in files if _name(f) not in done]
    if not new:
        return 0
    batch = pa.concat_tables([read_parquet(f, REQUIRED[kind]) for f in new])
    rows = unpack_requests(requests_of(kind, batch.to_pylist()), id_col)
    if done_version is not None and _rewritten_since(log, done_version):
        seen = _request_ids(table_path)
        rows = [r for r in rows if r["request_id"] not in seen]
    table = _to_table(rows)
    names = sorted(done | {_name(f) for f in files})
    meta = {LOG_VERSION_KEY: str(log_version), LOG_FILES_KEY: orjson.dumps(names).decode()}
    commit = CommitProperties(custom_metadata=meta)
    write_table(table_path, table, mode="append", schema_mode="merge", commit_properties=commit)
    return table.num_rows


def check_inference_log(log_path: str | Path, log_format: str | None = None) -> tuple[Any, str]:
    """The log table and its kind (`payload_table.log_kind`), checked to be unpackable.

    Raises:
        FileNotFoundError: no Delta table at `log_path`.
        LogFormatError: a column unpacking reads is missing (named), or the table is not of
            `log_format` (`churnops` | `databricks_payload`; None: any).
    """
    if not table_exists(log_path):
        raise FileNotFoundError(f"inference_log={str(log_path)!r}: no Delta table there")
    log = open_table(log_path)
    return log, log_kind(str(log_path), [f.name for f in log.schema().fields], log_format)


def unpack_requests(requests: list[Request], id_col: str = "customer_id") -> list[dict[str, Any]]:
    """Prediction rows from logged requests: one per row of each, its features beside it."""
    out = []
    for req in requests:
        rid, preds = req.request_id, req.predictions
        if len(preds) != len(req.rows):
            raise ValueError(
                f"inference log request {rid}: {len(req.rows)} feature rows but {len(preds)} "
                "predictions; expected one prediction per row"
            )
        for features, pred in zip(req.rows, preds, strict=True):
            if not isinstance(pred, dict) or "probability" not in pred:
                raise ValueError(
                    f"inference log request {rid}: prediction {pred!r}; expected "
                    "{'probability': p, 'prediction': 0|1} (a churnops pyfunc answer)"
                )
            row = {
                "request_id": rid,
                "timestamp": req.timestamp,
                "date": req.timestamp.date(),
                "endpoint_name": req.endpoint_name,
                "served_entity_name": req.served_entity_name,
                "model_name": req.model_name,
                "model_version": req.model_version,
                "is_shadow": req.is_shadow,
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


def _processed(table_path: str | Path) -> tuple[set[str], int | None]:
    """Log file names already unpacked and the log version they came from, from the
    predictions table's latest churnops commit."""
    if not table_exists(table_path):
        return set(), None
    for commit in open_table(table_path).history():  # newest first
        if LOG_FILES_KEY in commit:
            version = commit.get(LOG_VERSION_KEY)
            files = set(orjson.loads(commit[LOG_FILES_KEY]))
            return files, None if version is None else int(version)
    return set(), None


def _rewritten_since(log: Any, version: int) -> bool:
    """Whether a commit after `version` of the log rewrote files (compaction)."""
    for commit in log.history():  # newest first
        if commit["version"] <= version:
            return False
        if str(commit.get("operation", "")).split(" ")[0] in REWRITES:
            return True
    return False


def _request_ids(table_path: str | Path) -> set[str]:
    """The request ids the predictions table holds."""
    ids = read_table(open_table(table_path), columns=["request_id"])["request_id"]
    return set(ids.to_pylist())


def _name(file: str) -> str:
    """A data file's name, from a local path or an object-store URI."""
    return file.rstrip("/").rsplit("/", 1)[-1]
