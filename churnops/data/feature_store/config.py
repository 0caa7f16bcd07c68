"""`FeatureStoreConfig`: which backend, where its tables live, which online store; and the one
factory that builds each from it (`get_feature_store`, `get_online_store`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, model_validator

from churnops.config import CONFIG_DIR, StrictConfig
from churnops.data.engines.config import EngineConfig
from churnops.data.storage import StorageConfig, configure_storage

DEFAULT_CONFIG = CONFIG_DIR / "feature_store" / "local.yaml"


class OnlineStoreConfig(StrictConfig):
    """Where published features are served from."""

    kind: Literal["sqlite", "redis", "databricks"] = "sqlite"
    path: str = ".churnops/online/features.db"  # sqlite
    url: str = "redis://127.0.0.1:6379/0"  # redis
    prefix: str = "churnops:fs:"  # redis: every key starts with it
    suffix: str = "_online"  # databricks: the online table is `<feature table><suffix>`


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


def _local_store(cfg: FeatureStoreConfig, engine: Any) -> Any:
    from churnops.data.feature_store.local import LocalFeatureStore

    return LocalFeatureStore(cfg.root, engine=engine)


def _databricks_store(cfg: FeatureStoreConfig, engine: Any) -> Any:
    from churnops.data.feature_store.databricks import DatabricksFeatureStore

    # The engine's session is the job cluster's (a SparkEngine attaches to it); else the active one.
    return DatabricksFeatureStore(spark=getattr(engine, "session", None), schema=cfg.catalog_schema)


FEATURE_STORES: dict[str, Callable[[FeatureStoreConfig, Any], Any]] = {
    "local": _local_store,
    "databricks": _databricks_store,
}


def get_feature_store(cfg: FeatureStoreConfig, engine: Any = None) -> Any:
    """The `FeatureStore` backend `cfg.backend` names, built from the config.

    Args:
        cfg: the feature store config.
        engine: the engine whose DataFrames the store reads and writes (on Databricks, a Spark
            engine whose session the store uses).
    """
    if cfg.storage is not None:
        configure_storage(cfg.storage)
    return FEATURE_STORES[cfg.backend](cfg, engine)


def get_online_store(cfg: OnlineStoreConfig) -> Any:
    """The online store `cfg.kind` names (on Databricks: online tables synced by the platform)."""
    if cfg.kind == "databricks":
        from churnops.data.feature_store.databricks import DatabricksOnlineTables

        return DatabricksOnlineTables(suffix=cfg.suffix)
    from churnops.data.feature_store.online import get_online_store as build

    return build(cfg)
