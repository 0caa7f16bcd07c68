"""EndpointConfig: the shipped YAMLs load; every mistake is refused with a message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from churnops.config import CONFIG_DIR, ConfigError
from churnops.serving.config import load_endpoint_config

BASE = {
    "name": "churn",
    "served_entities": [
        {"name": "a", "entity_name": "churn", "entity_version": "1"},
        {"name": "b", "entity_name": "churn", "alias": "challenger"},
    ],
    "traffic_config": {
        "routes": [
            {"served_model_name": "a", "traffic_percentage": 80},
            {"served_model_name": "b", "traffic_percentage": 20},
        ]
    },
}


def _load(tmp_path: Path, data: dict, overrides: list[str] = ()):
    path = tmp_path / "endpoint.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_endpoint_config(path, list(overrides))


@pytest.mark.parametrize("path", sorted((CONFIG_DIR / "serving").glob("*.yaml")), ids=str)
def test_shipped_configs_load(path):
    cfg = load_endpoint_config(path)
    assert sum(r.traffic_percentage for r in cfg.traffic_config.routes) == 100


def test_model_uri_and_log_path(tmp_path):
    cfg = _load(tmp_path, BASE, ["auto_capture_config.path=/x/log"])
    assert [e.model_uri for e in cfg.served_entities] == [
        "models:/churn/1",
        "models:/churn@challenger",
    ]
    assert cfg.log_path() == Path("/x/log/churn")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("traffic_config.routes=[{served_model_name: a, traffic_percentage: 70}]", "sums to 70"),
        (
            "traffic_config.routes=[{served_model_name: zz, traffic_percentage: 100}]",
            "['zz'] not in served_entities",
        ),
        ("routing.shadow=ghost", "routing.shadow='ghost'"),
        ("routing.mode=roundrobin", "routing.mode='roundrobin'"),
        ("servd_entities=[]", "unknown key 'servd_entities'"),
        ("name=bad name!", "name='bad name!'"),
        ("feature_lookup.on_missing=ignore", "feature_lookup.on_missing='ignore'"),
        ("feature_lookup.online.kind=databricks", "online.kind='databricks': expected one of"),
    ],
)
def test_bad_config_names_the_problem(tmp_path, override, message):
    with pytest.raises(ConfigError, match=None) as err:
        _load(tmp_path, BASE, [override])
    assert message in str(err.value)


def test_version_and_alias_are_exclusive(tmp_path):
    data = {
        **BASE,
        "served_entities": [
            {"name": "a", "entity_name": "m", "entity_version": "1", "alias": "champion"},
            BASE["served_entities"][1],
        ],
    }
    with pytest.raises(ConfigError, match="exactly one of entity_version"):
        _load(tmp_path, data)


def test_tokens_are_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNOPS_SERVING_TOKENS", "from-env-1, from-env-2")
    cfg = _load(tmp_path, BASE, ["auth.enabled=true", "auth.tokens=[s3cret]"])
    assert "s3cret" not in repr(cfg) and "s3cret" not in str(cfg.model_dump())
    assert cfg.auth.all_tokens() == ["s3cret", "from-env-1", "from-env-2"]


@pytest.mark.parametrize("path", sorted((CONFIG_DIR / "serving").glob("*.yaml")), ids=str)
def test_shipped_configs_serve_what_training_registers(path):
    from churnops.data.feature_store.config import DEFAULT_CONFIG, FeatureStoreConfig
    from churnops.trainers.registry.config import RegistryConfig
    from churnops.trainers.tracking import default_tracking_uri

    cfg = load_endpoint_config(path)
    registry = RegistryConfig()
    assert {e.entity_name for e in cfg.served_entities} == {registry.model_name}
    # The same SQLite file `churnops train` writes, read from the repository root.
    assert cfg.tracking_uri is not None
    served = Path(cfg.tracking_uri.removeprefix("sqlite:///")).resolve()
    assert f"sqlite:///{served}" == default_tracking_uri(registry.workdir)
    if cfg.feature_lookup.online.kind == "sqlite":
        store = load_endpoint_config(path).feature_lookup.online
        from churnops.config import load_config

        assert store == load_config(FeatureStoreConfig, DEFAULT_CONFIG).online


def _with_secret(**changes) -> dict:
    data = {**BASE, "auth": {"enabled": True, "tokens": ["s3cret-token-123"]}}
    for key, value in changes.items():
        section, field = key.split("__")
        data[section] = {**data[section], field: value}
    return data


@pytest.mark.parametrize(
    ("data", "where"),
    [
        # A check across fields quotes the whole config it refused, tokens included.
        (_with_secret(traffic_config__routes=[BASE["traffic_config"]["routes"][0]]), "sums to 80"),
        (_with_secret(auth__tokens="s3cret-token-123"), "auth.tokens"),  # a string, not a list
        (_with_secret(auth__unknown=1), "auth.unknown"),
    ],
)
def test_config_errors_never_quote_a_token(tmp_path, monkeypatch, data, where):
    monkeypatch.setenv("CHURNOPS_SERVING_TOKENS", "env-secret-789")
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, data)
    message = str(err.value)
    assert where in message
    assert "s3cret-token-123" not in message and "env-secret-789" not in message
