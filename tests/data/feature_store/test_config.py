"""FeatureStoreConfig: the shipped YAML files load; a typo is an error naming the key."""

from __future__ import annotations

import pytest

from churnops.config import CONFIG_DIR, ConfigError, load_config
from churnops.data.feature_store import (
    FeatureStoreConfig,
    LocalFeatureStore,
    get_feature_store,
    get_online_store,
)
from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore


@pytest.mark.parametrize("path", sorted((CONFIG_DIR / "feature_store").glob("*.yaml")))
def test_shipped_configs_load(path):
    cfg = load_config(FeatureStoreConfig, path)
    assert cfg.online.kind in ("sqlite", "redis", "databricks")


def test_config_builds_the_backends(tmp_path):
    cfg = load_config(
        FeatureStoreConfig,
        CONFIG_DIR / "feature_store" / "local.yaml",
        [f"root={tmp_path}/fs", f"online.path={tmp_path}/o.db"],
    )
    assert isinstance(get_feature_store(cfg), LocalFeatureStore)
    assert isinstance(get_online_store(cfg.online), SQLiteOnlineStore)


def test_typos_and_bad_values_are_errors():
    with pytest.raises(ConfigError, match=r"unknown key 'online\.knd'"):
        load_config(FeatureStoreConfig, None, ["online.knd=redis"])
    with pytest.raises(ConfigError, match=r"online\.kind='memcached'"):
        load_config(FeatureStoreConfig, None, ["online.kind=memcached"])
