"""No credential is ever printed: bearer tokens, URI passwords and storage keys are masked in
config errors, YAML errors, `/-/reload` answers and the SIGHUP line, by one function."""

from __future__ import annotations

import asyncio

import pytest
import requests
import yaml

from churnops.config import ConfigError, mask_secrets
from churnops.serving.app import _reload_quietly
from churnops.serving.config import load_endpoint_config
from churnops.serving.server import ServingServer
from tests.serving.conftest import AUTH, endpoint_dict
from tests.serving.test_config import BASE

TOKEN = "s3cret-TOKEN-42"
PASSWORD = "pg-PASSWORD-77"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"tracking_uri='postgresql://churn:{PASSWORD}@db:5432/mlflow'", PASSWORD),
        (f"{{'tracking_uri': 'mysql+pymysql://u:{PASSWORD}@h/db'}}", PASSWORD),
        (f"{{'auth': {{'enabled': True, 'tokens': ['{TOKEN}', 'two']}}}}", TOKEN),
        (f"auth.tokens.0={TOKEN}: not a list", TOKEN),
        (f"Authorization: Bearer {TOKEN}", TOKEN),
        (f"{{'AWS_SECRET_ACCESS_KEY': '{TOKEN}', 'region': 'eu'}}", TOKEN),
        (f"account_key: {TOKEN}", TOKEN),
        (f"abfss://c@a.dfs.core.windows.net/t?sv=2024&sig={TOKEN}&se=1", TOKEN),
    ],
)
def test_mask_secrets_masks_every_kind_of_credential(text, secret):
    masked = mask_secrets(text)
    assert secret not in masked and "***" in masked


def test_mask_secrets_keeps_what_is_not_secret():
    text = "sqlite:///a/b.db http://host:8080/x lookup_key='customer_id' tokens_env='VAR'"
    assert mask_secrets(text) == text


def _write(tmp_path, text: str):
    path = tmp_path / "endpoint.yaml"
    path.write_text(text)
    return path


# Unquoted tokens that YAML reads as a tag (`!...`) or an alias (`*...`): PyYAML's message quotes
# them ("could not determine a constructor for the tag '!...'", "found undefined alias '...'").
YAML_TOKENS = [f"!{TOKEN}", f"*{TOKEN}"]


def _yaml_with_token(token: str) -> str:
    body = yaml.safe_dump({k: v for k, v in BASE.items()})
    return body + f"auth:\n  enabled: true\n  tokens:\n  - {token}\n"


@pytest.mark.parametrize("token", YAML_TOKENS)
def test_yaml_errors_never_quote_a_token(tmp_path, token):
    with pytest.raises(ConfigError, match="not valid YAML") as err:
        load_endpoint_config(_write(tmp_path, _yaml_with_token(token)))
    assert TOKEN not in str(err.value)


def test_a_check_across_fields_masks_the_tracking_password(tmp_path):
    data = {**BASE, "tracking_uri": f"postgresql://churn:{PASSWORD}@db:5432/mlflow"}
    data["traffic_config"] = {"routes": [BASE["traffic_config"]["routes"][0]]}  # sums to 80
    data["auth"] = {"enabled": True, "tokens": [TOKEN]}
    with pytest.raises(ConfigError, match="sums to 80") as err:
        load_endpoint_config(_write(tmp_path, yaml.safe_dump(data)))
    message = str(err.value)
    assert PASSWORD not in message and TOKEN not in message
    assert "postgresql://churn:***@db:5432/mlflow" in message


@pytest.fixture
def live(serving_world, tmp_path):
    path = tmp_path / "endpoint.yaml"
    path.write_text(yaml.safe_dump(endpoint_dict(serving_world, tmp_path)))
    with ServingServer(str(path)) as srv:
        yield srv, path


@pytest.mark.parametrize("token", YAML_TOKENS)
def test_reload_answer_and_sighup_line_never_quote_a_token(live, serving_world, capsys, token):
    srv, path = live
    good = path.read_text()
    path.write_text(good.replace("- test-token", f"- test-token\n  - {token}"))
    r = requests.post(f"{srv.url}/-/reload", headers=AUTH, timeout=30)
    assert r.status_code == 400 and "not valid YAML" in r.json()["message"]
    assert TOKEN not in r.text
    asyncio.run(_reload_quietly(srv.serving))  # what SIGHUP runs
    line = capsys.readouterr().err
    assert "reload refused" in line and TOKEN not in line


def test_reload_refusal_masks_a_database_password(live, serving_world):
    srv, path = live
    data = endpoint_dict(serving_world, path.parent)
    data["tracking_uri"] = f"postgresql://churn:{PASSWORD}@127.0.0.1:5432/test"
    data["traffic_config"]["routes"][0]["traffic_percentage"] = 70  # sums to 90
    path.write_text(yaml.safe_dump(data))
    r = requests.post(f"{srv.url}/-/reload", headers=AUTH, timeout=30)
    assert r.status_code == 400 and "sums to 90" in r.text
    assert PASSWORD not in r.text and "churn:***@" in r.text
