"""`SQLiteOnlineStore`: the default online store, one SQLite file, one table per feature table."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from churnops.data.feature_store.online.base import (
    OnlineLookup,
    OnlineStore,
    OnlineTableInfo,
    as_key,
    rows_of,
)

_META = "churnops_online_tables"


def _table(name: str) -> str:
    return "fs__" + name.replace(".", "__")  # names are checked identifiers: safe to embed


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return "INTEGER"
    if pa.types.is_floating(t):
        return "REAL"
    return "TEXT"


class SQLiteOnlineStore(OnlineStore):
    """Published features in a SQLite file (WAL mode, so readers do not block a publish)."""

    kind = "sqlite"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {_META} (name TEXT PRIMARY KEY, key_columns TEXT, "
            "columns TEXT, version INTEGER, published_at TEXT)"
        )
        self._lock = threading.Lock()
        self._info: dict[str, tuple[int, OnlineTableInfo]] = {}

    def write_rows(
        self, name: str, key_columns: list[str], rows: pa.Table, version: int, replace: bool
    ) -> int:
        columns, keys, values = rows_of(rows, key_columns)
        table = _table(name)
        all_cols = key_columns + columns
        placeholders = ", ".join("?" for _ in all_cols)
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                if replace:
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
                    defs = ", ".join(
                        f'"{c}" {_sql_type(rows.schema.field(c).type)}' for c in all_cols
                    )
                    pk = ", ".join(f'"{k}"' for k in key_columns)
                    cur.execute(f"CREATE TABLE {table} ({defs}, PRIMARY KEY ({pk})) WITHOUT ROWID")
                cur.executemany(
                    f"INSERT OR REPLACE INTO {table} VALUES ({placeholders})",
                    [(*k, *v) for k, v in zip(keys, values, strict=True)],
                )
                cur.execute(
                    f"INSERT OR REPLACE INTO {_META} VALUES (?, ?, ?, ?, ?)",
                    (
                        name,
                        json.dumps(key_columns),
                        json.dumps(columns),
                        version,
                        datetime.now(UTC).isoformat(timespec="seconds"),
                    ),
                )
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            self._info.pop(name, None)
        return len(keys)

    def info(self, name: str) -> OnlineTableInfo | None:
        row = self._conn.execute(
            f"SELECT key_columns, columns, version, published_at FROM {_META} WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        return OnlineTableInfo(name, json.loads(row[0]), json.loads(row[1]), row[2], row[3])

    def _cached_info(self, name: str) -> OnlineTableInfo:
        # The version check is one indexed read; it keeps the cache right after another process
        # publishes.
        row = self._conn.execute(f"SELECT version FROM {_META} WHERE name = ?", (name,)).fetchone()
        cached = self._info.get(name)
        if cached is None or row is None or cached[0] != row[0]:
            info = self._require(name)
            self._info[name] = (info.version, info)
            return info
        return cached[1]

    def read(self, name: str, keys: list[Any], features: list[str] | None = None) -> OnlineLookup:
        with self._lock:
            info = self._cached_info(name)
            idx = self._select(info, features)
            cols = [info.columns[i] for i in idx]
            wanted = [as_key(k) for k in keys]
            select = ", ".join(f'"{c}"' for c in info.key_columns + cols)
            if len(info.key_columns) == 1:
                marks = ", ".join("?" for _ in wanted)
                where = f'"{info.key_columns[0]}" IN ({marks})'
                params: list[Any] = [k[0] for k in wanted]
            else:
                tup = "(" + ", ".join("?" for _ in info.key_columns) + ")"
                lhs = "(" + ", ".join(f'"{k}"' for k in info.key_columns) + ")"
                where = f"{lhs} IN (VALUES {', '.join(tup for _ in wanted)})"
                params = [v for k in wanted for v in k]
            found = self._conn.execute(f"SELECT {select} FROM {_table(name)} WHERE {where}", params)
            n = len(info.key_columns)
            rows = {tuple(r[:n]): dict(zip(cols, r[n:], strict=True)) for r in found.fetchall()}
        out = OnlineLookup()
        for k in wanted:
            if k in rows:
                out.rows[k] = rows[k]
            else:
                out.missing.append(k)
        return out

    def drop(self, name: str) -> None:
        with self._lock:
            self._conn.execute(f"DROP TABLE IF EXISTS {_table(name)}")
            self._conn.execute(f"DELETE FROM {_META} WHERE name = ?", (name,))
            self._info.pop(name, None)

    def close(self) -> None:
        self._conn.close()
