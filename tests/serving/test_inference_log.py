"""InferenceLogWriter: rows journalled, committed to a real Delta table by the committer process,
all of them on close, none lost to a kill of either process, none written twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from churnops.serving.inference_log import (
    SCHEMA,
    InferenceLogWriter,
    journal_folder,
    read_inference_log,
)
from churnops.serving.journal import Journal, closed_segments, read_segment
from churnops.serving.log_committer import JournalCommitter


def _row(i: int, **kw):
    row = dict(
        request_id=f"r{i}",
        client_request_id=None,
        endpoint="churn",
        served_entity="champion",
        model_name="churn",
        model_version="2",
        status_code=200,
        execution_time_ms=1.5,
        request='[{"customer_id": "1"}]',
        response='{"predictions": [1]}',
        num_rows=1,
    )
    return {**row, **kw}


def test_rows_from_many_threads_all_land_once(tmp_path):
    log = InferenceLogWriter(tmp_path / "log", batch_rows=50, flush_seconds=0.05)

    def write(t):
        for i in range(250):
            log.append(**_row(t * 1000 + i))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    table = read_inference_log(tmp_path / "log")
    assert table.num_rows == 1000 == log.rows_written
    assert len(set(table["databricks_request_id"].to_pylist())) == 1000
    assert table.schema.equals(SCHEMA, check_metadata=False)
    # Batched: far fewer commits than rows (20 segments; the committer takes what is closed
    # when it comes round, so maybe all at once), and every commit only appends.
    history = DeltaTable(str(tmp_path / "log")).history()
    assert len(history) <= 20
    assert {h["operation"] for h in history} <= {"WRITE", "CREATE TABLE"}
    assert all(h.get("operationParameters", {}).get("mode", "Append") == "Append" for h in history)


def test_close_flushes_rows_waiting_for_the_timer(tmp_path):
    log = InferenceLogWriter(tmp_path / "log", batch_rows=10_000, flush_seconds=3600)
    for i in range(7):
        log.append(**_row(i, status_code=400 if i == 3 else 200))
    log.close()
    table = read_inference_log(tmp_path / "log")
    assert table.num_rows == 7
    assert table["status_code"].to_pylist().count(400) == 1
    meta = dict(table["request_metadata"][0].as_py())
    assert meta == {
        "endpoint_name": "churn",
        "model_name": "churn",
        "model_version": "2",
        "served_entity_name": "champion",
    }
    with pytest.raises(RuntimeError, match="is closed"):
        log.append(**_row(99))


def test_a_failed_commit_keeps_the_rows_and_says_why(tmp_path):
    blocker = tmp_path / "log"
    blocker.write_text("not a folder")  # Delta cannot write here
    log = InferenceLogWriter(blocker, batch_rows=10_000, flush_seconds=3600)
    log.append(**_row(1))
    with pytest.raises(RuntimeError, match="commit failed"):
        log.flush()
    assert str(blocker) in str(log.error)
    blocker.unlink()
    log.flush()  # the committer tries again
    assert log.error is None
    log.close()
    assert read_inference_log(blocker).num_rows == 1


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status")  # an orphan nobody reaps yet is a zombie: gone too
    return status.exists() and "\nState:\tZ" in status.read_text()


_KILLED_WRITER = """
import os, signal, sys
from churnops.serving.inference_log import InferenceLogWriter
from tests.serving.test_inference_log import _row
log = InferenceLogWriter(sys.argv[1], batch_rows=20, flush_seconds=3600)
for i in range(50):
    log.append(**_row(i))
print(log._committer.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_writer_loses_no_row_and_writes_none_twice(tmp_path):
    path = tmp_path / "log"
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(path)], capture_output=True, env=env, cwd=root
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    committer = int(proc.stdout)
    deadline = time.monotonic() + 60
    while not _gone(committer):  # it outlives the server only to commit what was closed
        assert time.monotonic() < deadline, "the committer did not exit after its server died"
        time.sleep(0.05)
    log = InferenceLogWriter(path)  # the next start commits what is left
    log.close()
    ids = read_inference_log(path).column("databricks_request_id").to_pylist()
    assert sorted(ids) == sorted(f"r{i}" for i in range(50))
    assert not list(journal_folder(path).glob("seg-*"))


def test_a_killed_committer_loses_no_row_and_writes_none_twice(tmp_path):
    path = tmp_path / "log"
    log = InferenceLogWriter(path, batch_rows=10, flush_seconds=3600)
    for kill in range(3):
        log.flush()  # it is up and has committed: the next segments keep it busy
        for i in range(100):
            log.append(**_row(kill * 100 + i))
        os.kill(log._committer.pid, signal.SIGKILL)  # reading, committing or deleting
    log.close()
    ids = read_inference_log(path).column("databricks_request_id").to_pylist()
    assert sorted(ids) == sorted(f"r{i}" for i in range(300))
    assert not closed_segments(journal_folder(path))


def test_segments_a_commit_already_holds_are_not_written_again(tmp_path):
    path = tmp_path / "log"
    journal = Journal(journal_folder(path))
    journal.append([InferenceLogWriter.row(**_row(i)) for i in range(5)])
    seg = journal.close()
    assert seg is not None
    # A committer killed between its Delta commit and deleting the segment: the segment stays.
    rows = pa.Table.from_pylist(read_segment(seg), schema=SCHEMA)
    JournalCommitter(journal.folder, path).append(rows, [seg.name])
    log = InferenceLogWriter(path)
    log.close()
    assert log.rows_replayed == 0 and len(read_inference_log(path)) == 5
    assert not closed_segments(journal.folder)


def test_rows_a_killed_server_left_are_replayed_first(tmp_path):
    path = tmp_path / "log"
    journal = Journal(journal_folder(path))
    journal.append([InferenceLogWriter.row(**_row(i)) for i in range(3)])
    del journal  # killed: its segment is still open
    log = InferenceLogWriter(path, flush_seconds=3600)
    log.append(**_row(3))
    log.close()
    assert (log.rows_replayed, log.rows_written) == (3, 4)
    assert len(read_inference_log(path)) == 4


def test_a_torn_last_line_is_skipped(tmp_path):
    seg = tmp_path / "seg-1.jsonl"
    good = orjson.dumps(
        {**{f.name: None for f in SCHEMA}, "timestamp_ms": 0, "request_metadata": [["a", "b"]]}
    )
    seg.write_bytes(good + b"\n" + good[:10])
    rows = read_segment(seg)
    assert len(rows) == 1 and rows[0]["request_metadata"] == [("a", "b")]
