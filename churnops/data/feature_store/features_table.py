"""The feature table a features build's snapshot merges into: its name, and the write."""

from __future__ import annotations

import re
from pathlib import Path

from churnops.data import storage
from churnops.data.feature_store.base import FeatureTable
from churnops.data.feature_store.config import FeatureStoreConfig, get_feature_store
from churnops.data.feature_store.local import LocalFeatureStore
from churnops.data.feature_store.timeseries import write_snapshots
from churnops.data.sources.config import SourceConfig


def features_table_name(configured: str, source: SourceConfig) -> str:
    """The store's features table for CDNOW; for another source, a sibling named after it.

    So a CSV's features never merge into the table the CDNOW snapshots live in.
    """
    if source.kind == "cdnow":
        return configured
    stem = Path(source.path).stem if source.path else source.kind
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", f"{source.kind}_{stem}").strip("_").lower()
    catalog, _, table = configured.rpartition(".")
    catalog = catalog.rpartition(".")[0] or catalog
    return f"{catalog}.{name}.{table}"


def write_features_snapshot(
    cfg: FeatureStoreConfig, name: str, features_path: str | Path
) -> FeatureTable:
    """Merge a features build's snapshot (its Parquet file) into table `name` of the store `cfg`
    configures (created with keys customer_id, as_of when it does not exist yet)."""
    with get_feature_store(cfg) as store:
        # The local store streams the file (a local path or an object-store URI) batch by
        # batch; the Databricks client takes a DataFrame.
        local = isinstance(store, LocalFeatureStore)
        return write_snapshots(
            store,
            name,
            features_path if local else storage.read_parquet(features_path),
            description="customer features by cutoff (churnops features build)",
        )
