"""The inference log's journal: JSON-lines segments the server appends each request's rows to
before answering, and the log committer (`churnops.serving.log_committer`) moves into Delta.

A segment is `seg-<start>-<n>.open` while the server writes it and is renamed `.jsonl` when
closed; only closed segments are committed. Names never repeat (`<start>` is the writer's start
time in ns) and sort in the order the rows were written. One writer per journal: it holds an
exclusive lock on `writer.lock` for its lifetime.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import time
from pathlib import Path
from typing import Any, BinaryIO

import orjson

OPEN, CLOSED = ".open", ".jsonl"
WRITER_LOCK = "writer.lock"


class JournalInUseError(RuntimeError):
    """Another live process writes this journal (it holds `writer.lock`)."""


class Journal:
    """The server's side: append rows to the open segment, close it to hand it over.

    A kill leaves the rows of every acknowledged request in a segment: each request's rows are
    one `write` to the OS, so they survive the process being killed; with `fsync` they survive a
    power cut too. Segments a killed server left open are closed when the next one starts.

    A failed `append` raises `OSError` and leaves no row of that call behind (its rows were never
    acknowledged); a failed `rotate` raises and leaves the segment open to take more rows. Both
    can be retried: nothing is left half done.

    Raises:
        JournalInUseError: another process holds the journal (a second server on one log path).
        OSError: the folder cannot be created or written.
    """

    def __init__(self, folder: str | Path, fsync: bool = False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._lock = _hold_writer_lock(self.folder)  # before a segment is touched: see above
        try:
            for seg in self.folder.glob(f"seg-*{OPEN}"):  # a killed server's: nobody writes it
                seg.rename(seg.with_suffix(CLOSED))
        except OSError:
            self._lock.close()
            raise
        self.prefix = f"seg-{time.time_ns():020d}-"  # this writer's segment names start so
        self._n = 0
        self._file: Any = None  # the open segment; opened by the first append after a rotate
        self._path = self.folder / f"{self.prefix}{0:08d}{OPEN}"
        self._size = 0  # bytes in the open segment: a failed write is cut back to this
        self._torn = False  # a failed write's bytes could not be cut off: start a new line
        self.rows = 0  # rows in the open segment
        self.first_row_at = 0.0  # time.monotonic() of the open segment's first row

    def _open(self) -> Any:
        self._n += 1
        path = self.folder / f"{self.prefix}{self._n:08d}{OPEN}"
        # Unbuffered: each request is one write(2). Open until rotated, so no `with`.
        file = open(path, "ab", buffering=0)  # noqa: SIM115
        self._path, self._size, self._torn, self.rows = path, 0, False, 0
        return file

    @property
    def is_open(self) -> bool:
        """Whether a segment is open (after a rotate, the next append opens one)."""
        return self._file is not None

    def open_segment(self) -> None:
        """Open the next segment now if none is open; `OSError` if it cannot be created."""
        if self._file is None:
            self._file = self._open()

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write `rows` (one request's) in one `write`: a kill leaves at most a torn last line."""
        data = b"".join([orjson.dumps(row, default=str) + b"\n" for row in rows])
        self.open_segment()
        if self._torn:
            data = b"\n" + data  # the torn line ends here, and `read_segment` skips it
        try:
            written = self._file.write(data)
            if written != len(data):
                raise OSError(f"{self._path}: wrote {written} of {len(data)} bytes")
            if self.fsync:
                os.fsync(self._file.fileno())
        except OSError:
            self._take_back()
            raise
        if self._torn:
            self._size, self._torn = os.fstat(self._file.fileno()).st_size, False
        else:
            self._size += len(data)
        if not self.rows:
            self.first_row_at = time.monotonic()
        self.rows += len(rows)

    def _take_back(self) -> None:
        """Cut a failed write's bytes off the segment: its rows were never acknowledged."""
        try:
            os.ftruncate(self._file.fileno(), self._size)
        except OSError:
            self._torn = True

    def rotate(self) -> Path | None:
        """Close the open segment if it holds rows; return it. The next append opens another.

        Raises `OSError` if the rename fails: then nothing changed and appends go on into the
        same segment.
        """
        if not self.rows:
            return None
        closed = self._path.with_suffix(CLOSED)
        self._path.rename(closed)  # first: until it succeeds, the segment stays ours
        self._file.close()
        self._file, self.rows = None, 0
        return closed

    def close(self) -> Path | None:
        """Close the open segment (renamed if it holds rows, and returned; else deleted) and
        give up the journal. If the rename fails (`OSError`), the next writer closes it."""
        try:
            if self.rows:
                return self.rotate()
            if self._file is not None:
                self._path.unlink(missing_ok=True)
            return None
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._lock.close()  # closing the file drops the lock


def _hold_writer_lock(folder: Path) -> BinaryIO:
    """An exclusive lock on the journal for this process's lifetime, or `JournalInUseError`.

    The file is not inherited by subprocesses (close-on-exec), so a committer still draining
    for a dead server holds no lock that keeps the next server from starting.
    """
    lock = open(folder / WRITER_LOCK, "a+b", buffering=0)  # noqa: SIM115 (held till close)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().decode(errors="replace").strip() or "unknown"
        lock.close()
        raise JournalInUseError(
            f"journal {folder} is in use by another server (pid {holder} holds "
            f"{folder / WRITER_LOCK}); one server per log path"
        ) from None
    except OSError:
        lock.close()
        raise
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n".encode())
    return lock


def closed_segments(folder: Path) -> list[Path]:
    """The closed segments in `folder`, oldest first."""
    return sorted(folder.glob(f"seg-*{CLOSED}"))


def read_segment(segment: Path) -> list[dict[str, Any]]:
    """A segment's rows as the log table takes them; torn lines (never acknowledged) are
    skipped."""
    rows = []
    for line in segment.read_bytes().splitlines():
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a write cut short by a kill or an I/O error: never acknowledged
        row["date"] = dt.datetime.fromtimestamp(row["timestamp_ms"] / 1000, dt.UTC).date()
        row["request_metadata"] = [tuple(kv) for kv in row["request_metadata"]]
        rows.append(row)
    return rows
