"""Unpacking the serving inference log: one row per scored customer, only new log files, errors
skipped, shadow rows flagged, and an answer without probabilities refused by name."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from churnops.monitoring.refresh.unpack import unpack_inference_log
from churnops.serving.inference_log import InferenceLogWriter


def _log(writer, rid, rows, preds, status=200, shadow=False, version="1"):
    writer.append(
        request_id=rid,
        client_request_id=None,
        endpoint="churn",
        served_entity="champion",
        model_name="churn",
        model_version=version,
        status_code=status,
        execution_time_ms=1.0,
        request=orjson.dumps(rows).decode() if status == 200 else "",
        response=orjson.dumps(
            {"predictions": preds} if status == 200 else {"error_code": "X"}
        ).decode(),
        num_rows=len(rows),
        is_shadow=shadow,
    )


def test_unpack_appends_only_new_requests(tmp_path):
    log = InferenceLogWriter(tmp_path / "log", batch_rows=10_000, flush_seconds=3600)
    rows = [
        {"customer_id": 7, "recency": 3, "frequency": 1.5},
        {"customer_id": "8", "recency": 9, "frequency": 0.0},
    ]
    preds = [{"probability": 0.8, "prediction": 1}, {"probability": 0.1, "prediction": 0}]
    _log(log, "a", rows, preds)
    _log(log, "b", rows[:1], preds[:1], status=400)
    _log(log, "c", rows[:1], [{"probability": 0.6, "prediction": 1}], shadow=True, version="2")
    log.flush()
    assert unpack_inference_log(tmp_path / "log", tmp_path / "preds") == 3
    assert unpack_inference_log(tmp_path / "log", tmp_path / "preds") == 0  # nothing new

    _log(log, "d", rows[1:], preds[1:])
    log.close()
    assert unpack_inference_log(tmp_path / "log", tmp_path / "preds") == 1
    t = DeltaTable(str(tmp_path / "preds")).to_pyarrow_table().sort_by("request_id")
    assert t["request_id"].to_pylist() == ["a", "a", "c", "d"]
    assert t["customer_id"].to_pylist() == ["7", "8", "7", "8"]
    assert t["is_shadow"].to_pylist() == [False, False, True, False]
    assert t["model_version"].to_pylist() == ["1", "1", "2", "1"]
    assert t["probability"].to_pylist() == [0.8, 0.1, 0.6, 0.1]
    assert t.schema.field("recency").type == pa.float64()
    assert t.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert t.schema.field("date").type == pa.date32()


def test_an_answer_without_probabilities_is_refused(tmp_path):
    log = InferenceLogWriter(tmp_path / "log", batch_rows=10_000, flush_seconds=3600)
    _log(log, "x", [{"customer_id": "1", "recency": 1}], [0.4])
    log.close()
    with pytest.raises(ValueError, match=r"request x: prediction 0.4; expected \{'probability'"):
        unpack_inference_log(tmp_path / "log", tmp_path / "preds")
    assert not (tmp_path / "preds").exists()  # nothing half-written
