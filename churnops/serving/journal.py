"""The inference log's journal: JSON-lines segments the server appends each request's rows to
before answering, and the log committer (`churnops.serving.log_committer`) moves into Delta.

A segment is `seg-<start>-<n>.open` while the server writes it and is renamed `.jsonl` when
closed; only closed segments are committed. Names never repeat (`<start>` is the writer's start
time in ns) and sort in the order the rows were written.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import orjson

OPEN, CLOSED = ".open", ".jsonl"


class Journal:
    """The server's side: append rows to the open segment, close it to hand it over.

    A kill leaves the rows of every acknowledged request in a segment: each request's rows are
    one `write` to the OS, so they survive the process being killed; with `fsync` they survive a
    power cut too. Segments a killed server left open are closed when the next one starts.
    """

    def __init__(self, folder: str | Path, fsync: bool = False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        for seg in self.folder.glob(f"seg-*{OPEN}"):  # a killed server's: nobody writes it now
            seg.rename(seg.with_suffix(CLOSED))
        self.prefix = f"seg-{time.time_ns():020d}-"  # this writer's segment names start so
        self._n = 0
        self.rows = 0  # rows in the open segment
        self.first_row_at = 0.0  # time.monotonic() of the open segment's first row
        self._file = self._open()

    def _open(self) -> Any:
        self._n += 1
        self._path = self.folder / f"{self.prefix}{self._n:08d}{OPEN}"
        self.rows = 0
        return open(self._path, "ab", buffering=0)  # unbuffered: each request is one write(2)

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write `rows` (one request's) in one `write`: a kill leaves at most a torn last line."""
        self._file.write(b"".join([orjson.dumps(row, default=str) + b"\n" for row in rows]))
        if self.fsync:
            os.fsync(self._file.fileno())
        if not self.rows:
            self.first_row_at = time.monotonic()
        self.rows += len(rows)

    def rotate(self) -> Path | None:
        """Close the open segment if it holds rows and open the next; return the closed one."""
        if not self.rows:
            return None
        closed = self._close_file()
        self._file = self._open()
        return closed

    def close(self) -> Path | None:
        """Close the open segment: renamed if it holds rows (returned), else deleted."""
        if self.rows:
            return self._close_file()
        self._file.close()
        self._path.unlink(missing_ok=True)
        return None

    def _close_file(self) -> Path:
        self._file.close()
        closed = self._path.with_suffix(CLOSED)
        self._path.rename(closed)
        return closed


def closed_segments(folder: Path) -> list[Path]:
    """The closed segments in `folder`, oldest first."""
    return sorted(folder.glob(f"seg-*{CLOSED}"))


def read_segment(segment: Path) -> list[dict[str, Any]]:
    """A segment's rows as the log table takes them; a torn last line is skipped."""
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
