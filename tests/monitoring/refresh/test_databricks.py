"""The Databricks monitor: the request databricks-sdk sends, recorded by a local HTTP server.

No workspace here: what is checked is the SDK request built from our config (round-tripped
through the SDK classes) and the HTTP calls the real WorkspaceClient makes. Whether a workspace
accepts them is not tested.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

pytest.importorskip("databricks.sdk")

from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config
from databricks.sdk.service import dataquality as dq

from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.databricks import (
    create_databricks_monitor,
    monitor_request,
)


def _cfg(**kw) -> MonitorConfig:
    return MonitorConfig(
        table="x",
        output_dir="y",
        labels_table="labels",
        granularities=["1 day", "1 week"],
        slicing_exprs=["is_shadow"],
        databricks_table="main.churn.predictions",
        databricks_output_schema="main.churn_monitoring",
        databricks_baseline_table="main.churn.training_set",
        **kw,
    )


def test_request_round_trips_through_the_sdk_classes():
    request = monitor_request(_cfg(), "table-uuid", "schema-uuid")
    body = request.as_dict()
    assert dq.Monitor.from_dict(body).as_dict() == body
    log = body["data_profiling_config"]["inference_log"]
    assert log == {
        "problem_type": "INFERENCE_PROBLEM_TYPE_CLASSIFICATION",
        "timestamp_column": "timestamp",
        "granularities": ["AGGREGATION_GRANULARITY_1_DAY", "AGGREGATION_GRANULARITY_1_WEEK"],
        "prediction_column": "prediction",
        "model_id_column": "model_version",
        "label_column": "churn",
    }
    assert body["object_id"] == "table-uuid" and body["object_type"] == "table"
    assert body["data_profiling_config"]["output_schema_id"] == "schema-uuid"
    assert body["data_profiling_config"]["schedule"]["quartz_cron_expression"] == "0 0 6 * * ?"


def test_missing_databricks_names_are_named():
    cfg = MonitorConfig(table="x", output_dir="y")
    with pytest.raises(ValueError, match="databricks_table and databricks_output_schema"):
        monitor_request(cfg, "a", "b")


class _Recorder(BaseHTTPRequestHandler):
    calls: ClassVar[list] = []

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.calls.append(("GET", self.path, None, self.headers.get("Authorization")))
        if "/tables/" in self.path:
            self._answer({"full_name": "main.churn.predictions", "table_id": "table-uuid"})
        else:
            self._answer({"full_name": "main.churn_monitoring", "schema_id": "schema-uuid"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append(("POST", self.path, body, self.headers.get("Authorization")))
        self._answer(body)

    def log_message(self, *args):
        pass


def test_workspace_client_sends_the_create_call(monkeypatch):
    for var in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    _Recorder.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"http://127.0.0.1:{server.server_address[1]}"
        client = WorkspaceClient(config=Config(host=host, token="t0k", retry_timeout_seconds=5))
        answer = create_databricks_monitor(_cfg(), client)
    finally:
        server.shutdown()
    api = [c for c in _Recorder.calls if c[1].startswith("/api/")]  # not host metadata discovery
    paths = [(m, p) for m, p, _, _ in api]
    assert paths == [
        ("GET", "/api/2.1/unity-catalog/tables/main.churn.predictions"),
        ("GET", "/api/2.1/unity-catalog/schemas/main.churn_monitoring"),
        ("POST", "/api/data-quality/v1/monitors"),
    ]
    body = api[-1][2]
    assert body["object_id"] == "table-uuid"
    assert body["data_profiling_config"]["baseline_table_name"] == "main.churn.training_set"
    assert body["data_profiling_config"]["slicing_exprs"] == ["is_shadow"]
    assert all(auth == "Bearer t0k" for *_, auth in api)
    assert answer.data_profiling_config.inference_log.model_id_column == "model_version"


def test_older_sdks_quality_monitors_call(monkeypatch):
    for var in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    _Recorder.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"http://127.0.0.1:{server.server_address[1]}"
        client = WorkspaceClient(config=Config(host=host, token="t0k", retry_timeout_seconds=5))
        create_databricks_monitor(_cfg(), client, api="quality_monitors")
    finally:
        server.shutdown()
    [(method, path, body, _)] = [c for c in _Recorder.calls if c[1].startswith("/api/")]
    assert (method, path) == (
        "POST",
        "/api/2.1/unity-catalog/tables/main.churn.predictions/monitor",
    )
    assert body["output_schema_name"] == "main.churn_monitoring"
    assert body["inference_log"] == {
        "problem_type": "PROBLEM_TYPE_CLASSIFICATION",
        "timestamp_col": "timestamp",
        "granularities": ["1 day", "1 week"],
        "prediction_col": "prediction",
        "model_id_col": "model_version",
        "label_col": "churn",
        "prediction_proba_col": "probability",
    }
