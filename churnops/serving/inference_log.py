"""`InferenceLogWriter`: every answered request as one row of an append-only Delta table.

The columns follow Databricks inference tables (`databricks_request_id`, `client_request_id`,
`date`, `timestamp_ms`, `status_code`, `execution_time_ms`, `request`, `response`,
`sampling_fraction`, `request_metadata`), plus flat `served_entity_name`, `model_name`,
`model_version`, `num_rows` and `is_shadow` so monitoring can group without parsing JSON. A
background thread writes batches; `close()` writes what is left, so after a graceful shutdown the
table holds every acknowledged request.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from churnops.data.delta_tables import read_table

SCHEMA = pa.schema(
    [
        ("databricks_request_id", pa.string()),
        ("client_request_id", pa.string()),
        ("date", pa.date32()),
        ("timestamp_ms", pa.int64()),
        ("status_code", pa.int32()),
        ("execution_time_ms", pa.float64()),
        ("request", pa.string()),  # JSON: the feature rows the model saw
        ("response", pa.string()),  # JSON: the answer (predictions or error)
        ("sampling_fraction", pa.float64()),
        ("request_metadata", pa.map_(pa.string(), pa.string())),
        ("endpoint_name", pa.string()),
        ("served_entity_name", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("num_rows", pa.int32()),
        ("is_shadow", pa.bool_()),
    ]
)


class InferenceLogWriter:
    """Batch rows from request handlers into an append-only Delta table at `path`.

    Args:
        path: the Delta table folder (created on the first write).
        batch_rows: write as soon as this many rows wait.
        flush_seconds: write at least this often while rows wait.
    """

    def __init__(self, path: str | Path, batch_rows: int = 1000, flush_seconds: float = 1.0):
        self.path = Path(path)
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self._pending: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._write_lock = threading.Lock()
        self.rows_written = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="inference-log", daemon=True)
        self._thread.start()

    def append(
        self,
        *,
        request_id: str,
        client_request_id: str | None,
        endpoint: str,
        served_entity: str,
        model_name: str,
        model_version: str,
        status_code: int,
        execution_time_ms: float,
        request: str,
        response: str,
        num_rows: int,
        is_shadow: bool = False,
    ) -> None:
        """Queue one request's row (cheap: the handler never waits on disk)."""
        now = time.time()
        row = {
            "databricks_request_id": request_id,
            "client_request_id": client_request_id,
            "date": dt.datetime.fromtimestamp(now, dt.UTC).date(),
            "timestamp_ms": int(now * 1000),
            "status_code": status_code,
            "execution_time_ms": execution_time_ms,
            "request": request,
            "response": response,
            "sampling_fraction": 1.0,
            "request_metadata": [
                ("endpoint_name", endpoint),
                ("model_name", model_name),
                ("model_version", model_version),
                ("served_entity_name", served_entity),
            ],
            "endpoint_name": endpoint,
            "served_entity_name": served_entity,
            "model_name": model_name,
            "model_version": model_version,
            "num_rows": num_rows,
            "is_shadow": is_shadow,
        }
        with self._cond:
            if self._closed:
                raise RuntimeError(f"inference log {self.path} is closed")
            self._pending.append(row)
            if len(self._pending) >= self.batch_rows:
                self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._closed and len(self._pending) < self.batch_rows:
                    self._cond.wait(self.flush_seconds)
                closed = self._closed
            try:
                self.flush()
            except Exception as exc:  # keep the rows queued and retry on the next tick
                self.error = exc
            if closed:
                return

    def flush(self) -> int:
        """Write every queued row now; return how many were written."""
        with self._write_lock:
            with self._cond:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            from deltalake import write_deltalake

            table = pa.Table.from_pylist(batch, schema=SCHEMA)
            try:
                write_deltalake(str(self.path), table, mode="append")
            except BaseException:
                with self._cond:  # put them back in front: nothing is lost on a failed write
                    self._pending[:0] = batch
                raise
            self.rows_written += len(batch)
            self.error = None
            return len(batch)

    def close(self) -> None:
        """Stop taking rows, write what is queued, and stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        self.flush()  # rows left by a failed write in the thread's last attempt raise here


def read_inference_log(path: str | Path) -> pa.Table:
    """The whole inference log table."""
    from deltalake import DeltaTable

    return read_table(DeltaTable(str(path)))
