"""`python -m churnops.serving` as its own process: SIGHUP reloads the YAML, SIGTERM drains and
flushes the inference log (rows == acknowledged requests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
import yaml

from churnops.serving.inference_log import read_inference_log
from tests.serving.conftest import AUTH, endpoint_dict

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not come up")


def test_sighup_reloads_and_sigterm_flushes(serving_world, tmp_path):
    data = endpoint_dict(serving_world, tmp_path)
    path = tmp_path / "endpoint.yaml"
    path.write_text(yaml.safe_dump(data))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "churnops.serving", "--config", str(path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "MLFLOW_TRACKING_URI": serving_world.tracking_uri},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/health", proc)
        url = f"{base}/serving-endpoints/churn/invocations"
        ok = 0
        with requests.Session() as s:
            for cid in serving_world.customers[:30]:
                r = s.post(url, json={"dataframe_records": [{"customer_id": cid}]}, headers=AUTH)
                ok += r.status_code == 200
            data["traffic_config"]["routes"] = [
                {"served_model_name": "challenger", "traffic_percentage": 100}
            ]
            path.write_text(yaml.safe_dump(data))
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 60
            while s.get(f"{base}/health").json()["routes"] != {"challenger": 100}:
                assert time.monotonic() < deadline, "SIGHUP did not reload"
                time.sleep(0.2)
            for cid in serving_world.customers[30:50]:
                r = s.post(url, json={"dataframe_records": [{"customer_id": cid}]}, headers=AUTH)
                assert r.json()["served_entity"] == "challenger"
                ok += r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    # uvicorn re-raises SIGTERM once it has shut down gracefully, so the status says "terminated".
    assert proc.returncode in (0, -signal.SIGTERM), err.decode()[-2000:]
    assert "test-token" not in err.decode()
    log = read_inference_log(tmp_path / "inference_log" / "churn").to_pandas()
    assert ok == 50 and len(log) == 50 and (log["status_code"] == 200).all()


def test_sigkill_loses_no_acknowledged_row(serving_world, tmp_path):
    # The journal holds each row before its answer leaves; the next start commits it.
    data = endpoint_dict(
        serving_world,
        tmp_path,
        auto_capture_config__flush_seconds=3600.0,  # nothing reaches the committer before the kill
        auto_capture_config__batch_rows=1000,
    )
    path = tmp_path / "endpoint.yaml"
    path.write_text(yaml.safe_dump(data))
    port = _free_port()
    cmd = [sys.executable, "-m", "churnops.serving", "--config", str(path), "--port", str(port)]
    env = {**os.environ, "MLFLOW_TRACKING_URI": serving_world.tracking_uri}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    acknowledged = set()
    try:
        _wait(f"{base}/health", proc)
        url = f"{base}/serving-endpoints/churn/invocations"
        with requests.Session() as s:
            for cid in serving_world.customers[:40]:
                r = s.post(url, json={"dataframe_records": [{"customer_id": cid}]}, headers=AUTH)
                if r.status_code == 200:
                    acknowledged.add(r.headers["x-churnops-request-id"])
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and len(acknowledged) == 40
    log_path = tmp_path / "inference_log" / "churn"
    assert not log_path.exists()  # the kill came before any Delta write
    # The next start's committer commits what the killed server journalled.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        _wait(f"{base}/health", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    log = read_inference_log(log_path).to_pandas()
    assert set(log["databricks_request_id"]) == acknowledged and len(log) == 40
