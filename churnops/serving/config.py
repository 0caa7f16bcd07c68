"""`EndpointConfig`: a serving endpoint as YAML, mirroring Databricks' `EndpointCoreConfigInput`.

The Databricks part (`name`, `served_entities`, `traffic_config`, `auto_capture_config`) exports
unchanged to the SDK; `routing`, `feature_lookup`, `auth`, `limits` and `server` are what the local
server needs besides.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from churnops.config import (
    CONFIG_DIR,
    ConfigError,
    StrictConfig,
    apply_overrides,
    build_config,
    load_yaml,
    mask_secrets,
)
from churnops.data.feature_store.config import OnlineStoreConfig

DEFAULT_CONFIG = CONFIG_DIR / "serving" / "churn.yaml"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"  # Databricks endpoint / served-entity names


class ServedEntityConfig(StrictConfig):
    """One registered model version (or alias) the endpoint serves, as `ServedEntityInput`."""

    name: str = Field(pattern=_NAME)  # what routes and the force header name
    entity_name: str  # registered model, e.g. `churn` or `main.churnops.churn` on Unity Catalog
    entity_version: str | None = None
    alias: str | None = None  # resolved to a version when the server loads the model
    workload_size: Literal["Small", "Medium", "Large"] = "Small"
    scale_to_zero_enabled: bool = True

    @model_validator(mode="after")
    def _version_or_alias(self) -> ServedEntityConfig:
        if (self.entity_version is None) == (self.alias is None):
            raise ValueError(
                f"served entity {self.name!r}: set exactly one of entity_version "
                f"(got {self.entity_version!r}) and alias (got {self.alias!r})"
            )
        return self

    @property
    def model_uri(self) -> str:
        """`models:/<name>/<version>` or `models:/<name>@<alias>`."""
        if self.alias is not None:
            return f"models:/{self.entity_name}@{self.alias}"
        return f"models:/{self.entity_name}/{self.entity_version}"


class RouteConfig(StrictConfig):
    """A share of the traffic for one served entity, as Databricks' `Route`."""

    served_model_name: str
    traffic_percentage: int = Field(ge=0, le=100)


class TrafficConfig(StrictConfig):
    routes: list[RouteConfig] = Field(min_length=1)


class AutoCaptureConfig(StrictConfig):
    """The inference log: an append-only Delta table (`path` locally; catalog.schema on export)."""

    enabled: bool = True
    path: str = ".churnops/inference_log"  # Delta table folder; `<path>/<endpoint name>`
    catalog_name: str | None = None  # Databricks only
    schema_name: str | None = None  # Databricks only
    table_name_prefix: str | None = None  # Databricks only
    batch_rows: int = Field(default=1000, ge=1)  # commit when this many rows are waiting ...
    flush_seconds: float = Field(default=1.0, gt=0)  # ... or this long after the first one
    # Each request's rows reach the journal (`<path>/<name>.journal/`) before its answer goes
    # out; a committer process moves them into Delta. fsync false: the rows are in the OS page
    # cache (survive the server being killed, not a power cut); true: fsync per request
    # (survives both, costs more).
    journal_fsync: bool = False


class RoutingConfig(StrictConfig):
    """How a request picks its served entity."""

    mode: Literal["sticky", "random"] = "sticky"  # sticky: a hash of `key`; random: per request
    key: str = "customer_id"
    force_header: str = "X-Churnops-Served-Model"  # names a served entity, bypassing the split
    shadow: str | None = None  # a served entity that gets a copy of every request, never answers
    seed: int | None = None  # random mode: fixed seed for reproducible splits


class FeatureLookupConfig(StrictConfig):
    """Where requests carrying only the key get their features: the online store, table and key."""

    enabled: bool = True
    online: OnlineStoreConfig = Field(default_factory=OnlineStoreConfig)
    table: str = "churnops.cdnow.customer_features_monthly"
    lookup_key: str = "customer_id"
    features: list[str] | None = None  # None: the model's input columns
    on_missing: Literal["error", "defaults"] = "error"  # an unknown key: per-row error or defaults
    defaults: dict[str, float | None] = Field(default_factory=dict)  # unset features -> null

    @model_validator(mode="after")
    def _readable_online_store(self) -> FeatureLookupConfig:
        # Databricks online tables are synced and served by the platform, not read from here.
        if self.online.kind not in ("sqlite", "redis"):
            raise ValueError(f"online.kind={self.online.kind!r}: expected one of redis, sqlite")
        return self


