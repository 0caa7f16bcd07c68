"""The endpoint over real HTTP, as a skeptical client and a security reviewer probe it: per-call
params, per-customer routing, NaN, content type, out-of-range numbers, metrics for refusals,
and reloads that honour every setting, refuse a broken online store and close the old one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests
import yaml

from churnops.data.features import FEATURE_COLUMNS
from churnops.serving.config import EndpointConfig
from churnops.serving.inference_log import read_inference_log
from churnops.serving.routing import TrafficRouter
from churnops.serving.server import ServingServer
from tests.serving.conftest import AUTH, endpoint_dict

JSON = {**AUTH, "Content-Type": "application/json"}


def _pyfunc_endpoint(world, tmp_path, **changes) -> dict:
    """champion: churnops' pyfunc (takes `threshold`); challenger: the stock sklearn flavour."""
    return endpoint_dict(
        world,
        tmp_path,
        served_entities=[
            {"name": "champion", "entity_name": "churn_pyfunc", "entity_version": "1"},
            {"name": "challenger", "entity_name": "churn", "entity_version": "1"},
        ],
        traffic_config__routes=[
            {"served_model_name": "champion", "traffic_percentage": 50},
            {"served_model_name": "challenger", "traffic_percentage": 50},
        ],
        **changes,
    )


@pytest.fixture(scope="module")
def server(serving_world, tmp_path_factory):
    cfg = EndpointConfig.model_validate(
        _pyfunc_endpoint(serving_world, tmp_path_factory.mktemp("endpoint"))
    )
    with ServingServer(cfg) as srv:
        yield srv


@pytest.fixture(scope="module")
def http():
    with requests.Session() as s:
        yield s


def _url(srv, name="churn"):
    return f"{srv.url}/serving-endpoints/{name}/invocations"


def _row(world, i=0) -> dict:
    row = world.features.iloc[i]
    values = {c: float(row[c]) for c in FEATURE_COLUMNS}
    return {
        "customer_id": row["customer_id"],
        **{c: None if v != v else v for c, v in values.items()},
    }


def _champion(http, srv, body):
    return http.post(_url(srv), json=body, headers={**JSON, "X-Churnops-Served-Model": "champion"})


def test_params_threshold_moves_the_decision(server, http, serving_world):
    row = _row(serving_world)
    base = _champion(http, server, {"dataframe_records": [row]}).json()["predictions"][0]
    assert 0 < base["probability"] < 1
    for threshold, decision in [(0.0, 1), (1.0, 0), (base["probability"], 1)]:
        r = _champion(
            http, server, {"dataframe_records": [row], "params": {"threshold": threshold}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["predictions"][0] == {
            "probability": base["probability"],
            "prediction": decision,
        }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"threshold": 5}, "threshold=5"),
        ({"threshold": "abc"}, "params.threshold='abc'"),
        ({"threshold": True}, "params.threshold=True"),
        ({"cutoff": 0.3}, "unknown name(s) ['cutoff']"),
    ],
)
def test_bad_params_are_400_naming_them(server, http, serving_world, params, message):
    r = _champion(http, server, {"dataframe_records": [_row(serving_world)], "params": params})
    assert r.status_code == 400 and message in r.json()["message"], r.text


def test_a_model_without_params_refuses_them(server, http, serving_world):
    r = http.post(
        _url(server),
        json={"dataframe_records": [_row(serving_world)], "params": {"threshold": 0.3}},
        headers={**JSON, "X-Churnops-Served-Model": "challenger"},
    )
    assert r.status_code == 400 and "takes no params" in r.json()["message"], r.text


