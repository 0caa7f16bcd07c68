"""InferenceLogWriter: rows journalled, committed to a real Delta table by the committer process,
all of them on close, none lost to a kill of either process or to a folder that refuses
changes for a while, none written twice; one writer per log path."""

from __future__ import annotations

import fcntl
import logging
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
    InferenceLogError,
    InferenceLogWriter,
    journal_folder,
    read_inference_log,
)
from churnops.serving.journal import Journal, closed_segments, read_segment
from churnops.serving.log_committer import CommitError, JournalCommitter


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
    log = InferenceLogWriter(blocker, batch_rows=10_000, flush_seconds=3600)
    blocker.write_text("not a folder")  # Delta cannot write here
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


def _ids(path):
    return sorted(read_inference_log(path).column("databricks_request_id").to_pylist())


def test_a_folder_refusing_changes_delays_the_hand_over_and_loses_nothing(tmp_path, immutable):
    # The user's trial: `chattr +i` on the journal folder under load killed the writer's thread
    # on the rename, and every request after it failed, even once the folder was writable.
    path = tmp_path / "log"
    log = InferenceLogWriter(path, batch_rows=5, flush_seconds=0.01)
    log.append(**_row(0))
    with immutable(journal_folder(path)):
        for i in range(1, 20):  # past batch_rows: the segment cannot be closed, rows go on in
            log.append(**_row(i))
        with log._progress:
            log._progress.wait_for(lambda: log.journal_failures >= 2)  # the timer tried too
        assert "cannot close journal segment" in log.error
        assert "Operation not permitted" in log.error
    log.append(**_row(20))  # writable again: handed over, by the next append or the timer
    assert log.flush() > 0 and log.error is None
    assert log._thread.is_alive()
    log.close()
    assert _ids(path) == sorted(f"r{i}" for i in range(21))


@pytest.mark.parametrize("refusing", ["segment", "folder"])
def test_a_failed_journal_write_keeps_nothing_and_the_writer_recovers(
    tmp_path, immutable, refusing
):
    path = tmp_path / "log"
    log = InferenceLogWriter(path, batch_rows=1000, flush_seconds=3600)
    log.append(**_row(0))
    if refusing == "folder":
        log.flush()  # handed over: the next row needs a new segment in that folder
    target = log.journal._path if refusing == "segment" else journal_folder(path)
    with immutable(target):
        with pytest.raises(InferenceLogError, match=r"cannot write the journal.*not permitted"):
            log.append(**_row(1))
        assert "cannot write the journal" in log.error and log.stats()["journal_failures"] == 1
    if refusing == "folder":  # the writer tries again by itself: the error goes before a row
        with log._progress:
            assert log._progress.wait_for(lambda: not log._problems, timeout=60)
    log.append(**_row(2))  # it works again
    assert log.error is None
    log.close()
    assert _ids(path) == ["r0", "r2"]  # r1 was refused: not acknowledged, not logged


def test_a_segment_that_cannot_be_deleted_is_committed_once(tmp_path, immutable):
    path = tmp_path / "log"
    journal = Journal(journal_folder(path))
    journal.append([InferenceLogWriter.row(**_row(i)) for i in range(5)])
    seg = journal.close()
    committer = JournalCommitter(journal.folder, path)
    with immutable(journal.folder):
        assert committer.commit_next()[1] == 5  # committed; its delete fails
        with pytest.raises(CommitError, match="committed but cannot be deleted"):
            committer.delete_committed()
        with pytest.raises(CommitError, match="committed but cannot be deleted"):
            committer.commit_next()  # tried again: nothing to commit, and the delete fails
    assert committer.commit_next() == (seg.name, 0, 0)  # deleted now
    assert len(read_inference_log(path)) == 5 and not closed_segments(journal.folder)


