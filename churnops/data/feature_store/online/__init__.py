"""Online stores: the `OnlineStore` base, `sqlite` (the default, a file) and `redis`; the
config's `online.kind` picks one (`churnops.data.feature_store.config.get_online_store`)."""

from __future__ import annotations

from churnops.data.feature_store.online.base import OnlineLookup, OnlineStore, OnlineTableInfo

__all__ = ["OnlineLookup", "OnlineStore", "OnlineTableInfo"]
