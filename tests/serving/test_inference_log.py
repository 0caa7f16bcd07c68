"""InferenceLogWriter: batched appends to a real Delta table, flushed on close, never rewritten."""

from __future__ import annotations

import threading

import pytest
from deltalake import DeltaTable

from churnops.serving.inference_log import SCHEMA, InferenceLogWriter, read_inference_log


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
