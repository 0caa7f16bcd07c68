"""`RedisOnlineStore`: published features in Redis, one JSON value per key.

A full publish writes a new generation of keys, then flips the table's meta record to it and
deletes the old generation, so readers never see a half-published table.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from churnops.data.feature_store.online.base import (
    OnlineLookup,
    OnlineStore,
    OnlineTableInfo,
    as_key,
    rows_of,
)

_CHUNK = 10_000


class RedisOnlineStore(OnlineStore):
    """Published features in Redis at `url`, every key under `prefix`."""

    kind = "redis"

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "churnops:fs:"):
        import redis

        self.url, self.prefix = url, prefix
        self._client = redis.Redis.from_url(url)
        self._generations: dict[str, int] = {}  # last generation seen per table

    def _meta_key(self, name: str) -> str:
        return f"{self.prefix}meta:{name}"

    def _row_key(self, name: str, generation: int, key: tuple) -> str:
        return f"{self.prefix}{name}:g{generation}:{json.dumps(list(key), default=str)}"

    def _meta(self, name: str) -> dict[str, Any] | None:
        raw = self._client.get(self._meta_key(name))
        return json.loads(raw) if raw else None

    def write_rows(
        self, name: str, key_columns: list[str], rows: pa.Table, version: int, replace: bool
    ) -> int:
        columns, keys, values = rows_of(rows, key_columns)
        meta = self._meta(name)
        old_gen: int | None = meta["generation"] if meta else None
        gen: int = (old_gen or 0) + 1 if replace or old_gen is None else old_gen
        for start in range(0, len(keys), _CHUNK):
            pipe = self._client.pipeline(transaction=False)
            for k, v in zip(
                keys[start : start + _CHUNK], values[start : start + _CHUNK], strict=True
            ):
                pipe.set(self._row_key(name, gen, k), json.dumps(v))
            pipe.execute()
        new_meta = {
            "key_columns": key_columns,
            "columns": columns,
            "version": version,
            "generation": gen,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._client.set(self._meta_key(name), json.dumps(new_meta))
        if old_gen is not None and old_gen != gen:
            self._delete_generation(name, old_gen)
        return len(keys)

    def _delete_generation(self, name: str, generation: int) -> None:
        batch = []
        for key in self._client.scan_iter(match=f"{self.prefix}{name}:g{generation}:*", count=5000):
            batch.append(key)
            if len(batch) >= _CHUNK:
                self._client.unlink(*batch)
                batch = []
        if batch:
            self._client.unlink(*batch)

    def info(self, name: str) -> OnlineTableInfo | None:
        meta = self._meta(name)
        if meta is None:
            return None
        return OnlineTableInfo(
            name, meta["key_columns"], meta["columns"], meta["version"], meta["published_at"]
        )

    def read(self, name: str, keys: list[Any], features: list[str] | None = None) -> OnlineLookup:
        wanted = [as_key(k) for k in keys]
        # One round trip: the meta record and the rows under the generation last seen; a full
        # publish in between changes the generation, and the read is redone under the new one.
        cached = self._generations.get(name, 1)
        pipe = self._client.pipeline(transaction=False)
        pipe.get(self._meta_key(name))
        pipe.mget([self._row_key(name, cached, k) for k in wanted])
        raw_meta, raw = pipe.execute()
        if raw_meta is None:
            self._require(name)
        meta = json.loads(raw_meta)
        if meta["generation"] != cached:
            self._generations[name] = meta["generation"]
            raw = self._client.mget([self._row_key(name, meta["generation"], k) for k in wanted])
        info = OnlineTableInfo(
            name, meta["key_columns"], meta["columns"], meta["version"], meta["published_at"]
        )
        idx = self._select(info, features)
        out = OnlineLookup()
        for k, value in zip(wanted, raw, strict=True):
            if value is None:
                out.missing.append(k)
            else:
                row = json.loads(value)
                out.rows[k] = {info.columns[i]: row[i] for i in idx}
        return out

    def drop(self, name: str) -> None:
        meta = self._meta(name)
        if meta is not None:
            self._client.delete(self._meta_key(name))
            self._delete_generation(name, meta["generation"])

    def close(self) -> None:
        self._client.close()
