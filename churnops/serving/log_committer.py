"""The log committer: a process of its own that moves closed journal segments into the inference
log's Delta table, so the conversion to Arrow and the commit never hold the server's GIL.

`InferenceLogWriter` starts it: `python -m churnops.serving.log_committer FOLDER TABLE PID PREFIX`.
Each commit names its segments in the commit metadata (`JOURNAL_KEY`), then deletes them; after
a crash between the two, the names in the table's history keep a segment from being written
twice, and a segment that cannot be deleted is remembered as committed. The server wakes it
with a byte on stdin; end of stdin (the server closed it or died) means: commit what is closed,
then exit. Each commit or failure is reported to the server as one JSON line on stdout.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from churnops.data import storage
from churnops.data.delta_tables import open_table, write_table
from churnops.serving.inference_log import JOURNAL_KEY, SCHEMA
from churnops.serving.journal import closed_segments, read_segment

NICE = 10  # the server's event loop comes first on a busy machine
POLL_SECONDS = 1.0  # look for segments (and a vanished server) at least this often
RETRY_SECONDS = 1.0  # after a failed commit, wait this long before the next try
BATCH_BYTES = 16 << 20  # of JSON per commit: a large backlog is committed in steps


def committed_segments(path: Path, depth: int = 100) -> set[str]:
    """Journal segment names the table's last `depth` commits hold."""
    from deltalake.exceptions import TableNotFoundError

    try:
        history = open_table(path).history(depth)
    except TableNotFoundError:
        return set()
    names: set[str] = set()
    for commit in history:
        names.update(filter(None, str(commit.get(JOURNAL_KEY, "")).split(",")))
    return names


class CommitError(RuntimeError):
    """A commit failed, or committed segments could not be deleted; the message says why."""


class JournalCommitter:
    """Commit the closed segments in `folder` to the Delta table at `path`, oldest first."""

    def __init__(self, folder: Path, path: Path):
        self.folder = folder
        self.path = path
        self._table: Any = None  # kept open: appending through it beats reopening by path
        self._check_history = True  # a predecessor may have died between commit and delete
        self.undeleted: set[str] = set()  # committed segments whose delete failed

    def pending(self) -> list[Path]:
        return closed_segments(self.folder)

    def commit_next(self, own: str = "") -> tuple[str, int, int]:
        """Commit the oldest closed segments (up to `BATCH_BYTES`) and delete them.

        Returns the newest one's name, the rows committed, and how many of those came from
        segments whose names do not start with `own` (an earlier server's). A segment that
        cannot be deleted is left in `undeleted` (never committed again); `delete_committed`
        retries and says why.

        Raises:
            CommitError: the Delta commit failed (the segments stay; try again), or only
                committed segments are left and they still cannot be deleted.
        """
        batch: list[Path] = []
        size = 0
        for seg in self.pending():
            if batch and size + seg.stat().st_size > BATCH_BYTES:
                break
            batch.append(seg)
            size += seg.stat().st_size
        if not batch:
            return "", 0, 0
        todo = [s for s in batch if s.name not in self.undeleted]
        if not todo:  # committed and reported already: only their delete is left
            self.delete_committed()
            return batch[-1].name, 0, 0
        if self._check_history:
            done = committed_segments(self.path)
            todo = [s for s in todo if s.name not in done]
            self._check_history = False
        rows, earlier = [], 0
        for seg in todo:
            seg_rows = read_segment(seg)
            rows += seg_rows
            earlier += 0 if seg.name.startswith(own) else len(seg_rows)
        if rows:
            try:
                self.append(pa.Table.from_pylist(rows, schema=SCHEMA), [s.name for s in todo])
            except BaseException as exc:  # deltalake's panics are BaseException too
                self._check_history = True  # it may have landed all the same
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                raise CommitError(f"commit failed: {self._why(exc)}") from exc
        self.undeleted.update(s.name for s in batch)
        with contextlib.suppress(CommitError):
            self.delete_committed()  # the caller hears of it after the commit is reported
        return batch[-1].name, len(rows), earlier

    def delete_committed(self) -> None:
        """Delete the committed segments still in the folder.

        Raises:
            CommitError: one cannot be deleted (it stays in `undeleted`, never committed again).
        """
        for name in sorted(self.undeleted):
            try:
                (self.folder / name).unlink(missing_ok=True)
            except OSError as exc:
                raise CommitError(
                    f"journal segment {self.folder / name} is committed but cannot be deleted "
                    f"({type(exc).__name__}: {exc.strerror or exc}); it is not committed again"
                ) from exc
            self.undeleted.discard(name)

    def _why(self, exc: BaseException) -> str:
        """A failed commit's cause in plain words: deltalake names its own internals (a folder
        we may not write reads "Failed to parse parquet"), so try writing there ourselves."""
        if not isinstance(self.path, Path):  # an object store: its own words say it
            return f"{type(exc).__name__}: {exc}"
        folder = self.path
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            for folder in filter(Path.is_dir, [self.path, self.path / "_delta_log"]):
                probe = folder / f".churnops-probe-{os.getpid()}"
                probe.touch()
                probe.unlink()
        except OSError as probe_exc:
            return (
                f"cannot write the table folder {folder} ({type(probe_exc).__name__}: "
                f"{probe_exc.strerror or probe_exc}); deltalake said: {type(exc).__name__}: {exc}"
            )
        return f"{type(exc).__name__}: {exc}"

    def append(self, table: pa.Table, segments: list[str]) -> None:
        """One Delta commit of `table`, naming `segments` in its metadata."""
        from deltalake import CommitProperties

        write_table(
            self._table if self._table is not None else self.path,
            table,
            mode="append",
            commit_properties=CommitProperties(custom_metadata={JOURNAL_KEY: ",".join(segments)}),
        )
        if self._table is None:  # the first commit created the table (or found it there)
            self._table = open_table(self.path)


