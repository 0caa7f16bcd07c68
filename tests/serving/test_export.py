"""`churnops serve export --target databricks`: the YAML as the SDK's EndpointCoreConfigInput,
round-tripped through the SDK's own dataclasses (offline: nothing is sent to a workspace)."""

from __future__ import annotations

import json

import pytest
import yaml

from churnops.config import CONFIG_DIR
from churnops.serving.config import load_endpoint_config
from churnops.serving.export import to_databricks

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
    core = to_databricks(_cfg(tmp_path), resolve_alias=lambda name, alias: "4")
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
    assert back.auto_capture_config.catalog_name == "main"
    assert back.auto_capture_config.table_name_prefix == "churn"
    assert back.served_entities[0].workload_size == "Small"


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
    assert serving.EndpointCoreConfigInput.from_dict(out).name == "churn"
    assert {e["entity_version"] for e in out["served_entities"]} == {"7"}
