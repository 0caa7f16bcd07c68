"""`FeatureStoreConfig`: which backend, where its tables live, which online store; and the one
factory that builds each from it (`get_feature_store`, `get_online_store`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from churnops.config import CONFIG_DIR, StrictConfig
from churnops.data.engines.base import Engine
from churnops.data.engines.config import EngineConfig
from churnops.data.feature_store.base import FeatureStore
from churnops.data.feature_store.databricks import DatabricksOnlineTables
from churnops.data.feature_store.online.base import OnlineStore
from churnops.data.storage import StorageConfig, configure_storage
from churnops.plugins import load_choice

DEFAULT_CONFIG = CONFIG_DIR / "feature_store" / "local.yaml"


class OnlineStoreConfig(StrictConfig):
    """Where published features are served from."""

    kind: Literal["sqlite", "redis", "databricks"] = "sqlite"
    path: str = ".churnops/online/features.db"  # sqlite
    url: str = "redis://127.0.0.1:6379/0"  # redis
    prefix: str = "churnops:fs:"  # redis: every key starts with it
    suffix: str = "_online"  # databricks: the online table is `<feature table><suffix>`

    def options(self) -> dict[str, Any]:
        """The keyword arguments of the online store class `kind` names."""
        if self.kind == "sqlite":
            return {"path": self.path}
        if self.kind == "redis":
            return {"url": self.url, "prefix": self.prefix}
        return {"suffix": self.suffix}


class FeatureStoreConfig(StrictConfig):
    """The feature store backend, its root, the online store, and the tables jobs write."""

    backend: Literal["local", "databricks"] = "local"
    root: str = ".churnops/feature_store"  # local: Delta tables live under it
    engine: EngineConfig = Field(default_factory=EngineConfig)  # `engine=spark` is shorthand
    online: OnlineStoreConfig = Field(default_factory=OnlineStoreConfig)
    # `churnops features build` writes its snapshot here; the demo builds the monthly table.
    features_table: str = "churnops.cdnow.customer_features"
    timeseries_table: str = "churnops.cdnow.customer_features_monthly"
    # databricks: the Unity Catalog schema the tables above live in (`list_tables` reads it).
    catalog_schema: str = "main.churnops"
    # Credentials for a `root` on s3://, gs://, abfss:// (None: the environment variables).
    storage: StorageConfig | None = None

    @model_validator(mode="after")
    def _backend_parts_agree(self) -> FeatureStoreConfig:
        # Each backend has its own engine and online store: a mix would fail mid-job, so refuse it.
        if self.backend == "databricks":
            wanted = {
                "engine.name": (self.engine.name, "spark"),
                "online.kind": (self.online.kind, "databricks"),
            }
            for field_name, (value, expected) in wanted.items():
                if value != expected:
                    raise ValueError(
                        f"{field_name}={value!r}: backend 'databricks' needs {expected!r}"
                    )
            for field_name in ("features_table", "timeseries_table"):
                name = getattr(self, field_name)
                if not name.startswith(f"{self.catalog_schema}."):
                    raise ValueError(
                        f"{field_name}={name!r}: backend 'databricks' expects a table in "
                        f"catalog_schema {self.catalog_schema!r} ('{self.catalog_schema}.<name>')"
                    )
        elif self.online.kind == "databricks":
            raise ValueError(
                f"online.kind='databricks': needs backend 'databricks', got {self.backend!r}"
            )
        return self

    def options(self, engine: Engine | None) -> dict[str, Any]:
        """The keyword arguments of the feature store class `backend` names."""
        if self.backend == "databricks":
            # The engine's session is the job cluster's (a SparkEngine attaches to it); else the
            # active one.
            return {"spark": getattr(engine, "session", None), "schema": self.catalog_schema}
        return {"root": self.root, "engine": engine}


FEATURE_STORES = {
    "local": "churnops.data.feature_store.local:LocalFeatureStore",
    "databricks": "churnops.data.feature_store.databricks:DatabricksFeatureStore",
}
# sqlite and redis serve lookups; databricks online tables are synced and served by the platform.
ONLINE_STORES = {
    "sqlite": "churnops.data.feature_store.online.sqlite:SQLiteOnlineStore",
    "redis": "churnops.data.feature_store.online.redis:RedisOnlineStore",
    "databricks": "churnops.data.feature_store.databricks:DatabricksOnlineTables",
}


def get_feature_store(cfg: FeatureStoreConfig, engine: Engine | None = None) -> FeatureStore:
    """The `FeatureStore` backend `cfg.backend` names, built from the config.

    Args:
        cfg: the feature store config.
        engine: the engine whose DataFrames the store reads and writes (on Databricks, a Spark
            engine whose session the store uses).
    """
    if cfg.storage is not None:
        configure_storage(cfg.storage)
    store_cls = load_choice(FEATURE_STORES, cfg.backend, field="backend")
    store: FeatureStore = store_cls(**cfg.options(engine))
    return store


def get_online_store(cfg: OnlineStoreConfig) -> OnlineStore | DatabricksOnlineTables:
    """The online store `cfg.kind` names (on Databricks: online tables synced by the platform)."""
    store_cls = load_choice(ONLINE_STORES, cfg.kind, field="online.kind")
    store: OnlineStore | DatabricksOnlineTables = store_cls(**cfg.options())
    return store
