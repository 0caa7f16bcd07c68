"""Turn an endpoint YAML into the databricks-sdk `EndpointCoreConfigInput`, and create or update
the endpoint with it (needs workspace credentials: the SDK's usual env vars or profile)."""

from __future__ import annotations

from typing import Any

from churnops.serving.config import EndpointConfig


def to_databricks(cfg: EndpointConfig, resolve_alias: Any = None) -> Any:
    """The SDK's `EndpointCoreConfigInput` for `cfg`.

    Args:
        cfg: the endpoint config.
        resolve_alias: `(model_name, alias) -> version` for served entities given by alias
            (Databricks serves a version); None makes an alias an error that names it.
    """
    from databricks.sdk.service.serving import (
        AutoCaptureConfigInput,
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
    auto_capture = None
    if capture.enabled and capture.catalog_name and capture.schema_name:
        auto_capture = AutoCaptureConfigInput(
            catalog_name=capture.catalog_name,
            schema_name=capture.schema_name,
            table_name_prefix=capture.table_name_prefix or cfg.name,
            enabled=True,
        )
    return EndpointCoreConfigInput(
        name=cfg.name,
        served_entities=entities,
        traffic_config=TrafficConfig(routes=routes),
        auto_capture_config=auto_capture,
    )


def mlflow_alias_resolver(tracking_uri: str | None = None) -> Any:
    """`(name, alias) -> version` from an MLflow registry (Unity Catalog: `databricks-uc`)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return lambda name, alias: client.get_model_version_by_alias(name, alias).version


def apply_to_workspace(core: Any, client: Any = None) -> Any:
    """Create the endpoint, or update its config when it exists; returns the SDK's waiter."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound

    w = client or WorkspaceClient()
    try:
        w.serving_endpoints.get(core.name)
    except NotFound:
        return w.serving_endpoints.create(name=core.name, config=core)
    return w.serving_endpoints.update_config(
        name=core.name,
        served_entities=core.served_entities,
        traffic_config=core.traffic_config,
        auto_capture_config=core.auto_capture_config,
    )