class AuthConfig(StrictConfig):
    """Bearer tokens; never logged (SecretStr) and compared in constant time."""

    enabled: bool = False
    tokens: list[SecretStr] = Field(default_factory=list)
    tokens_env: str = "CHURNOPS_SERVING_TOKENS"  # comma-separated tokens, added to `tokens`

    def all_tokens(self) -> list[str]:
        env = [t.strip() for t in os.environ.get(self.tokens_env, "").split(",") if t.strip()]
        return [t.get_secret_value() for t in self.tokens] + env


class LimitsConfig(StrictConfig):
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)  # larger: 413
    max_rows: int = Field(default=10_000, ge=1)  # more rows in one request: 413
    body_timeout_seconds: float = Field(default=30.0, gt=0)  # the whole body by then, else 408


class ServerConfig(StrictConfig):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class EndpointConfig(StrictConfig):
    """A serving endpoint: served entities, traffic split, lookup, log, auth, limits."""

    name: str = Field(pattern=_NAME)
    tracking_uri: str | None = None  # MLflow registry to load from; None: MLflow's default
    served_entities: list[ServedEntityConfig] = Field(min_length=1)
    traffic_config: TrafficConfig
    auto_capture_config: AutoCaptureConfig = Field(default_factory=AutoCaptureConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    feature_lookup: FeatureLookupConfig = Field(default_factory=FeatureLookupConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)

    @model_validator(mode="after")
    def _check_routes(self) -> EndpointConfig:
        names = [e.name for e in self.served_entities]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"served_entities: names {dupes} appear more than once")
        routed = [r.served_model_name for r in self.traffic_config.routes]
        unknown = [n for n in routed if n not in names]
        if unknown:
            raise ValueError(
                f"traffic_config.routes: served_model_name {unknown} not in served_entities {names}"
            )
        if len(set(routed)) != len(routed):
            raise ValueError(f"traffic_config.routes: a served entity is routed twice: {routed}")
        total = sum(r.traffic_percentage for r in self.traffic_config.routes)
        if total != 100:
            raise ValueError(f"traffic_config.routes: traffic_percentage sums to {total}, not 100")
        shadow = self.routing.shadow
        if shadow is not None and shadow not in names:
            raise ValueError(f"routing.shadow={shadow!r}: not in served_entities {names}")
        return self

    def log_path(self) -> Path | str:
        """The inference log's Delta table folder (a Path, or an object-store URI)."""
        from churnops.data.storage import join, native

        return native(join(self.auto_capture_config.path, self.name))

    def entity(self, name: str) -> ServedEntityConfig:
        for e in self.served_entities:
            if e.name == name:
                return e
        raise KeyError(name)


def load_endpoint_config(path: str | Path, overrides: list[str] = ()) -> EndpointConfig:  # type: ignore[assignment]
    """Load and validate an endpoint YAML (a `ConfigError` names every problem).

    The error never quotes a bearer token: validation errors quote the values they refuse
    (a whole section, for a check across fields), so every token is masked out of the message.
    """
    data = apply_overrides(load_yaml(path), list(overrides))
    try:
        return build_config(EndpointConfig, data, source=str(path))
    except ConfigError as exc:
        raise ConfigError(mask_secrets(str(exc), _tokens_in(data))) from None


def _tokens_in(data: dict) -> list[str]:
    auth = data.get("auth")
    tokens = auth.get("tokens") if isinstance(auth, dict) else None
    env = auth.get("tokens_env") if isinstance(auth, dict) else None
    found = [str(t) for t in tokens] if isinstance(tokens, list) else [str(tokens or "")]
    names = {str(env or ""), AuthConfig.model_fields["tokens_env"].default}
    for name in filter(None, names):
        found += [t.strip() for t in os.environ.get(name, "").split(",") if t.strip()]
    return found


def restart_only_changes(old: EndpointConfig, new: EndpointConfig) -> list[str]:
    """The settings a reload cannot change while serving (they need a restart), as messages."""
    changed = []
    if new.name != old.name:
        changed.append(f"name={new.name!r} (serving {old.name!r})")
    if new.log_path() != old.log_path():
        changed.append(f"auto_capture_config.path={new.auto_capture_config.path!r}")
    if new.server != old.server:  # the listening socket is bound once, at start
        changed.append(f"server={new.server.model_dump()} (listening on {old.server.model_dump()})")
    return changed
