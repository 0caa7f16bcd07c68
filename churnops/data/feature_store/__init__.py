"""The feature store: the Databricks Feature Engineering API on Delta tables, locally or remotely.

`get_feature_store(cfg)` picks the backend (`local` on delta-rs, `databricks` over the official
client); `get_online_store(cfg.online)` picks the online store (`sqlite`, `redis`, or `databricks`
online tables).
"""

from churnops.data.feature_store.base import (
    FeatureFunction,
    FeatureLookup,
    FeatureStore,
    FeatureStoreError,
    FeatureTable,
    FeatureTableNotFoundError,
    register_function,
)
from churnops.data.feature_store.config import (
    FeatureStoreConfig,
    OnlineStoreConfig,
    get_feature_store,
    get_online_store,
)
from churnops.data.feature_store.local import LocalFeatureStore

__all__ = [
    "FeatureFunction",
    "FeatureLookup",
    "FeatureStore",
    "FeatureStoreConfig",
    "FeatureStoreError",
    "FeatureTable",
    "FeatureTableNotFoundError",
    "LocalFeatureStore",
    "OnlineStoreConfig",
    "get_feature_store",
    "get_online_store",
    "register_function",
]
