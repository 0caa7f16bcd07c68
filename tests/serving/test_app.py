"""The endpoint over real HTTP on loopback: formats, lookup, auth, bad input, metrics, reload,
shadow traffic, and an inference log that equals the acknowledged requests."""

from __future__ import annotations

import threading
import time

import mlflow
import pandas as pd
import pytest
import requests
import yaml

from churnops.data.features import FEATURE_COLUMNS
from churnops.serving.config import EndpointConfig
from churnops.serving.inference_log import read_inference_log
from churnops.serving.server import ServingServer
from tests.serving.conftest import AUTH, endpoint_dict

FORCE = "X-Churnops-Served-Model"


@pytest.fixture(scope="module")
def server(serving_world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("endpoint")
    cfg = EndpointConfig.model_validate(endpoint_dict(serving_world, tmp))
    with ServingServer(cfg) as srv:
        yield srv


@pytest.fixture(scope="module")
def http():
    with requests.Session() as s:
        yield s


def _url(srv, name="churn"):
    return f"{srv.url}/serving-endpoints/{name}/invocations"


def _features(world, customers):
    frame = world.features.set_index("customer_id").loc[customers, list(FEATURE_COLUMNS)]
    return frame.astype("float64").reset_index(drop=True)


@pytest.mark.parametrize("fmt", ["dataframe_records", "dataframe_split", "inputs", "instances"])
def test_formats_answer_with_predictions_and_version(server, http, serving_world, fmt):
    ids = serving_world.customers[10:14]
    body = {
        "dataframe_records": {"dataframe_records": [{"customer_id": c} for c in ids]},
        "dataframe_split": {
            "dataframe_split": {"columns": ["customer_id"], "data": [[c] for c in ids]}
        },
        "inputs": {"inputs": {"customer_id": ids}},
        "instances": {"instances": [{"customer_id": c} for c in ids]},
    }[fmt]
    r = http.post(_url(server), json=body, headers={**AUTH, FORCE: "champion"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["served_entity"] == r.headers["x-churnops-served-entity"] == "champion"
    assert out["model_version"] == r.headers["x-churnops-model-version"] == "2"
    expected = mlflow.pyfunc.load_model("models:/churn/2").predict(_features(serving_world, ids))
    assert [p["prediction"] for p in out["predictions"]] == expected["prediction"].tolist()
    assert [p["probability"] for p in out["predictions"]] == pytest.approx(
        expected["probability"].tolist()
    )


def test_array_model_answers_a_list(server, http, serving_world):
    ids = serving_world.customers[:3]
    r = http.post(
        _url(server),
        json={"dataframe_records": [{"customer_id": c} for c in ids]},
        headers={**AUTH, FORCE: "challenger"},
    )
    assert r.status_code == 200 and r.json()["model_version"] == "1"
    expected = mlflow.pyfunc.load_model("models:/churn/1").predict(_features(serving_world, ids))
    assert r.json()["predictions"] == expected.tolist()


def test_request_features_override_stored(server, http, serving_world):
    cid = serving_world.customers[5]
    stored = _features(serving_world, [cid]).iloc[0].to_dict()
    changed = {**stored, "days_since_last_order": 0.0, "total_orders": 50.0}
    r = http.post(
        _url(server),
        json={
            "dataframe_records": [
                {"customer_id": cid, "days_since_last_order": 0.0, "total_orders": 50.0}
            ]
        },
        headers={**AUTH, FORCE: "champion"},
    )
    expected = mlflow.pyfunc.load_model("models:/churn/2").predict(pd.DataFrame([changed]))
    assert r.json()["predictions"][0]["probability"] == pytest.approx(expected["probability"][0])


def test_unknown_customer_gets_a_row_error_not_a_crash(server, http, serving_world):
    known = serving_world.customers[0]
    r = http.post(
        _url(server),
        json={"dataframe_records": [{"customer_id": "no-such"}, {"customer_id": known}]},
        headers=AUTH,
    )
    assert r.status_code == 200
    first, second = r.json()["predictions"]
    assert "no-such" in first["error"] and "not in online feature table" in first["error"]
    assert "error" not in (second if isinstance(second, dict) else {})


def test_auth(server, http):
    body = {"dataframe_records": [{"customer_id": "00001"}]}
    assert http.post(_url(server), json=body).status_code == 401
    r = http.post(_url(server), json=body, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert (
        http.post(_url(server), json=body, headers={"Authorization": "test-token"}).status_code
        == 401
    )
    assert http.get(f"{server.url}/health").status_code == 200  # health stays open


@pytest.mark.parametrize(
    ("data", "headers", "status", "message"),
    [
        (b'{"dataframe_records": [', {}, 400, "malformed JSON"),
        (
            b'{"dataframe_records": [{"customer_id": "1", "total_orders": "many"}]}',
            {},
            400,
            "total_orders: expected a number or null, got 'many'",
        ),
        (b'{"dataframe_records": [{"total_orders": 1}]}', {}, 400, "no 'customer_id'"),
        (b'{"rows": []}', {}, 400, "unknown key(s) ['rows']"),
        (
            b'{"dataframe_records": [{"customer_id": "1"}]}',
            {FORCE: "nobody"},
            400,
            "X-Churnops-Served-Model='nobody'",
        ),
        (b"{" + b" " * (5 * 1024 * 1024) + b"}", {}, 413, "over the limit"),
        (
            b'{"dataframe_records": [{"customer_id": "1"}]}',
            {"X-Request-Id": "x" * 5000},
            400,
            "X-Request-Id: 5000 characters, expected at most 256",
        ),
    ],
)
def test_bad_input_is_4xx_naming_the_problem(server, http, data, headers, status, message):
    r = http.post(
        _url(server), data=data, headers={**AUTH, **headers, "Content-Type": "application/json"}
    )
    assert r.status_code == status, r.text
    assert message in r.json()["message"]
    assert len(r.headers["x-request-id"]) <= 256  # an overlong id is neither echoed nor kept


def test_too_many_rows_is_413(serving_world, tmp_path, http):
    cfg = EndpointConfig.model_validate(endpoint_dict(serving_world, tmp_path, limits__max_rows=5))
    with ServingServer(cfg) as srv:
        rows = [{"customer_id": c} for c in serving_world.customers[:6]]
        r = http.post(_url(srv), json={"dataframe_records": rows}, headers=AUTH)
    assert r.status_code == 413 and "more than the limit 5" in r.json()["message"]


def test_unknown_endpoint_is_404(server, http):
    r = http.post(_url(server, "other"), json={"inputs": [{}]}, headers=AUTH)
    assert r.status_code == 404 and "'other' not found" in r.json()["message"]


def test_sticky_routing_keeps_a_customer_on_one_model(server, http, serving_world):
    seen: dict[str, set] = {}
    for cid in serving_world.customers[100:160] * 2:
        r = http.post(
            _url(server), json={"dataframe_records": [{"customer_id": cid}]}, headers=AUTH
        )
        seen.setdefault(cid, set()).add(r.json()["served_entity"])
    assert all(len(v) == 1 for v in seen.values())
    assert set().union(*seen.values()) == {"champion", "challenger"}


def test_health_metrics_and_openapi(server, http, serving_world):
    http.post(
        _url(server),
        json={"dataframe_records": [{"customer_id": "x"}]},
        headers={**AUTH, FORCE: "challenger"},
    )
    health = http.get(f"{server.url}/health").json()
    assert health["status"] == "ok"
    assert {(e["name"], e["model_version"]) for e in health["served_entities"]} == {
        ("champion", "2"),
        ("challenger", "1"),
    }
    text = http.get(f"{server.url}/metrics").text
    assert (
        'churnops_serving_requests_total{endpoint="churn",model_version="1",served_model="challenger",status="200"}'
        in text
    )
    assert "churnops_serving_request_latency_seconds_bucket" in text
    assert (
        'churnops_serving_errors_total{endpoint="churn",kind="unknown_key",model_version="1",served_model="challenger"}'
        in text
    )
    spec = http.get(f"{server.url}/openapi.json").json()
    body = spec["paths"]["/serving-endpoints/{name}/invocations"]["post"]["requestBody"]
    props = body["content"]["application/json"]["schema"]["properties"]
    assert set(props) == {"dataframe_records", "dataframe_split", "inputs", "instances", "params"}
    # The rows' columns are the served models' features, as their signatures type them.
    record = props["dataframe_records"]["items"]["properties"]
    assert set(FEATURE_COLUMNS) <= set(record)


def _hammer(url, body, stop, results):
    with requests.Session() as s:
        while not stop.is_set():
            r = s.post(url, json=body, headers=AUTH)
            results.append((r.status_code, r.json().get("served_entity")))


def test_reload_switches_models_without_dropping_requests(serving_world, tmp_path, http):
    path = tmp_path / "endpoint.yaml"
    data = endpoint_dict(serving_world, tmp_path, routing__mode="random")
    path.write_text(yaml.safe_dump(data))
    with ServingServer(str(path)) as srv:
        stop, results = threading.Event(), []
        body = {"dataframe_records": [{"customer_id": serving_world.customers[7]}]}
        clients = [
            threading.Thread(target=_hammer, args=(_url(srv), body, stop, results))
            for _ in range(2)
        ]
        for c in clients:
            c.start()
        time.sleep(1.0)
        data["traffic_config"]["routes"] = [
            {"served_model_name": "challenger", "traffic_percentage": 100}
        ]
        path.write_text(yaml.safe_dump(data))
        r = http.post(f"{srv.url}/-/reload", headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json()["routes"] == {"challenger": 100}
        n_switch = len(results)
        time.sleep(1.0)
        # A broken config is refused; the one loaded keeps serving.
        path.write_text("name: churn\nserved_entities: []\n")
        r = http.post(f"{srv.url}/-/reload", headers=AUTH)
        assert r.status_code == 400 and "config refused" in r.json()["message"]
        assert "served_entities" in r.json()["message"]
        assert http.post(f"{srv.url}/-/reload").status_code == 401
        time.sleep(0.5)
        stop.set()
        for c in clients:
            c.join()
    assert results and all(status == 200 for status, _ in results)
    assert {name for _, name in results[: n_switch // 2]} == {"champion", "challenger"}
    assert {name for _, name in results[n_switch + 4 :]} == {"challenger"}


def test_shadow_scores_a_copy_that_only_the_log_sees(serving_world, tmp_path, http):
    cfg = EndpointConfig.model_validate(
        endpoint_dict(
            serving_world,
            tmp_path,
            traffic_config__routes=[{"served_model_name": "champion", "traffic_percentage": 100}],
            routing__shadow="challenger",
        )
    )
    ids = serving_world.customers[:20]
    with ServingServer(cfg) as srv:
        for cid in ids:
            r = http.post(
                _url(srv), json={"dataframe_records": [{"customer_id": cid}]}, headers=AUTH
            )
            assert r.json()["served_entity"] == "champion"
    log = read_inference_log(cfg.log_path()).to_pandas()
    assert (~log["is_shadow"]).sum() == 20 and set(log[~log["is_shadow"]]["model_version"]) == {"2"}
    shadow = log[log["is_shadow"]]
    assert len(shadow) == 20 and set(shadow["served_entity_name"]) == {"challenger"}


def test_log_equals_acknowledged_requests_after_graceful_stop(serving_world, tmp_path):
    cfg = EndpointConfig.model_validate(endpoint_dict(serving_world, tmp_path))
    answered: list[tuple[int, str]] = []
    srv = ServingServer(cfg).start()

    def client(offset):
        with requests.Session() as s:
            for cid in serving_world.customers[offset : offset + 40]:
                r = s.post(
                    _url(srv),
                    json={"dataframe_records": [{"customer_id": cid}]},
                    headers={**AUTH, "X-Request-Id": f"c-{cid}"},
                )
                assert r.headers["x-request-id"] == f"c-{cid}"  # the client's id, echoed
                answered.append((r.status_code, r.headers["x-churnops-request-id"]))
            bad = s.post(
                _url(srv), data=b"{oops", headers={**AUTH, "Content-Type": "application/json"}
            )
            answered.append((bad.status_code, bad.headers["x-churnops-request-id"]))

    threads = [threading.Thread(target=client, args=(i * 40,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    srv.stop()
    log = read_inference_log(cfg.log_path()).to_pandas()
    ok = {rid for status, rid in answered if status == 200}
    assert len(ok) == 120 and len(log) == len(answered) == 123
    assert set(log[log["status_code"] == 200]["databricks_request_id"]) == ok
    assert (log["status_code"] == 400).sum() == 3
    row = log[log["status_code"] == 200].iloc[0]
    assert row["client_request_id"].startswith("c-") and row["endpoint_name"] == "churn"
    assert "total_orders" in row["request"] and "predictions" in row["response"]
    assert "test-token" not in log.to_csv()  # tokens never reach the log
