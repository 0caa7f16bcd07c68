"""Schemathesis over the live server's OpenAPI document: no input, valid or not, gets a 500,
and every answer matches the documented status codes and schemas."""

from __future__ import annotations

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings

from churnops.serving.server import ServingServer
from tests.serving.conftest import AUTH, endpoint_dict

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_schema(serving_world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "endpoint.yaml"  # from a file, so /-/reload really reloads
    path.write_text(yaml.safe_dump(endpoint_dict(serving_world, tmp)))
    with ServingServer(str(path)) as srv:
        yield schemathesis.openapi.from_url(f"{srv.url}/openapi.json")


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
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case):
        response = case.call_and_validate(headers=AUTH)
        calls.append(response.status_code)

    check()
    assert calls and all(code < 500 for code in calls)
