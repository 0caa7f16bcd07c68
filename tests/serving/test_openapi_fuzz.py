"""Schemathesis over the live server's OpenAPI document: no input, valid or not, gets a 500,
and every answer matches the documented status codes and schemas. The cases are drawn from a
fixed seed (`derandomize`), so each run sends the same bounded set. The document agrees with
the server on what it takes, and stock Databricks clients read the answers' headers."""

from __future__ import annotations

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings

from churnops.serving.server import ServingServer
from tests.serving.conftest import AUTH, endpoint_dict

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(serving_world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "endpoint.yaml"  # from a file, so /-/reload really reloads
    path.write_text(yaml.safe_dump(endpoint_dict(serving_world, tmp)))
    with ServingServer(str(path)) as srv:
        yield srv


@pytest.fixture(scope="module")
def live_schema(live):
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/serving-endpoints/{name}/invocations"),
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("POST", "/-/reload"),
    ],
)
def test_api_conforms(live_schema, method, path):
    # (schemathesis.pytest.from_fixture trips over this pytest; the loop below is the same run.)
    operation = live_schema[path][method]
    calls = []

    @settings(
        max_examples=60 if "invocations" in path else 10,
        deadline=None,
        database=None,
        derandomize=True,  # a fixed seed: the same cases every run
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case):
        response = case.call_and_validate(headers=AUTH)
        calls.append(response.status_code)

    check()
    assert calls and all(code < 500 for code in calls)


def _body_schema(srv) -> dict:
    document = requests.get(f"{srv.url}/openapi.json", timeout=30).json()
    operation = document["paths"]["/serving-endpoints/{name}/invocations"]["post"]
    return operation["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    ("body", "documented"),
    [
        ({"inputs": [{"customer_id": "1"}], "instances": [{"customer_id": "1"}]}, False),
        ({"dataframe_records": [{"customer_id": "1"}], "dataframe_split": {}}, False),
        ({"params": {}}, False),
        ({"dataframe_records": [{"customer_id": "1"}], "params": None}, True),
        ({"inputs": {"customer_id": ["1", "2"]}, "params": {}}, True),
    ],
)
def test_the_document_takes_what_the_server_takes(live, serving_world, body, documented):
    import jsonschema

    valid = jsonschema.Draft202012Validator(_body_schema(live)).is_valid(body)
    for rows in (body.get("inputs"), body.get("dataframe_records")):
        if isinstance(rows, list):
            for row in rows:
                row["customer_id"] = serving_world.customers[0]
    url = f"{live.url}/serving-endpoints/churn/invocations"
    served = requests.post(url, json=body, headers=AUTH, timeout=30).status_code == 200
    assert valid == documented and served == documented


def test_databricks_sdk_reads_the_served_model_name(live, serving_world):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    client = WorkspaceClient(config=Config(host=live.url, token="test-token"))
    row = {"customer_id": serving_world.customers[0]}
    answer = client.serving_endpoints.query(name="churn", dataframe_records=[row])
    assert answer.served_model_name in ("champion", "challenger")
    assert len(answer.predictions) == 1
