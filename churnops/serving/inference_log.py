"""`InferenceLogWriter`: every answered request as one row of an append-only Delta table.

The columns follow Databricks inference tables (`databricks_request_id`, `client_request_id`,
`date`, `timestamp_ms`, `status_code`, `execution_time_ms`, `request`, `response`,
`sampling_fraction`, `request_metadata`), plus flat `served_entity_name`, `model_name`,
`model_version`, `num_rows` and `is_shadow` so monitoring can group without parsing JSON. A
background thread writes batches; `close()` writes what is left, so after a graceful shutdown the
table holds every acknowledged request. With the journal on, each row is first appended to a
local write-ahead file (`Journal`), so a killed server loses none: the next start replays it.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson
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


JOURNAL_KEY = "churnops.journal"  # commit metadata: the journal segments a commit holds


class Journal:
    """A write-ahead log of inference-log rows: numbered append-only JSON-lines segments.

    Rows go to the open segment before their answer is sent; a Delta commit `rotate`s first
    and names the segments it holds in its commit metadata, then `drop`s them. A segment left
    by a crash is replayed at the next start unless a commit already names it (so a crash
    between the commit and the drop writes nothing twice). Each row is one `write` to the OS:
    it survives the process being killed; with `fsync` it survives a power cut too.
    """

    def __init__(self, folder: str | Path, fsync: bool = False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.leftover = sorted(self.folder.glob("seg-*.jsonl"))
        numbers = [int(p.stem.removeprefix("seg-")) for p in self.leftover]
        self._next = max(numbers, default=0) + 1
        self._closed_segments: list[Path] = []
        self._file = self._open()

    def _open(self) -> Any:
        path = self.folder / f"seg-{self._next:012d}.jsonl"
        self._next += 1
        self._path = path
        return open(path, "ab", buffering=0)  # unbuffered: each row is one write(2)

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write `rows` (one request's) in one `write`: a kill leaves at most a torn last line."""
        self._file.write(b"".join([orjson.dumps(row, default=str) + b"\n" for row in rows]))
        if self.fsync:
            os.fsync(self._file.fileno())

    def rotate(self) -> list[Path]:
        """Close the open segment (if it holds rows); return every closed, undropped segment."""
        if self._file.tell() > 0:
            self._file.close()
            self._closed_segments.append(self._path)
            self._file = self._open()
        return list(self._closed_segments)

    def drop(self, segments: list[Path]) -> None:
        """Delete segments whose rows are committed to Delta."""
        for seg in segments:
            seg.unlink(missing_ok=True)
            if seg in self._closed_segments:
                self._closed_segments.remove(seg)

    def close(self) -> None:
        self._file.close()
        if self._path.stat().st_size == 0:
            self._path.unlink(missing_ok=True)

    @staticmethod
    def read(segment: Path) -> list[dict[str, Any]]:
        """A segment's rows; a torn last line (the process killed mid-write) is skipped."""
        rows = []
        for line in segment.read_bytes().splitlines():
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # only the last line can be torn, and it was never acknowledged
            row["date"] = dt.datetime.fromtimestamp(row["timestamp_ms"] / 1000, dt.UTC).date()
            row["request_metadata"] = [tuple(kv) for kv in row["request_metadata"]]
            rows.append(row)
        return rows


