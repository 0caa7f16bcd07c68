"""`churnops serve export --target databricks`: the YAML as the SDK's EndpointCoreConfigInput
and AiGatewayConfig, round-tripped through the SDK's own dataclasses, and the calls the real
WorkspaceClient makes to create or update the endpoint (against a local server that records
them: no workspace is involved)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import yaml

from churnops.config import CONFIG_DIR
from churnops.serving.config import load_endpoint_config
from churnops.serving.export import apply_to_workspace, to_databricks

serving = pytest.importorskip("databricks.sdk.service.serving")


def _cfg(tmp_path, **extra):
    data = yaml.safe_load((CONFIG_DIR / "serving" / "churn.yaml").read_text())
    data["served_entities"][0] = {
        "name": "champion",
        "entity_name": "main.churnops.churn",
        "entity_version": "3",
    }
    data["auto_capture_config"].update(catalog_name="main", schema_name="churnops")
    data.update(extra)
    path = tmp_path / "endpoint.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_endpoint_config(path)


def test_round_trip_through_the_sdk(tmp_path):
    endpoint = to_databricks(_cfg(tmp_path), resolve_alias=lambda name, alias: "4")
    core = endpoint.config
    assert isinstance(core, serving.EndpointCoreConfigInput)
    wire = json.loads(json.dumps(core.as_dict()))  # what the SDK would send
    back = serving.EndpointCoreConfigInput.from_dict(wire)
    assert back.as_dict() == core.as_dict()  # from_dict turns an absent list into []
    assert [(e.name, e.entity_name, e.entity_version) for e in back.served_entities] == [
        ("champion", "main.churnops.churn", "3"),
        ("challenger", "churnops_churn", "4"),
    ]
    assert [(r.served_model_name, r.traffic_percentage) for r in back.traffic_config.routes] == [
        ("champion", 80),
        ("challenger", 20),
    ]
    assert back.served_entities[0].workload_size == "Small"
    # The inference log is an AI Gateway inference table, not the legacy auto_capture_config.
    assert back.auto_capture_config is None
    gateway = serving.AiGatewayConfig.from_dict(endpoint.as_dict()["ai_gateway"])
    table = gateway.inference_table_config
    assert (table.catalog_name, table.schema_name, table.table_name_prefix, table.enabled) == (
        "main",
        "churnops",
        "churn",
        True,
    )


def test_no_inference_table_without_a_catalog_or_when_disabled(tmp_path):
    cfg = _cfg(tmp_path)
    off = cfg.model_copy(
        update={
            "auto_capture_config": cfg.auto_capture_config.model_copy(update={"enabled": False})
        }
    )
    local = cfg.model_copy(
        update={
            "auto_capture_config": cfg.auto_capture_config.model_copy(update={"catalog_name": None})
        }
    )
    for c in (off, local):
        endpoint = to_databricks(c, resolve_alias=lambda name, alias: "4")
        assert endpoint.ai_gateway is None and "ai_gateway" not in endpoint.as_dict()


def test_alias_without_resolver_is_an_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="'challenger': alias 'challenger' needs resolving"):
        to_databricks(_cfg(tmp_path))


def test_cli_prints_the_sdk_json(tmp_path, capsys):
    from churnops.cli import serve as serve_cli

    path = tmp_path / "endpoint.yaml"
    data = yaml.safe_load((CONFIG_DIR / "serving" / "churn.yaml").read_text())
    for e in data["served_entities"]:
        e.pop("alias")
        e["entity_version"] = "7"
    path.write_text(yaml.safe_dump(data))
    import argparse

    parser = argparse.ArgumentParser()
    serve_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "export", "--target", "databricks", "--config", str(path)])
    assert args.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "churn"
    config = serving.EndpointCoreConfigInput.from_dict(out["config"])
    assert {e.entity_version for e in config.served_entities} == {"7"}


class _Workspace(BaseHTTPRequestHandler):
    """Serving-endpoint calls of a workspace where `exists` says whether `churn` exists."""

    calls: ClassVar[list] = []
    exists: ClassVar[bool] = False

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.calls.append((self.command, self.path, body))
        return body

    def do_GET(self):
        self._record()
        if not self.exists:
            self._answer(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no endpoint"})
            return
        ready = {"ready": "READY", "config_update": "NOT_UPDATING"}
        self._answer(200, {"name": "churn", "state": ready})

    def do_POST(self):
        self._record()
        type(self).exists = True
        self._answer(200, {"name": "churn", "state": {"config_update": "IN_PROGRESS"}})

    def do_PUT(self):
        body = self._record()
        self._answer(200, {"name": "churn", **(body or {})})

    def log_message(self, *args):
        pass


@pytest.fixture
def workspace(monkeypatch):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    for var in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    _Workspace.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Workspace)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{server.server_address[1]}"
    yield WorkspaceClient(config=Config(host=host, token="t0k", retry_timeout_seconds=5))
    server.shutdown()


def _api(calls):
    return [(m, p, b) for m, p, b in calls if p.startswith("/api/2.0/serving-endpoints")]


def test_apply_creates_a_missing_endpoint_with_its_inference_table(tmp_path, workspace):
    _Workspace.exists = False
    endpoint = to_databricks(_cfg(tmp_path), resolve_alias=lambda name, alias: "4")
    ready = apply_to_workspace(endpoint, workspace)
    assert ready.name == "churn"
    calls = _api(_Workspace.calls)
    assert [(m, p) for m, p, _ in calls[:2]] == [
        ("GET", "/api/2.0/serving-endpoints/churn"),
        ("POST", "/api/2.0/serving-endpoints"),
    ]
    body = calls[1][2]
    assert body["ai_gateway"]["inference_table_config"]["catalog_name"] == "main"
    assert "auto_capture_config" not in body["config"]
    assert [e["entity_version"] for e in body["config"]["served_entities"]] == ["3", "4"]


def test_apply_updates_an_existing_endpoint_then_its_gateway(tmp_path, workspace):
    _Workspace.exists = True
    endpoint = to_databricks(_cfg(tmp_path), resolve_alias=lambda name, alias: "4")
    apply_to_workspace(endpoint, workspace)
    writes = [(m, p, b) for m, p, b in _api(_Workspace.calls) if m != "GET"]
    assert [(m, p) for m, p, _ in writes] == [
        ("PUT", "/api/2.0/serving-endpoints/churn/config"),
        ("PUT", "/api/2.0/serving-endpoints/churn/ai-gateway"),
    ]
    assert writes[0][2]["traffic_config"]["routes"][0]["traffic_percentage"] == 80
    assert writes[1][2]["inference_table_config"]["table_name_prefix"] == "churn"
