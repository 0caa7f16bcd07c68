"""`FeatureStoreConfig`: which backend, where its tables live, which online store."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from churnops.config import CONFIG_DIR, StrictConfig
from churnops.data.engines.config import EngineConfig

DEFAULT_CONFIG = CONFIG_DIR / "feature_store" / "local.yaml"


class OnlineStoreConfig(StrictConfig):
    """Where published features are served from."""

    kind: Literal["sqlite", "redis"] = "sqlite"
    path: str = ".churnops/online/features.db"  # sqlite
    url: str = "redis://127.0.0.1:6379/0"  # redis
    prefix: str = "churnops:fs:"  # redis: every key starts with it


class FeatureStoreConfig(StrictConfig):
    """The feature store backend, its root, the online store, and the tables jobs write."""

    backend: Literal["local", "databricks"] = "local"
    root: str = ".churnops/feature_store"  # local: Delta tables live under it
    engine: EngineConfig = Field(default_factory=EngineConfig)  # `engine=spark` is shorthand
    online: OnlineStoreConfig = Field(default_factory=OnlineStoreConfig)
    # `churnops features build` writes its snapshot here; the demo builds the monthly table.
    features_table: str = "churnops.cdnow.customer_features"
    timeseries_table: str = "churnops.cdnow.customer_features_monthly"


def get_feature_store(cfg: FeatureStoreConfig, engine: Any = None) -> Any:
    """The backend named by `cfg.backend`, built from the config."""
    if cfg.backend == "databricks":
        from churnops.data.feature_store.databricks import DatabricksFeatureStore

        return DatabricksFeatureStore()
    from churnops.data.feature_store.local import LocalFeatureStore

    return LocalFeatureStore(cfg.root, engine=engine)


def get_online_store(cfg: OnlineStoreConfig) -> Any:
    """The online store named by `cfg.kind`."""
    from churnops.data.feature_store.online import get_online_store as build

    return build(cfg)
