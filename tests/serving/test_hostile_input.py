"""Input an attacker would send: deeply nested JSON, lone UTF-16 surrogates, booleans for
numbers. Each is a 400 that names the problem, counted in /metrics and written to the
inference log like any other refusal; none is a 500."""

from __future__ import annotations

import pytest
import requests

from churnops.data.features import FEATURE_COLUMNS
from churnops.serving.config import EndpointConfig
from churnops.serving.inference_log import read_inference_log
from churnops.serving.server import ServingServer
from tests.serving.conftest import AUTH, endpoint_dict

JSON = {**AUTH, "Content-Type": "application/json", "X-Churnops-Served-Model": "champion"}
LONE = '"\\ud800"'  # the JSON text of a lone high surrogate


def _deep(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


HOSTILE = {
    # Deeper than any parser's stack: the standard parser (NaN fallback) raised RecursionError.
    "deep-body": _deep(100_000),
    "deep-params": '{"params": {"threshold": ' + _deep(5_000) + '}, "inputs": [{"a": 1}]}',
    "deep-row": '{"dataframe_records": [{"customer_id": ' + _deep(3_000) + "}]}",
    "deep-under-the-limit": '{"dataframe_records": [{"customer_id": ' + _deep(1_000) + "}]}",
    # A lone surrogate is not a character: orjson cannot write it into the answer or the log.
    "surrogate-records": '{"dataframe_records": [{"customer_id": ' + LONE + "}]}",
    "surrogate-split": '{"dataframe_split": {"columns": ["customer_id"], "data": [['
    + LONE
    + "]]}}",
    "surrogate-inputs": '{"inputs": {"customer_id": [' + LONE + "]}}",
    "surrogate-key": '{"instances": [{' + LONE + ': "00001"}]}',
    "surrogate-param": '{"params": {"threshold": ' + LONE + '}, "inputs": [{"customer_id": "1"}]}',
}


@pytest.fixture(scope="module")
def server(serving_world, tmp_path_factory):
    cfg = EndpointConfig.model_validate(
        endpoint_dict(serving_world, tmp_path_factory.mktemp("hostile"))
    )
    with ServingServer(cfg) as srv:
        yield srv


def _errors(metrics: str, kind: str) -> float:
    prefix = (
        'churnops_serving_errors_total{endpoint="churn",kind="' + kind + '",model_version="",'
        'served_model=""} '
    )
    found = [ln for ln in metrics.splitlines() if ln.startswith(prefix)]
    return float(found[0].removeprefix(prefix)) if found else 0.0


def test_hostile_bodies_are_400s_counted_and_logged(server):
    url = f"{server.url}/serving-endpoints/churn/invocations"
    with requests.Session() as http:
        before = http.get(f"{server.url}/metrics").text
        answers = {}
        for name, body in HOSTILE.items():
            r = http.post(url, data=body.encode(), headers={**JSON, "X-Request-Id": name})
            answers[name] = (r.status_code, r.json()["message"])
        after = http.get(f"{server.url}/metrics").text
    assert {n: s for n, (s, _) in answers.items()} == dict.fromkeys(HOSTILE, 400), answers
    assert "nested deeper than" in answers["deep-body"][1]
    assert "surrogate" in answers["surrogate-records"][1]
    assert _errors(after, "bad_request") == _errors(before, "bad_request") + len(HOSTILE)
    assert _errors(after, "server") == _errors(before, "server")
    server.serving.log.flush()
    log = read_inference_log(server.serving.state.cfg.log_path()).to_pylist()
    logged = {row["client_request_id"]: row["status_code"] for row in log}
    assert {n: logged.get(n) for n in HOSTILE} == dict.fromkeys(HOSTILE, 400)


def test_a_boolean_is_not_a_number(server, serving_world):
    # The stock MLflow model refuses a boolean for a double column; so does the server.
    row = {
        "customer_id": serving_world.customers[0],
        **{c: 1.0 for c in FEATURE_COLUMNS},
        FEATURE_COLUMNS[0]: True,
    }
    url = f"{server.url}/serving-endpoints/churn/invocations"
    r = requests.post(url, json={"dataframe_records": [row]}, headers=JSON, timeout=30)
    assert r.status_code == 400, r.text
    assert f"row 0.{FEATURE_COLUMNS[0]}" in r.json()["message"]
    assert "True" in r.json()["message"]


def test_a_body_that_stops_midway_is_timed_out_and_its_connection_closed(serving_world, tmp_path):
    import socket

    data = endpoint_dict(serving_world, tmp_path, limits={"body_timeout_seconds": 0.5})
    head = (
        "POST /serving-endpoints/churn/invocations HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer test-token\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with ServingServer(EndpointConfig.model_validate(data)) as srv:
        stalled = []
        for _ in range(20):  # a slow-loris: headers and a piece of the body, then nothing
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
            sock.sendall(head.encode() + b'{"inputs": [')
            stalled.append(sock)
        for sock in stalled:
            answer = b""
            while chunk := sock.recv(65536):  # until the server closes the connection
                answer += chunk
            sock.close()
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert b"body_timeout_seconds" in answer
