"""InferenceLogWriter: batched appends to a real Delta table, flushed on close, never rewritten."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest
from deltalake import DeltaTable

from churnops.serving.inference_log import (
    SCHEMA,
    InferenceLogWriter,
    Journal,
    journal_folder,
    read_inference_log,
)


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
    # Batched: far fewer commits than rows, and every commit only appends.
    history = DeltaTable(str(tmp_path / "log")).history()
    assert 1 < len(history) < 100
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


def test_a_failed_write_keeps_the_rows(tmp_path):
    blocker = tmp_path / "log"
    blocker.write_text("not a folder")  # Delta cannot write here
    log = InferenceLogWriter(blocker, batch_rows=10_000, flush_seconds=3600)
    log.append(**_row(1))
    with pytest.raises(Exception):  # noqa: B017 - whatever delta-rs raises for a file path
        log.flush()
    blocker.unlink()
    assert log.flush() == 1
    log.close()
    assert read_inference_log(blocker).num_rows == 1


_KILLED_WRITER = """
import os, signal, sys
from churnops.serving.inference_log import InferenceLogWriter
from tests.serving.test_inference_log import _row
log = InferenceLogWriter(sys.argv[1], batch_rows=20, flush_seconds=3600, journal=True)
for i in range(50):
    log.append(**_row(i))
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
    assert journal_folder(path).is_dir()
    log = InferenceLogWriter(path, journal=True)  # the next start replays the journal
    log.close()
    ids = read_inference_log(path).column("databricks_request_id").to_pylist()
    assert sorted(ids) == sorted(f"r{i}" for i in range(50))
    assert not list(journal_folder(path).glob("seg-*"))


def test_replay_skips_segments_a_commit_already_holds(tmp_path, monkeypatch):
    path = tmp_path / "log"
    log = InferenceLogWriter(path, flush_seconds=3600, journal=True)
    for i in range(5):
        log.append(**_row(i))
    # A crash between the Delta commit and the segment's deletion: the segment stays behind.
    monkeypatch.setattr(Journal, "drop", lambda self, segments: None)
    log.flush()
    monkeypatch.undo()
    assert list(journal_folder(path).glob("seg-*.jsonl"))
    replayed = InferenceLogWriter(path, journal=True)
    replayed.close()
    assert replayed.rows_replayed == 0 and len(read_inference_log(path)) == 5
    assert not list(journal_folder(path).glob("seg-*.jsonl"))


def test_a_torn_last_line_is_skipped(tmp_path):
    folder = tmp_path / "log.journal"
    journal = Journal(folder)
    journal.close()
    seg = folder / "seg-000000000001.jsonl"
    good = orjson.dumps(
        {**{f.name: None for f in SCHEMA}, "timestamp_ms": 0, "request_metadata": [["a", "b"]]}
    )
    seg.write_bytes(good + b"\n" + good[:10])
    rows = Journal.read(seg)
    assert len(rows) == 1 and rows[0]["request_metadata"] == [("a", "b")]
