"""The endpoint when its inference log fails: a request it cannot journal is a JSON 503 (never
an acknowledged row lost), the server recovers by itself, /health and /metrics say what fails,
and a log path that cannot be used stops startup in one line."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from churnops.config import ConfigError
from churnops.serving.app import create_app
from churnops.serving.config import EndpointConfig
from churnops.serving.inference_log import journal_folder, read_inference_log
from churnops.serving.server import ServingServer
from tests.serving.conftest import AUTH, endpoint_dict


@pytest.fixture(scope="module")
def http():
    with requests.Session() as s:
        yield s


def _config(world, tmp_path: Path, **changes) -> EndpointConfig:
    return EndpointConfig.model_validate(endpoint_dict(world, tmp_path, **changes))


def _post(http, srv, customer: str) -> requests.Response:
    url = f"{srv.url}/serving-endpoints/churn/invocations"
    return http.post(url, json={"dataframe_records": [{"customer_id": customer}]}, headers=AUTH)


def _metric(http, srv, name: str, **labels: str) -> float | None:
    text = http.get(f"{srv.url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    return None


def _wait_for_status(http, srv, status: str) -> dict:
    deadline = time.monotonic() + 60
    while (health := http.get(f"{srv.url}/health").json())["status"] != status:
        assert time.monotonic() < deadline, f"/health stayed {health}"
        time.sleep(0.05)
    return health


def test_a_request_the_journal_refuses_is_a_json_503_and_the_server_recovers(
    serving_world, tmp_path, http, immutable
):
    cfg = _config(serving_world, tmp_path, auto_capture_config__flush_seconds=3600.0)
    customers = serving_world.customers
    with ServingServer(cfg) as srv:
        first = _post(http, srv, customers[0])
        srv.serving.log.flush()  # handed over: the next request needs a new journal segment
        with immutable(journal_folder(cfg.log_path())):
            refused = _post(http, srv, customers[1])
            assert refused.status_code == 503, refused.text
            assert refused.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
            assert "cannot write the journal" in refused.json()["message"]
            assert "not acknowledged" in refused.json()["message"]
            health = http.get(f"{srv.url}/health").json()
            assert health["status"] == "degraded"
            assert "Operation not permitted" in health["inference_log_error"]
            requests_503 = _metric(http, srv, "churnops_serving_requests_total", status="503")
            assert requests_503 == 1
            assert _metric(http, srv, "churnops_inference_log_journal_failures_total") == 1
        second = _post(http, srv, customers[2])  # writable again: no restart needed
        assert second.status_code == 200 and first.status_code == 200
        assert http.get(f"{srv.url}/health").json()["status"] == "ok"
    logged = read_inference_log(cfg.log_path()).column("databricks_request_id").to_pylist()
    acknowledged = [r.headers["x-churnops-request-id"] for r in (first, second)]
    assert sorted(logged) == sorted(acknowledged)


def test_failed_commits_show_in_health_metrics_and_the_log(
    serving_world, tmp_path, http, immutable, caplog
):
    cfg = _config(serving_world, tmp_path, auto_capture_config__flush_seconds=0.05)
    customers = serving_world.customers
    with ServingServer(cfg) as srv:
        assert _post(http, srv, customers[0]).status_code == 200
        srv.serving.log.flush()  # the table exists
        logger = "churnops.serving.inference_log"
        with immutable(cfg.log_path()), caplog.at_level(logging.WARNING, logger):
            assert _post(http, srv, customers[1]).status_code == 200  # journalled: acknowledged
            health = _wait_for_status(http, srv, "degraded")
            assert "commit failed: cannot write the table folder" in health["inference_log_error"]
            assert health["inference_log_pending_rows"] == 1
            assert _metric(http, srv, "churnops_inference_log_commit_failures_total") >= 1
            assert _metric(http, srv, "churnops_inference_log_pending_rows") == 1
            assert _metric(http, srv, "churnops_inference_log_pending_segments") == 1
        said = [r.getMessage() for r in caplog.records if r.name == logger]
        assert said and all(m.startswith("churnops serve: inference log") for m in said)
        _wait_for_status(http, srv, "ok")  # the committer retries by itself
        assert _metric(http, srv, "churnops_inference_log_pending_rows") == 0
    assert len(read_inference_log(cfg.log_path())) == 2


def test_a_second_server_on_a_log_path_is_refused_and_the_first_serves_on(
    serving_world, tmp_path, http
):
    cfg = _config(serving_world, tmp_path)
    with ServingServer(cfg) as srv:
        with pytest.raises(ConfigError, match=r"auto_capture_config\.path=.*in use by another"):
            create_app(cfg)
        assert _post(http, srv, serving_world.customers[0]).status_code == 200
    assert len(read_inference_log(cfg.log_path())) == 1


@pytest.mark.parametrize("blocked", ["under a file", "unwritable folder"])
def test_a_log_path_that_cannot_be_used_stops_startup_in_one_line(
    serving_world, tmp_path, immutable, blocked
):
    parent = tmp_path / "parent"
    if blocked == "under a file":
        parent.write_text("a file, not a folder")
        refusing = contextlib.nullcontext()
    else:
        parent.mkdir()
        refusing = immutable(parent)
    cfg = _config(serving_world, tmp_path, auto_capture_config__path=str(parent / "logs"))
    with refusing, pytest.raises(ConfigError) as err:
        create_app(cfg)
    message = str(err.value)
    assert message.startswith(f"auto_capture_config.path={str(parent / 'logs')!r}: ")
    assert "Error: " in message and "\n" not in message  # the OS's reason, in one line


def test_the_committer_does_not_get_the_bearer_tokens(serving_world, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_SERVING_TOKENS", "env-token")
    cfg = _config(serving_world, tmp_path, auth__tokens_env="MY_SERVING_TOKENS")
    with ServingServer(cfg) as srv:
        committer = srv.serving.log._committer.pid
        environ = Path(f"/proc/{committer}/environ").read_bytes().split(b"\0")
    assert not [v for v in environ if v.startswith(b"MY_SERVING_TOKENS=")]
    assert any(v.startswith(b"MLFLOW_TRACKING_URI=") for v in environ)  # the rest it gets
