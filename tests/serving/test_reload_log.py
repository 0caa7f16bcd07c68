"""A reload that switches the inference log off (or on) while requests run: the requests on the
old state finish into the old log, new ones go to the new state; none answers 500."""

from __future__ import annotations

import asyncio
import threading

import orjson
import pytest
import requests
import yaml

from churnops.serving.config import load_endpoint_config
from churnops.serving.endpoint import Endpoint
from churnops.serving.inference_log import read_inference_log
from churnops.serving.server import ServingServer
from tests.serving.conftest import AUTH, endpoint_dict

HEADERS = {"authorization": AUTH["Authorization"], "content-type": "application/json"}


def _write(path, data, log_on: bool) -> None:
    capture = {**data["auto_capture_config"], "enabled": log_on}
    path.write_text(yaml.safe_dump({**data, "auto_capture_config": capture}))


def test_a_request_in_flight_finishes_into_the_log_a_reload_switched_off(serving_world, tmp_path):
    data = endpoint_dict(serving_world, tmp_path)
    path = tmp_path / "endpoint.yaml"
    _write(path, data, log_on=True)
    body = orjson.dumps({"dataframe_records": [{"customer_id": serving_world.customers[3]}]})
    endpoint = Endpoint(load_endpoint_config(path), path)

    async def run() -> dict[str, str]:
        started, go = asyncio.Event(), asyncio.Event()

        async def read_body(limit: int) -> bytes:
            started.set()
            await go.wait()  # the request has its state; the reload happens now
            return body

        request = asyncio.create_task(endpoint.invoke("churn", HEADERS, read_body))
        await asyncio.wait_for(started.wait(), 60)  # (an answer before the body: a bug)
        _write(path, data, log_on=False)
        await asyncio.to_thread(endpoint.reload)
        assert endpoint.log is None  # new requests: no log
        go.set()
        status, content, headers = await request
        assert status == 200, content
        return dict(headers)

    try:
        headers = asyncio.run(run())
    finally:
        endpoint.close()
    logged = read_inference_log(endpoint.state.cfg.log_path())
    assert headers["x-churnops-request-id"] in logged["databricks_request_id"].to_pylist()


@pytest.mark.slow
def test_toggling_the_log_under_concurrent_requests_answers_no_error(serving_world, tmp_path):
    data = endpoint_dict(serving_world, tmp_path)
    path = tmp_path / "endpoint.yaml"
    _write(path, data, log_on=True)
    customers = serving_world.customers[:50]
    statuses: list[int] = []
    done = threading.Event()

    def client(url: str, seed: int) -> None:
        with requests.Session() as http:
            for i in range(250):  # bounded: stops early once the toggling is over
                if done.is_set() and i > 10:
                    return
                row = {"customer_id": customers[(seed * 7 + i) % len(customers)]}
                r = http.post(url, json={"dataframe_records": [row]}, headers=AUTH, timeout=60)
                statuses.append(r.status_code)

    with ServingServer(str(path)) as srv:
        url = f"{srv.url}/serving-endpoints/churn/invocations"
        clients = [threading.Thread(target=client, args=(url, s)) for s in range(4)]
        for t in clients:
            t.start()
        with requests.Session() as http:
            for toggle in range(6):  # off, on, off, ...
                _write(path, data, log_on=toggle % 2 == 1)
                r = http.post(f"{srv.url}/-/reload", headers=AUTH, timeout=60)
                assert r.status_code == 200, r.text
        done.set()
        for t in clients:
            t.join()
    errors = [s for s in statuses if s != 200]
    assert statuses and errors == [], f"{len(errors)} of {len(statuses)} failed: {set(errors)}"