def _wait(fd: int, timeout: float, parent: int) -> bool:
    """Sleep until the server wakes us or `timeout` passes; False once the server is gone."""
    ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
    if ready and not os.read(fd, 65536):
        return False  # end of stdin: the server closed it, or died
    return os.getppid() == parent  # a fork of the server may hold stdin open after it died


def _say(report: Any, message: dict[str, Any]) -> None:
    with contextlib.suppress(BrokenPipeError):  # the server is gone: commit all the same
        report.write(orjson.dumps(message) + b"\n")


def run(folder: Path, path: Path, parent: int, own: str, report: Any) -> int:
    """Commit until the server is gone, then commit what is closed and return (1: some left).

    `own`: how the server's segment names start (rows in others are reported as replayed).
    """
    committer = JournalCommitter(folder, path)
    alive, retry_at = True, 0.0
    while True:
        if time.monotonic() >= retry_at or not alive:
            try:
                while committer.pending():
                    name, rows, earlier = committer.commit_next(own)
                    _say(report, {"through": name, "rows": rows, "replayed": earlier})
                    committer.delete_committed()
            except Exception as exc:
                own_words = isinstance(exc, CommitError)
                message = str(exc) if own_words else f"commit failed: {type(exc).__name__}: {exc}"
                _say(report, {"error": message})
                retry_at = time.monotonic() + RETRY_SECONDS
                if not alive:
                    return 1
        if not alive:
            return 0
        timeout = POLL_SECONDS if retry_at <= time.monotonic() else retry_at - time.monotonic()
        alive = _wait(sys.stdin.fileno(), min(timeout, POLL_SECONDS), parent)


def main(argv: list[str] | None = None) -> int:
    folder, path, parent, own = argv or sys.argv[1:]
    os.nice(NICE)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C: the server closes us
    report = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the reports
    # One committer per journal: one still draining for a server that died finishes first.
    with open(Path(folder) / "committer.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return run(Path(folder), storage.native(path), int(parent), own, report)


if __name__ == "__main__":
    raise SystemExit(main())