def test_the_committer_process_commits_once_while_it_cannot_delete(tmp_path, immutable):
    # The user's repro: a closed segment, its folder immutable, the committer running a while.
    path = tmp_path / "log"
    journal = Journal(journal_folder(path))
    journal.append([InferenceLogWriter.row(**_row(i)) for i in range(5)])
    journal.close()
    (journal.folder / "committer.lock").touch()  # as any earlier committer leaves it
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "churnops.serving.log_committer", str(journal.folder), str(path)]
    with immutable(journal.folder):
        proc = subprocess.Popen(
            [*cmd, str(os.getpid()), "seg-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        reports = [orjson.loads(proc.stdout.readline()) for _ in range(4)]  # three tries
        assert [r.get("rows") for r in reports] == [5, None, None, None]
        assert all("cannot be deleted" in r["error"] for r in reports[1:])
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    assert len(read_inference_log(path)) == 5 and not closed_segments(journal.folder)


def test_a_table_folder_that_cannot_be_written_is_named_and_counted(tmp_path, immutable, caplog):
    path = tmp_path / "log"
    log = InferenceLogWriter(path, batch_rows=1000, flush_seconds=3600)
    log.append(**_row(0))
    log.flush()  # the table exists
    log.append(**_row(1))
    plain_words = f"commit failed: cannot write the table folder {path}"
    with immutable(path), caplog.at_level(logging.WARNING, "churnops.serving.inference_log"):
        with pytest.raises(RuntimeError, match=plain_words):
            log.flush()
        stats = log.stats()
        assert stats["commit_failures"] >= 1
        assert (stats["pending_rows"], stats["pending_segments"]) == (1, 1)
        assert "Operation not permitted" in log.error
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith("churnops serve: inference log")
    log.flush()  # writable again
    assert log.error is None and log.stats()["pending_rows"] == 0
    log.close()
    assert _ids(path) == ["r0", "r1"]


def test_a_second_writer_on_a_log_path_is_refused_and_the_first_writes_on(tmp_path):
    path = tmp_path / "log"
    first = InferenceLogWriter(path, batch_rows=1000, flush_seconds=3600)
    first.append(**_row(0))
    with pytest.raises(InferenceLogError, match=f"in use by another server \\(pid {os.getpid()}"):
        InferenceLogWriter(path)
    first.append(**_row(1))
    first.close()
    InferenceLogWriter(path).close()  # free once the first is closed
    assert _ids(path) == ["r0", "r1"]


def test_a_committer_draining_for_a_dead_server_does_not_block_a_restart(tmp_path):
    path = tmp_path / "log"
    journal_folder(path).mkdir(parents=True)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    with open(journal_folder(path) / "committer.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the killed server's committer waits: still there
        # Not `run`: the waiting committer holds the pipes open, so they see no end.
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLED_WRITER, str(path)], stdout=subprocess.PIPE, env=env
        )
        committer = int(proc.stdout.readline())
        proc.stdout.close()
        assert proc.wait(timeout=60) == -signal.SIGKILL
        assert not _gone(committer)
        log = InferenceLogWriter(path)  # the restart is not refused
    log.close()
    assert _ids(path) == sorted(f"r{i}" for i in range(50))


def test_the_committer_does_not_get_the_token_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNOPS_SERVING_TOKENS", "secret-a")
    monkeypatch.setenv("MY_TOKENS", "secret-b")
    log = InferenceLogWriter(tmp_path / "log", hidden_env={"CHURNOPS_SERVING_TOKENS", "MY_TOKENS"})
    environ = Path(f"/proc/{log._committer.pid}/environ").read_bytes().split(b"\0")
    log.close()
    assert not [v for v in environ if b"secret" in v]
    assert any(v.startswith(b"PYTHONPATH=") for v in environ)  # the rest it does get


def test_a_log_path_that_cannot_hold_a_journal_is_refused_in_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InferenceLogError, match="NotADirectoryError") as err:
        InferenceLogWriter(tmp_path / "file" / "log")
    assert str(tmp_path / "file" / "log") in str(err.value) and "\n" not in str(err.value)
