"""`InferenceLogWriter`: every answered request as one row of an append-only Delta table.

The columns follow Databricks inference tables (`databricks_request_id`, `client_request_id`,
`date`, `timestamp_ms`, `status_code`, `execution_time_ms`, `request`, `response`,
`sampling_fraction`, `request_metadata`), plus flat `served_entity_name`, `model_name`,
`model_version`, `num_rows` and `is_shadow` so monitoring can group without parsing JSON. Each
request's rows go to a local journal (`Journal`) before its answer leaves; a committer process
(`churnops.serving.log_committer`) moves closed journal segments into Delta. So a killed server
loses no acknowledged row, and the server itself never spends time (or its GIL) on Arrow or
Delta. `close()` waits for the committer, so after a graceful shutdown the table holds every
acknowledged request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from churnops.data.delta_tables import read_table
from churnops.serving.journal import Journal, closed_segments

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
_COMMITTER = "churnops.serving.log_committer"
_RESTART_SECONDS = 1.0  # a committer that died is restarted, at most this often
_TICK_SECONDS = 0.5  # the writer's thread checks on the committer at least this often


def journal_folder(path: str | Path) -> Path:
    """Where the journal of the inference log table at `path` lives (beside it)."""
    return Path(f"{Path(path)}.journal")


class InferenceLogWriter:
    """Journal rows from request handlers; a committer process appends them to Delta at `path`.

    Args:
        path: the Delta table folder (created on the first commit). Rows a killed server left
            in `journal_folder(path)` are committed now, ahead of new ones.
        batch_rows: hand the open journal segment to the committer once it holds this many
            rows ...
        flush_seconds: ... or this long after its first row.
        fsync: fsync the journal per request (see `Journal`).
    """

    def __init__(
        self,
        path: str | Path,
        batch_rows: int = 1000,
        flush_seconds: float = 1.0,
        *,
        fsync: bool = False,
    ):
        self.path = Path(path)
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.rows_written = 0  # committed, replayed rows included
        self.rows_replayed = 0  # committed rows that an earlier server left in the journal
        self.error: Exception | None = None  # the committer's last failure; None once it commits
        self._lock = threading.Lock()  # the journal and `_closed`
        self._closed = False
        self.journal = Journal(journal_folder(self.path), fsync)
        self._progress = threading.Condition()  # the committer's reports
        self._through = ""  # the newest segment committed (names sort in write order)
        self._failures = 0  # commits that failed
        self._restarts = 0  # committers that died
        self._stop = threading.Event()
        self._start_committer()
        self._thread = threading.Thread(target=self._loop, name="inference-log", daemon=True)
        self._thread.start()

    def append(self, **row: Any) -> None:
        """Journal one request's row (see `row`)."""
        self.append_many([self.row(**row)])

    def append_many(self, rows: list[dict[str, Any]]) -> None:
        """Journal one request's rows (built by `row`) in one write, before its answer leaves."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"inference log {self.path} is closed")
            self.journal.append(rows)
            if self.journal.rows >= self.batch_rows:
                self.journal.rotate()
                self._wake()

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

    @property
    def fsync(self) -> bool:
        return self.journal.fsync

    @fsync.setter
    def fsync(self, value: bool) -> None:
        self.journal.fsync = value

    def flush(self) -> int:
        """Hand over the open segment and wait until every row so far is committed.

        Returns the rows committed meanwhile (0 once closed: `close` committed them). Raises
        `RuntimeError` if a commit fails meanwhile or the committer dies more than once (the
        rows stay in the journal; it tries again).
        """
        with self._lock:
            if self._closed:
                return 0
            self.journal.rotate()
            pending = closed_segments(self.journal.folder)
        if not pending:
            return 0
        self._wake()
        with self._progress:
            failures, restarts, written = self._failures, self._restarts, self.rows_written
            while self._through < pending[-1].name:
                failed = self._failures > failures or self._restarts > restarts + 1
                if failed and self.error is not None:
                    raise RuntimeError(str(self.error))
                self._progress.wait(_TICK_SECONDS)
            return self.rows_written - written

    def close(self) -> None:
        """Stop taking rows and wait until the committer has committed every one and exited.

        Raises `RuntimeError` if segments are left uncommitted (the next start commits them).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.journal.close()
        self._stop.set()
        self._thread.join()
        for _ in range(2):  # a second committer if the first is killed while it drains
            if self._committer.poll() is not None:  # it died: one more, to commit what is left
                self._start_committer()
            assert self._committer.stdin is not None
            self._committer.stdin.close()  # end of input: commit everything, then exit
            self._committer.wait()
            self._reports.join()
            if self._committer.returncode >= 0:  # done, or it stopped on a failure it reported
                break
        left = closed_segments(self.journal.folder)
        if left:
            raise RuntimeError(
                f"inference log {self.path}: {len(left)} journal segments not committed "
                f"({self.error}); they stay in {self.journal.folder} for the next start"
            )

    # ---- the committer process -----------------------------------------------------------

    def _start_committer(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the committer runs this very churnops
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        }
        folder, table = self.journal.folder.absolute(), self.path.absolute()
        # A fresh interpreter, not a fork of this threaded one; -P: no cwd on sys.path.
        cmd = [sys.executable, "-P", "-m", _COMMITTER, str(folder), str(table), str(os.getpid())]
        cmd.append(self.journal.prefix)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert proc.stdin is not None
        os.set_blocking(proc.stdin.fileno(), False)  # a wake-up never blocks a request
        self._committer, self._started_at = proc, time.monotonic()
        self._reports = threading.Thread(
            target=self._read_reports, args=(proc,), name="inference-log-reports", daemon=True
        )
        self._reports.start()

    def _wake(self) -> None:
        """Tell the committer a segment is closed."""
        # Full: wake-ups are waiting already; broken: it died, and the writer's thread restarts it.
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(self._committer.stdin.fileno(), b"w")  # type: ignore[union-attr]

    def _read_reports(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            report = orjson.loads(line)
            if "error" in report:
                self._failed(f"commit failed: {report['error']}", restart=False)
                continue
            with self._progress:
                self._through = max(self._through, report["through"])
                self.rows_written += report["rows"]
                self.rows_replayed += report["replayed"]
                self.error = None
                self._progress.notify_all()

    def _failed(self, message: str, restart: bool) -> None:
        with self._progress:
            self.error = RuntimeError(f"inference log {self.path}: {message}")
            self._restarts += restart
            self._failures += not restart
            self._progress.notify_all()

    def _loop(self) -> None:
        """Hand over the open segment when `flush_seconds` are up; restart a dead committer."""
        while not self._stop.wait(self._next_tick()):
            with self._lock:
                if self._closed:
                    return
                due = self.journal.first_row_at + self.flush_seconds <= time.monotonic()
                if self.journal.rows and due:
                    self.journal.rotate()
                    self._wake()
            proc = self._committer
            restart_due = time.monotonic() - self._started_at >= _RESTART_SECONDS
            if proc.poll() is not None and restart_due:
                message = f"the committer exited with status {proc.returncode}; restarted"
                self._failed(message, restart=True)
                self._start_committer()

    def _next_tick(self) -> float:
        if not self.journal.rows:
            return _TICK_SECONDS
        due = self.journal.first_row_at + self.flush_seconds - time.monotonic()
        return min(max(due, 0.001), _TICK_SECONDS)


def read_inference_log(path: str | Path) -> pa.Table:
    """The whole inference log table."""
    from deltalake import DeltaTable

    return read_table(DeltaTable(str(path)))