def test_each_customer_meets_its_own_model(server, http, serving_world):
    customers = serving_world.customers[:40]
    router = TrafficRouter([("champion", 50), ("challenger", 50)])
    expected = [router.choose(c) for c in customers]
    assert len(set(expected)) == 2  # the request does span both models
    r = http.post(
        _url(server),
        json={"dataframe_records": [{"customer_id": c} for c in customers]},
        headers=JSON,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["served_entities"] == expected
    versions = {"champion": "1", "challenger": "1"}
    assert body["model_versions"] == [versions[e] for e in expected]
    # The stock sklearn flavour answers 0/1; churnops' pyfunc a record: each row got its own.
    for entity, pred in zip(expected, body["predictions"], strict=True):
        assert isinstance(pred, dict) == (entity == "champion")


def test_a_split_request_reads_the_store_once_and_answers_as_if_unsplit(serving_world, tmp_path):
    # Customers of one request routed to two models: one store read for all of them (not one
    # per model), and each row answers what its model answers when it has the row alone.
    import asyncio

    from churnops.serving.endpoint import Endpoint

    cfg = EndpointConfig.model_validate(_pyfunc_endpoint(serving_world, tmp_path))
    endpoint = Endpoint(cfg)
    store = endpoint.state.store
    real_read, reads = store.read, []

    def counted_read(table, keys, features=None):
        reads.append(len(keys))
        return real_read(table, keys, features)

    store.read = counted_read
    customers = serving_world.customers[:40]

    def invoke(ids, forced=None):
        body = json.dumps({"dataframe_records": [{"customer_id": c} for c in ids]}).encode()
        headers = {"authorization": AUTH["Authorization"], "content-type": "application/json"}
        if forced:
            headers["x-churnops-served-model"] = forced

        async def read_body(limit):
            return body

        status, content, _ = asyncio.run(endpoint.invoke("churn", headers, read_body))
        assert status == 200, content
        return json.loads(content)

    try:
        split = invoke(["no-such", *customers])
        assert reads == [41]  # every key in one read; the unknown one answered, not re-read
        assert "not in online feature table" in split["predictions"][0]["error"]
        owners = split["served_entities"][1:]
        assert set(owners) == {"champion", "challenger"}
        for name in ("champion", "challenger"):
            ids = [c for c, o in zip(customers, owners, strict=True) if o == name]
            alone = invoke(ids, forced=name)["predictions"]
            assert alone == [
                p for p, o in zip(split["predictions"][1:], owners, strict=True) if o == name
            ]
    finally:
        endpoint.close()
    log = read_inference_log(endpoint.log.path if endpoint.log else cfg.log_path()).to_pandas()
    first = log[log["num_rows"] > 0].iloc[:2]  # the split request: one row per model, one id
    assert set(first["served_entity_name"]) == {"champion", "challenger"}
    assert first["databricks_request_id"].nunique() == 1


def test_a_failing_inference_log_shows_in_health_and_keeps_serving(serving_world, tmp_path, http):
    cfg = EndpointConfig.model_validate(endpoint_dict(serving_world, tmp_path))
    with ServingServer(cfg) as srv:
        assert srv.serving.health()["inference_log_error"] is None
        cfg.log_path().write_text("not a folder")  # the committer cannot write the table here
        body = {"dataframe_records": [{"customer_id": serving_world.customers[0]}]}
        assert http.post(_url(srv), json=body, headers=JSON).status_code == 200
        with pytest.raises(RuntimeError, match="commit failed"):
            srv.serving.log.flush()
        health = http.get(f"{srv.url}/health").json()
        assert str(cfg.log_path()) in health["inference_log_error"]
        assert health["status"] == "degraded"
        assert http.post(_url(srv), json=body, headers=JSON).status_code == 200
        cfg.log_path().unlink()  # fixed: the committer catches up on its next try
        srv.serving.log.flush()
        assert http.get(f"{srv.url}/health").json()["inference_log_error"] is None
    assert len(read_inference_log(cfg.log_path())) == 2


def test_nan_is_accepted_as_a_missing_value(server, http, serving_world):
    # Python's json (so MLflow's input_example.json) writes a missing value as the bare NaN.
    row = {**_row(serving_world), FEATURE_COLUMNS[1]: float("nan")}
    body = json.dumps({"dataframe_split": {"columns": list(row), "data": [list(row.values())]}})
    assert "NaN" in body
    r = http.post(
        _url(server), data=body.encode(), headers={**JSON, "X-Churnops-Served-Model": "champion"}
    )
    assert r.status_code == 200, r.text


def test_content_type_must_be_json(server, http, serving_world):
    body = b'{"dataframe_records": [{"customer_id": "x"}]}'
    for headers in ({**AUTH}, {**AUTH, "Content-Type": "text/plain"}):
        r = http.post(_url(server), data=body, headers=headers)
        assert r.status_code == 415 and "expected application/json" in r.json()["message"]


def test_numbers_the_model_cannot_hold_are_400(server, http, serving_world):
    row = {**_row(serving_world), FEATURE_COLUMNS[0]: 1e300}
    r = _champion(http, server, {"dataframe_records": [row]})
    assert r.status_code == 400, r.text
    assert f"row 0.{FEATURE_COLUMNS[0]}=1e+300: out of range" in r.json()["message"]


def _count(metrics: str, status: str) -> float:
    prefix = (
        'churnops_serving_requests_total{endpoint="churn",model_version="",served_model="",'
        f'status="{status}"}} '
    )
    lines = [ln for ln in metrics.splitlines() if ln.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


def test_refusals_are_counted_and_ids_echoed(server, http):
    before = http.get(f"{server.url}/metrics").text
    assert http.post(_url(server), json={"inputs": []}).status_code == 401
    r = http.post(
        _url(server, "nope"), json={"inputs": []}, headers={**JSON, "X-Request-Id": "abc"}
    )
    assert r.status_code == 404 and r.headers["x-request-id"] == "abc"
    after = http.get(f"{server.url}/metrics").text
    for status in ("401", "404"):
        assert _count(after, status) == _count(before, status) + 1


def _online_fds(path: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    return sum(1 for fd in fd_dir.iterdir() if _points_to(fd, path))


def _points_to(fd: Path, path: Path) -> bool:
    try:
        return os.readlink(fd).startswith(str(path))
    except OSError:
        return False


def test_reload_honours_settings_refuses_bad_store_and_closes_old(serving_world, tmp_path, http):
    path = tmp_path / "endpoint.yaml"
    data = _pyfunc_endpoint(serving_world, tmp_path)
    path.write_text(yaml.safe_dump(data))
    with ServingServer(str(path)) as srv:
        body = {"dataframe_records": [{"customer_id": serving_world.customers[3]}]}
        assert http.post(_url(srv), json=body, headers=JSON).status_code == 200
        # A wrong online-store path is refused, and nothing is created there.
        bad = tmp_path / "nowhere" / "features.db"
        online = {"kind": "sqlite", "path": str(bad)}
        lookup = {**data["feature_lookup"], "online": online}
        path.write_text(yaml.safe_dump({**data, "feature_lookup": lookup}))
        r = http.post(f"{srv.url}/-/reload", headers=AUTH)
        assert r.status_code == 400 and str(bad) in r.json()["message"], r.text
        assert not bad.exists()
        # A port change needs a restart: refused, naming it.
        path.write_text(yaml.safe_dump({**data, "server": {"port": 9999}}))
        r = http.post(f"{srv.url}/-/reload", headers=AUTH)
        assert r.status_code == 400 and "server=" in r.json()["message"], r.text
        assert http.post(_url(srv), json=body, headers=JSON).status_code == 200
        # Reloads close the old state's online store once its requests are done: the open
        # files stay flat (SQLite may keep one closed connection's descriptor for reuse).
        path.write_text(yaml.safe_dump(data))
        old = srv.serving.state
        counts = []
        for _ in range(6):
            assert http.post(f"{srv.url}/-/reload", headers=AUTH).status_code == 200
            assert http.post(_url(srv), json=body, headers=JSON).status_code == 200
            counts.append(_online_fds(serving_world.online_path))
        assert old.closed and counts[-1] == counts[1], counts
        # auto_capture_config.enabled: false stops the log on reload.
        srv.serving.log.flush()
        logged = len(read_inference_log(srv.serving.state.cfg.log_path()))
        capture = {**data["auto_capture_config"], "enabled": False}
        path.write_text(yaml.safe_dump({**data, "auto_capture_config": capture}))
        assert http.post(f"{srv.url}/-/reload", headers=AUTH).status_code == 200
        assert http.post(_url(srv), json=body, headers=JSON).status_code == 200
        assert srv.serving.log is None
        assert len(read_inference_log(srv.serving.state.cfg.log_path())) == logged


def test_number_like_text_reads_as_training_read_it(server, http, serving_world):
    # A customer table's blank (" ") is missing and "1,889.5" a number, at training and here.
    col = FEATURE_COLUMNS[0]
    base = _row(serving_world)

    def score(value):
        r = _champion(http, server, {"dataframe_records": [{**base, col: value}]})
        assert r.status_code == 200, r.text
        return r.json()["predictions"][0]["probability"]

    assert score(" ") == score(None)
    assert score("1,889.5") == score(1889.5)
    r = _champion(http, server, {"dataframe_records": [{**base, col: "many"}]})
    assert r.status_code == 400 and f"row 0.{col}: expected a number or null" in r.text
