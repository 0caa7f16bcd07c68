"""Run and task records: an append-only Delta table written at every state change.

Each change appends one row; the latest row per (run_id, task_key) is the current state, so a
reader after a crash sees exactly what was last committed. The run's own row has task_key "".
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from churnops.data import storage
from churnops.data.delta_tables import arrow_dataset, open_table, table_exists, write_table

RUN_ROW = ""  # task_key of a run's own row
ACTIVE_RUN_STATES = ("QUEUED", "RUNNING")
FAILED_TASK_STATES = ("FAILED", "TIMEDOUT", "UPSTREAM_FAILED", "CANCELED")
COMPACT_EVERY = 200  # table versions between compactions of the records table
RUNNER_DIED = "RUNNER_DIED"  # shown, never written: an active state whose runner is gone

_TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("job", pa.string()),
        ("task_key", pa.string()),
        ("state", pa.string()),
        ("repair", pa.int64()),
        ("attempt", pa.int64()),
        ("start_time", _TS),
        ("end_time", _TS),
        ("seconds", pa.float64()),  # the task process's wall time, start-up included
        ("error", pa.string()),
        ("outputs", pa.string()),  # JSON: a task's values, a run's nothing
        ("parameters", pa.string()),  # JSON: resolved task inputs, or the run's job parameters
        ("log_path", pa.string()),
        ("trigger", pa.string()),
        ("spec", pa.string()),  # JSON job spec, on run rows: what a repair reruns
        ("spec_dir", pa.string()),
        ("runner_pid", pa.int64()),
        ("runner_host", pa.string()),
        ("runner_started", pa.int64()),  # process start ticks: tells a reused pid apart
        ("seq", pa.int64()),
        ("updated", _TS),
    ]
)


class RunNotFound(ValueError):
    """A run id the records table does not hold."""


@dataclass
class Record:
    """One row of the records table."""

    run_id: str
    job: str
    task_key: str
    state: str
    repair: int = 0
    attempt: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    seconds: float | None = None
    error: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    log_path: str | None = None
    trigger: str | None = None
    spec: dict[str, Any] | None = None
    spec_dir: str | None = None
    runner_pid: int | None = None
    runner_host: str | None = None
    runner_started: int | None = None
    seq: int = 0
    updated: datetime | None = None

    def to_row(self) -> dict[str, Any]:
        row = dict(self.__dict__)
        row["outputs"] = json.dumps(self.outputs)
        row["parameters"] = json.dumps(self.parameters)
        row["spec"] = json.dumps(self.spec) if self.spec is not None else None
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Record:
        row = dict(row)
        row["outputs"] = json.loads(row["outputs"] or "{}")
        row["parameters"] = json.loads(row["parameters"] or "{}")
        row["spec"] = json.loads(row["spec"]) if row["spec"] else None
        return cls(**row)

    @property
    def display_state(self) -> str:
        """The state, or RUNNER_DIED for an active run whose runner process is gone."""
        if self.task_key == RUN_ROW and self.state in ACTIVE_RUN_STATES and not runner_alive(self):
            return RUNNER_DIED
        return self.state


@dataclass
class RunView:
    """A run's latest run row and task rows."""

    run: Record
    tasks: dict[str, Record]


class RunRecords:
    """The records table (`home/records`, or `table`), with a lock serialising its commits.

    Args:
        home: the runner's folder, or an object-store URI (`s3://...`) for the table.
        table: where the records table lives when not `home/records` (a path or URI).
    """

    def __init__(self, home: str | Path, table: str | Path | None = None):
        self.home = storage.join(home)
        self.path = storage.join(table) if table else storage.join(home, "records")

    @contextmanager
    def lock(self, name: str = "records") -> Iterator[None]:
        """An exclusive, cross-process lock on `home/locks/NAME.lock` (released on exit).

        With `home` on an object store the lock file is local (in the temp folder), so it
        serialises this machine's writers; Delta's commit protocol (a conditional put on S3)
        keeps writers on different machines from overwriting each other's commits.
        """
        if storage.is_local(self.home):
            locks = Path(self.home) / "locks"
        else:
            digest = hashlib.sha256(self.home.encode()).hexdigest()[:16]
            locks = Path(tempfile.gettempdir()) / "churnops-locks" / digest
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{name}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def append(self, *records: Record) -> None:
        """Commit `records` as one Delta append (stamping `seq` and `updated`)."""
        now, base = datetime.now(UTC), time.time_ns()
        rows = []
        for i, r in enumerate(records):  # seq orders rows, within one append too
            r.seq, r.updated = base + i, now
            rows.append(r.to_row())
        with self.lock():
            write_table(self.path, pa.Table.from_pylist(rows, schema=SCHEMA), mode="append")

    def compact(self) -> int:
        """Rewrite the many one-commit files as few and checkpoint the log; returns the files
        removed. Old files stay for time travel until a vacuum (not run here)."""
        with self.lock():
            dt = open_table(self.path)
            removed = dt.optimize.compact()["numFilesRemoved"]
            open_table(self.path).create_checkpoint()
        return int(removed)

    def maybe_compact(self, every: int = COMPACT_EVERY) -> bool:
        """Compact once every `every` table versions, so reads stay quick as runs pile up."""
        version = open_table(self.path).version()
        if version == 0 or version % every:
            return False
        self.compact()
        return True

    def latest(self, run_id: str | None = None, job: str | None = None) -> list[Record]:
        """The latest row of every (run_id, task_key), optionally of one run or one job."""
        import pyarrow.dataset as ds

        if not table_exists(self.path):
            return []
        flt = None
        if run_id is not None:
            flt = ds.field("run_id") == run_id
        if job is not None:
            flt = ds.field("job") == job if flt is None else flt & (ds.field("job") == job)
        table = arrow_dataset(open_table(self.path)).to_table(filter=flt)
        newest: dict[tuple[str, str], dict[str, Any]] = {}
        for row in table.sort_by("seq").to_pylist():
            newest[(row["run_id"], row["task_key"])] = row
        return [Record.from_row(r) for r in newest.values()]

    def run(self, run_id: str) -> RunView:
        """One run's view; RunNotFound naming the run when there is none."""
        rows = self.latest(run_id=run_id)
        run = next((r for r in rows if r.task_key == RUN_ROW), None)
        if run is None:
            raise RunNotFound(f"no pipeline run {run_id!r} in {self.path}")
        return RunView(run=run, tasks={r.task_key: r for r in rows if r.task_key != RUN_ROW})

    def runs(self, job: str | None = None) -> list[Record]:
        """Run rows, newest first."""
        rows = [r for r in self.latest(job=job) if r.task_key == RUN_ROW]
        return sorted(rows, key=lambda r: r.start_time or r.updated, reverse=True)  # type: ignore[arg-type,return-value]


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, after the command name


def runner_identity() -> dict[str, Any]:
    """This process as a runner: pid, host and start ticks, for liveness checks."""
    pid = os.getpid()
    return {
        "runner_pid": pid,
        "runner_host": socket.gethostname(),
        "runner_started": process_start_ticks(pid),
    }


def runner_alive(record: Record) -> bool:
    """Whether the runner that wrote `record` is still running (another host: assumed so)."""
    if record.runner_pid is None or record.runner_host != socket.gethostname():
        return True
    if Path("/proc/self/stat").is_file():
        started = process_start_ticks(record.runner_pid)
        return started is not None and record.runner_started in (None, started)
    try:  # no /proc (macOS): a signal-0 probe, blind to a reused pid
        os.kill(record.runner_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