def _committed_segments(path: Path, depth: int = 100) -> set[str]:
    """Journal segment names the table's last `depth` commits hold."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        history = DeltaTable(str(path)).history(depth)
    except TableNotFoundError:
        return set()
    names: set[str] = set()
    for commit in history:
        names.update(filter(None, str(commit.get(JOURNAL_KEY, "")).split(",")))
    return names


def journal_folder(path: str | Path) -> Path:
    """Where the journal of the inference log table at `path` lives (beside it)."""
    return Path(f"{Path(path)}.journal")


class InferenceLogWriter:
    """Batch rows from request handlers into an append-only Delta table at `path`.

    Args:
        path: the Delta table folder (created on the first write).
        batch_rows: write as soon as this many rows wait.
        flush_seconds: write at least this often while rows wait.
        journal: write each row ahead to `journal_folder(path)`; rows a killed process left
            there are replayed into the table now, before any new row.
        fsync: fsync the journal per row (see `Journal`).
    """

    def __init__(
        self,
        path: str | Path,
        batch_rows: int = 1000,
        flush_seconds: float = 1.0,
        *,
        journal: bool = False,
        fsync: bool = False,
    ):
        self.path = Path(path)
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self._pending: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._write_lock = threading.Lock()
        self.rows_written = 0
        self.rows_replayed = 0
        self.error: BaseException | None = None
        # The table, kept open after the first commit: appending through the open table costs
        # a third of opening it again by path, which replays the whole log every second.
        self._table: Any = None
        self.journal = Journal(journal_folder(self.path), fsync) if journal else None
        if self.journal is not None and self.journal.leftover:
            self._replay(self.journal.leftover)
        self._thread = threading.Thread(target=self._loop, name="inference-log", daemon=True)
        self._thread.start()

    def append(self, **row: Any) -> None:
        """Queue one request's row (cheap: the handler never waits on disk); see `row`."""
        self.append_many([self.row(**row)])

    def append_many(self, rows: list[dict[str, Any]]) -> None:
        """Queue one request's rows (built by `row`): one journal write for all of them."""
        with self._cond:
            if self._closed:
                raise RuntimeError(f"inference log {self.path} is closed")
            if self.journal is not None:  # ahead of the answer: a crash after it loses nothing
                self.journal.append(rows)
            self._pending.extend(rows)
            if len(self._pending) >= self.batch_rows:
                self._cond.notify()

    @staticmethod
    def row(
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
    ) -> dict[str, Any]:
        """One inference-log row, stamped now."""
        now = time.time()
        return {
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

    @property
    def fsync(self) -> bool:
        return self.journal is not None and self.journal.fsync

    @fsync.setter
    def fsync(self, value: bool) -> None:
        if self.journal is not None:
            self.journal.fsync = value

    def flush(self) -> int:
        """Write every queued row now; return how many were written."""
        with self._write_lock:
            with self._cond:
                batch, self._pending = self._pending, []
                segments = self.journal.rotate() if self.journal is not None else []
            if not batch:
                return 0
            table = pa.Table.from_pylist(batch, schema=SCHEMA)
            try:
                self._commit(table, segments)
            except BaseException:
                with self._cond:  # put them back in front: nothing is lost on a failed write
                    self._pending[:0] = batch
                raise
            self.rows_written += len(batch)
            self.error = None
            return len(batch)

    def _commit(self, table: pa.Table, segments: list[Path]) -> None:
        """Append `table`; the commit names the journal segments it holds, then drops them."""
        from deltalake import CommitProperties, DeltaTable, write_deltalake

        meta = {JOURNAL_KEY: ",".join(s.name for s in segments)} if segments else None
        write_deltalake(
            self._table if self._table is not None else str(self.path),
            table,
            mode="append",
            commit_properties=CommitProperties(custom_metadata=meta) if meta else None,
        )
        if self._table is None:  # the first commit created the table (or found it there)
            self._table = DeltaTable(str(self.path))
        if self.journal is not None:
            self.journal.drop(segments)

    def _replay(self, segments: list[Path]) -> None:
        """Write the rows of segments no commit holds yet (a crash left them), then drop all."""
        assert self.journal is not None
        done = _committed_segments(self.path)
        todo = [s for s in segments if s.name not in done]
        rows = [row for seg in todo for row in Journal.read(seg)]
        if rows:
            self._commit(pa.Table.from_pylist(rows, schema=SCHEMA), todo)
            self.rows_replayed = len(rows)
        self.journal.drop(segments)

    def close(self) -> None:
        """Stop taking rows, write what is queued, and stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        self.flush()  # rows left by a failed write in the thread's last attempt raise here
        if self.journal is not None:
            self.journal.close()


def read_inference_log(path: str | Path) -> pa.Table:
    """The whole inference log table."""
    from deltalake import DeltaTable

    return read_table(DeltaTable(str(path)))
