"""The load generator counts every request once: answered, refused or timed out, open and closed
loop, against the real server and against one that never answers."""

from __future__ import annotations

import socket

import orjson
import pytest

from churnops.serving.config import EndpointConfig
from churnops.serving.loadgen import build_request, run_load
from churnops.serving.server import ServingServer
from tests.serving.conftest import AUTH, endpoint_dict

PATH = "/serving-endpoints/churn/invocations"


@pytest.fixture(scope="module")
def server(serving_world, tmp_path_factory):
    cfg = EndpointConfig.model_validate(
        endpoint_dict(serving_world, tmp_path_factory.mktemp("loadgen"))
    )
    with ServingServer(cfg) as srv:
        yield srv


def _requests(srv, world, n=50, headers=AUTH):
    bodies = [
        orjson.dumps({"dataframe_records": [{"customer_id": c}]}) for c in world.customers[:n]
    ]
    return [build_request("127.0.0.1", srv.port, PATH, b, headers) for b in bodies]


def test_open_loop_sends_every_request_and_counts_from_its_due_time(server, serving_world):
    res = run_load("127.0.0.1", server.port, _requests(server, serving_world), 120, rate=400.0)
    assert res.statuses == {200: 120} and res.errors == 0
    assert sum(res.served.values()) == 120 and set(res.served) == {"champion", "challenger"}
    assert len(res.late_ms) == len(res.latencies_ms) == 120
    assert res.seconds >= 119 / 400  # the last request was not due before then
    assert res.client_cpu_share > 0


def test_closed_loop_counts_refusals_as_errors(server, serving_world):
    ok = _requests(server, serving_world, 10)
    refused = _requests(server, serving_world, 10, headers={})  # no token: 401
    res = run_load("127.0.0.1", server.port, ok + refused, 40, concurrency=3)
    assert res.statuses == {200: 20, 401: 20} and res.errors == 20
    assert len(res.latencies_ms) == 20 and res.summary()["requests"] == 40


def test_silent_server_times_out_and_nothing_listening_fails():
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        req = [build_request("127.0.0.1", port, PATH, b"{}", {})]
        res = run_load("127.0.0.1", port, req, 3, concurrency=2, timeout=0.2)
    assert res.failures == 3 and res.errors == 3 and not res.latencies_ms
    res = run_load("127.0.0.1", port, req, 4, rate=100.0)  # closed now: connections refused
    assert res.failures == 4 and res.sent == 4
