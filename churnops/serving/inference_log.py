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
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from churnops.config import mask_secrets
from churnops.data.delta_tables import read_table
from churnops.serving.journal import Journal, JournalInUseError, closed_segments

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
_RETRY_SECONDS = 0.5  # a segment that could not be closed is tried again after this long
_SAY_SECONDS = 10.0  # one stderr line per kind of failure at most this often
_log = logging.getLogger(__name__)


class InferenceLogError(RuntimeError):
    """The log cannot be kept at its path (at start), or a request's rows were not journalled
    (then the request must not be acknowledged)."""


def journal_folder(path: str | Path) -> Path:
    """Where the journal of the inference log table at `path` lives (beside it)."""
    return Path(f"{Path(path)}.journal")


class InferenceLogWriter:
    """Journal rows from request handlers; a committer process appends them to Delta at `path`.

    Failures never stop the writer: a journal write that fails raises `InferenceLogError` for
    that request alone, a segment that cannot be closed stays open and is tried again, a failed
    commit is retried by the committer. Each shows in `error` while it lasts and as a line on
    the `churnops.serving.inference_log` logger (stderr unless configured), at most one per kind
    every `_SAY_SECONDS`.

    Args:
        path: the Delta table folder (created on the first commit). Rows a killed server left
            in `journal_folder(path)` are committed now, ahead of new ones.
        batch_rows: hand the open journal segment to the committer once it holds this many
            rows ...
        flush_seconds: ... or this long after its first row.
        fsync: fsync the journal per request (see `Journal`).
        hidden_env: environment variables the committer does not get (bearer tokens).

    Raises:
        InferenceLogError: the journal cannot be created or written there, another server
            writes it, or `path` is not a folder.
    """

    def __init__(
        self,
        path: str | Path,
        batch_rows: int = 1000,
        flush_seconds: float = 1.0,
        *,
        fsync: bool = False,
        hidden_env: Collection[str] = (),
    ):
        self.path = Path(path)
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.hidden_env = set(hidden_env)
        self.rows_written = 0  # committed, replayed rows included
        self.rows_replayed = 0  # committed rows that an earlier server left in the journal
        self.commit_failures = 0  # commits the committer reported failed
        self.journal_failures = 0  # journal writes or segment closes that failed
        self._lock = threading.Lock()  # the journal and `_closed`
        self._closed = False
        if self.path.exists() and not self.path.is_dir():
            raise InferenceLogError(f"inference log {self.path}: is a file, not a folder")
        try:
            self.journal = Journal(journal_folder(self.path), fsync)
        except (OSError, JournalInUseError) as exc:
            raise InferenceLogError(f"inference log {self.path}: {_reason(exc)}") from None
        self._progress = threading.Condition()  # the committer's reports; what follows
        self._through = ""  # the newest segment committed (names sort in write order)
        self._waiting = {s.name: _count_rows(s) for s in closed_segments(self.journal.folder)}
        self._problems: dict[str, str] = {}  # what fails now, by kind
        self._said: dict[str, tuple[float, int]] = {}  # kind: (last said at, failures since)
        self._restarts = 0  # committers that died
        self._hand_over_at = 0.0  # after a failed close: not before this time.monotonic()
        self._stop = threading.Event()
        try:
            self._start_committer()
        except OSError as exc:
            self.journal.close()
            raise InferenceLogError(f"inference log {self.path}: {_reason(exc)}") from None
        self._thread = threading.Thread(target=self._loop, name="inference-log", daemon=True)
        self._thread.start()

    def append(self, **row: Any) -> None:
        """Journal one request's row (see `row`)."""
        self.append_many([self.row(**row)])

    def append_many(self, rows: list[dict[str, Any]]) -> None:
        """Journal one request's rows (built by `row`) in one write, before its answer leaves.

        Raises:
            InferenceLogError: they were not journalled (nothing of them is kept): the request
                must not be acknowledged.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError(f"inference log {self.path} is closed")
            try:
                self.journal.append(rows)
            except OSError as exc:
                message = f"cannot write the journal: {_reason(exc)}"
                self._problem("journal", message, journal=True)
                raise InferenceLogError(f"inference log {self.path}: {message}") from None
            if self._problems:
                self._solved("journal")
            if self.journal.rows >= self.batch_rows and time.monotonic() >= self._hand_over_at:
                self._hand_over()

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

    @property
    def error(self) -> str | None:
        """What fails now (journal writes, closing segments, commits), or None."""
        with self._progress:
            return "; ".join(self._problems.values()) or None

    def stats(self) -> dict[str, int]:
        """Counters and what waits for the committer, for /metrics and /health."""
        with self._progress:
            waiting = dict(self._waiting)
            counts = {
                "rows_committed": self.rows_written,
                "commit_failures": self.commit_failures,
                "journal_failures": self.journal_failures,
                "committer_restarts": self._restarts,
            }
        return {
            **counts,
            "pending_rows": self.journal.rows + sum(waiting.values()),
            "pending_segments": len(waiting),
        }

    def flush(self) -> int:
        """Hand over the open segment and wait until every row so far is committed.

        Returns the rows committed meanwhile (0 once closed: `close` committed them). Raises
        `RuntimeError` if the segment cannot be closed, a commit fails meanwhile or the
        committer dies more than once (the rows stay in the journal; it tries again).
        """
        with self._lock:
            if self._closed:
                return 0
            self._hand_over()
            if "hand over" in self._problems:
                raise RuntimeError(self._problems["hand over"])
            pending = closed_segments(self.journal.folder)
        if not pending:
            return 0
        self._wake()
        with self._progress:
            failures, restarts, written = self.commit_failures, self._restarts, self.rows_written
            while self._through < pending[-1].name:
                failed = self.commit_failures > failures or self._restarts > restarts + 1
                if failed and self._problems:
                    raise RuntimeError("; ".join(self._problems.values()))
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
            try:
                self.journal.close()
            except OSError as exc:  # its segment stays open: the next start closes it
                self._problem("hand over", f"cannot close the journal: {_reason(exc)}")
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
        left = sorted(self.journal.folder.glob("seg-*"))
        if left:
            raise RuntimeError(
                f"inference log {self.path}: {len(left)} journal segments not committed "
                f"({self.error}); they stay in {self.journal.folder} for the next start"
            )

    # ---- failures ------------------------------------------------------------------------

    def _problem(self, kind: str, message: str, journal: bool = False) -> None:
        """Record what fails now and say so, at most once per kind every `_SAY_SECONDS`."""
        message = mask_secrets(message)  # a store's error may quote a URI with its key
        with self._progress:
            self._problems[kind] = f"inference log {self.path}: {message}"
            self.journal_failures += journal
            said_at, since = self._said.get(kind, (-_SAY_SECONDS, 0))
            now = time.monotonic()
            if now - said_at < _SAY_SECONDS:
                self._said[kind] = (said_at, since + 1)
                self._progress.notify_all()
                return
            self._said[kind] = (now, 0)
            self._progress.notify_all()
        more = f" ({since} more since the last report)" if since else ""
        _log.warning("churnops serve: inference log %s: %s%s", self.path, message, more)

    def _solved(self, *kinds: str) -> None:
        with self._progress:
            solved = [k for k in kinds if self._problems.pop(k, None) is not None]
            for kind in solved:
                self._said.pop(kind, None)
            self._progress.notify_all()
        for kind in solved:
            _log.warning("churnops serve: inference log %s: %s works again", self.path, kind)

    # ---- the committer process -----------------------------------------------------------

    def _start_committer(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the committer runs this very churnops
        env = {k: v for k, v in os.environ.items() if k not in self.hidden_env}
        env["PYTHONPATH"] = os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])
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
                with self._progress:
                    self.commit_failures += 1
                self._problem("commit", report["error"])
                continue
            with self._progress:
                self._through = max(self._through, report["through"])
                for name in [n for n in self._waiting if n <= self._through]:
                    del self._waiting[name]
                self.rows_written += report["rows"]
                self.rows_replayed += report["replayed"]
                self._progress.notify_all()
            if self._problems:
                self._solved("commit", "committer")

    def _hand_over(self) -> None:
        """Close the open segment and wake the committer (`_lock` held); retried on failure."""
        rows = self.journal.rows
        try:
            closed = self.journal.rotate()
        except OSError as exc:  # the segment stays open and keeps taking rows
            self._hand_over_at = time.monotonic() + _RETRY_SECONDS
            message = f"cannot close journal segment (its rows stay there): {_reason(exc)}"
            self._problem("hand over", message, journal=True)
            return
        if self._problems:
            self._solved("hand over")
        if closed is not None:
            with self._progress:
                self._waiting[closed.name] = rows
            self._wake()

    def _loop(self) -> None:
        """Hand over the open segment when `flush_seconds` are up; restart a dead committer."""
        while not self._stop.wait(self._next_tick()):
            try:
                if not self._tick():
                    return
            except Exception as exc:  # never die: requests would find nobody closing segments
                self._problem("timer", f"{type(exc).__name__}: {exc}")

    def _tick(self) -> bool:
        """One round of `_loop`; False once closed."""
        with self._lock:
            if self._closed:
                return False
            now = time.monotonic()
            due = self.journal.first_row_at + self.flush_seconds <= now
            if self.journal.rows and due and now >= self._hand_over_at:
                self._hand_over()
            if "journal" in self._problems and not self.journal.is_open:
                self._retry_open()
        proc = self._committer
        restart_due = time.monotonic() - self._started_at >= _RESTART_SECONDS
        if proc.poll() is not None and restart_due:
            with self._progress:
                self._restarts += 1
            try:
                self._start_committer()
            except OSError as exc:
                self._started_at = time.monotonic()  # try again in `_RESTART_SECONDS`
                self._problem("committer", f"cannot start the committer: {_reason(exc)}")
            else:
                message = f"the committer exited with status {proc.returncode}; restarted"
                self._problem("committer", message)
        self._forget_committed_elsewhere()
        return True

    def _retry_open(self) -> None:
        """After a segment could not be created, try again (`_lock` held) without waiting for a
        request, so `error` clears once the folder takes files again."""
        try:
            self.journal.open_segment()
        except OSError:
            return
        self._solved("journal")

    def _forget_committed_elsewhere(self) -> None:
        """Drop waiting segments that are gone: a dead server's committer committed them."""
        with self._progress:
            candidates = list(self._waiting)  # closed before the listing, so it shows them
        if not candidates:
            return
        present = {s.name for s in closed_segments(self.journal.folder)}
        with self._progress:
            for name in candidates:
                if name not in present:
                    self._waiting.pop(name, None)

    def _next_tick(self) -> float:
        if not self.journal.rows:
            return _TICK_SECONDS
        due = max(self.journal.first_row_at + self.flush_seconds, self._hand_over_at)
        return min(max(due - time.monotonic(), 0.001), _TICK_SECONDS)


def _reason(exc: BaseException) -> str:
    """An error in one line: its type and message."""
    if isinstance(exc, JournalInUseError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _count_rows(segment: Path) -> int:
    return segment.read_bytes().count(b"\n")


def read_inference_log(path: str | Path) -> pa.Table:
    """The whole inference log table."""
    from deltalake import DeltaTable

    return read_table(DeltaTable(str(path)))
