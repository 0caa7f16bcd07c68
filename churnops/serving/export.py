"""Turn an endpoint YAML into databricks-sdk serving-endpoint settings, and create or update
the endpoint with them (needs workspace credentials: the SDK's usual env vars or profile).

The inference log becomes an AI Gateway inference table (`AiGatewayInferenceTableConfig`), which
replaced the legacy `auto_capture_config` of the endpoint's core config; both write the same
table columns that `churnops.serving.inference_log` writes locally.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from churnops.serving.config import EndpointConfig


@dataclass
class DatabricksEndpoint:
    """What `serving_endpoints.create` takes: the core config and the AI Gateway settings."""

    name: str
    config: Any  # EndpointCoreConfigInput
    ai_gateway: Any  # AiGatewayConfig, or None without an inference table

    def as_dict(self) -> dict[str, Any]:
        """The body of the create request (`POST /api/2.0/serving-endpoints`)."""
        body = {"name": self.name, "config": self.config.as_dict()}
        if self.ai_gateway is not None:
            body["ai_gateway"] = self.ai_gateway.as_dict()
        return body


def to_databricks(cfg: EndpointConfig, resolve_alias: Any = None) -> DatabricksEndpoint:
    """The SDK's settings for `cfg`: an `EndpointCoreConfigInput` and an `AiGatewayConfig`.

    Args:
        cfg: the endpoint config.
        resolve_alias: `(model_name, alias) -> version` for served entities given by alias
            (Databricks serves a version); None makes an alias an error that names it.
    """
    from databricks.sdk.service.serving import (
        AiGatewayConfig,
        AiGatewayInferenceTableConfig,
        EndpointCoreConfigInput,
        Route,
        ServedEntityInput,
        TrafficConfig,
    )

    entities = []
    for e in cfg.served_entities:
        version = e.entity_version
        if version is None:
            if resolve_alias is None:
                raise ValueError(
                    f"served entity {e.name!r}: alias {e.alias!r} needs resolving to a version "
                    "for Databricks; pass --resolve-aliases or set entity_version"
                )
            version = str(resolve_alias(e.entity_name, e.alias))
        entities.append(
            ServedEntityInput(
                name=e.name,
                entity_name=e.entity_name,
                entity_version=version,
                workload_size=e.workload_size,
                scale_to_zero_enabled=e.scale_to_zero_enabled,
            )
        )
    routes = [
        Route(served_model_name=r.served_model_name, traffic_percentage=r.traffic_percentage)
        for r in cfg.traffic_config.routes
    ]
    capture = cfg.auto_capture_config
    gateway = None
    if capture.enabled and capture.catalog_name and capture.schema_name:
        gateway = AiGatewayConfig(
            inference_table_config=AiGatewayInferenceTableConfig(
                catalog_name=capture.catalog_name,
                schema_name=capture.schema_name,
                table_name_prefix=capture.table_name_prefix or cfg.name,
                enabled=True,
            )
        )
    core = EndpointCoreConfigInput(
        name=cfg.name, served_entities=entities, traffic_config=TrafficConfig(routes=routes)
    )
    return DatabricksEndpoint(cfg.name, core, gateway)


def mlflow_alias_resolver(tracking_uri: str | None = None) -> Any:
    """`(name, alias) -> version` from an MLflow registry (Unity Catalog: `databricks-uc`)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return lambda name, alias: client.get_model_version_by_alias(name, alias).version


def apply_to_workspace(
    endpoint: DatabricksEndpoint, client: Any = None, timeout: dt.timedelta | None = None
) -> Any:
    """Create the endpoint, or update its config and then its AI Gateway when it exists; wait
    until it is ready and return its `ServingEndpointDetailed`."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound

    w = client or WorkspaceClient()
    timeout = timeout or dt.timedelta(minutes=20)
    try:
        w.serving_endpoints.get(endpoint.name)
    except NotFound:
        waiter = w.serving_endpoints.create(
            name=endpoint.name, config=endpoint.config, ai_gateway=endpoint.ai_gateway
        )
        return waiter.result(timeout=timeout)
    # The gateway is set apart from the config, and only once the config update is done: an
    # endpoint refuses a second update while one is in progress.
    ready = w.serving_endpoints.update_config(
        name=endpoint.name,
        served_entities=endpoint.config.served_entities,
        traffic_config=endpoint.config.traffic_config,
    ).result(timeout=timeout)
    if endpoint.ai_gateway is not None:
        w.serving_endpoints.put_ai_gateway(
            endpoint.name, inference_table_config=endpoint.ai_gateway.inference_table_config
        )
    return ready
