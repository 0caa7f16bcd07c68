"""Online stores by short name: `sqlite` (the default, a file) and `redis`."""

from __future__ import annotations

import importlib
from typing import Any

from churnops.data.feature_store.online.base import OnlineLookup, OnlineStore, OnlineTableInfo

ONLINE_STORES = {
    "sqlite": "churnops.data.feature_store.online.sqlite:SQLiteOnlineStore",
    "redis": "churnops.data.feature_store.online.redis:RedisOnlineStore",
}


def get_online_store(cfg: Any) -> OnlineStore:
    """Build the online store `cfg.kind` names from an `OnlineStoreConfig`."""
    if cfg.kind not in ONLINE_STORES:
        raise ValueError(f"online.kind={cfg.kind!r}: expected one of {', '.join(ONLINE_STORES)}")
    module, _, cls = ONLINE_STORES[cfg.kind].partition(":")
    store_cls = getattr(importlib.import_module(module), cls)
    if cfg.kind == "sqlite":
        return store_cls(cfg.path)
    return store_cls(cfg.url, prefix=cfg.prefix)


__all__ = ["ONLINE_STORES", "OnlineLookup", "OnlineStore", "OnlineTableInfo", "get_online_store"]
