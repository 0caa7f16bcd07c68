"""The online store protocol: the latest feature row per key, read one key or a batch at a time.

Values are JSON scalars (numbers, strings, null; dates and times as ISO strings) so every store
returns the same thing. Unknown keys are reported in `OnlineLookup.missing`, never invented.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

Key = tuple[Any, ...]


@dataclass
class OnlineLookup:
    """The rows found, by key, and the keys not found, in request order."""

    rows: dict[Key, dict[str, Any]] = field(default_factory=dict)
    missing: list[Key] = field(default_factory=list)


@dataclass(frozen=True)
class OnlineTableInfo:
    """What an online store holds for one feature table."""

    name: str
    key_columns: list[str]
    columns: list[str]
    version: int
    published_at: str


def as_key(key: Any) -> Key:
    """`"c1"` -> `("c1",)`; a tuple or list stays a tuple."""
    return tuple(key) if isinstance(key, tuple | list) else (key,)


def json_scalar(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def rows_of(table: pa.Table, key_columns: list[str]) -> tuple[list[str], list[Key], list[list]]:
    """(value columns, keys, values per row) of an Arrow table, values as JSON scalars."""
    columns = [c for c in table.column_names if c not in key_columns]
    keys = list(zip(*(table[k].to_pylist() for k in key_columns), strict=True))
    data = [[json_scalar(v) for v in table[c].to_pylist()] for c in columns]
    values = [list(r) for r in zip(*data, strict=True)] if data else [[] for _ in keys]
    return columns, keys, values


class OnlineStore(ABC):
    """A key-value copy of feature tables for serving."""

    kind: str

    @abstractmethod
    def write_rows(
        self, name: str, key_columns: list[str], rows: pa.Table, version: int, replace: bool
    ) -> int:
        """Store `rows` (keys and values) for table `name` as of Delta `version`.

        `replace=True` swaps the whole table atomically for readers; False upserts by key.
        Returns the number of rows written.
        """

    @abstractmethod
    def info(self, name: str) -> OnlineTableInfo | None:
        """What is published for `name`, or None."""

    @abstractmethod
    def read(self, name: str, keys: list[Any], features: list[str] | None = None) -> OnlineLookup:
        """Rows for a batch of keys (a key is a value or, for composite keys, a tuple)."""

    def read_one(self, name: str, key: Any, features: list[str] | None = None) -> dict | None:
        """The row for one key, or None when the key is unknown."""
        return self.read(name, [key], features).rows.get(as_key(key))

    @abstractmethod
    def drop(self, name: str) -> None:
        """Remove what is published for `name`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def _require(self, name: str) -> OnlineTableInfo:
        info = self.info(name)
        if info is None:
            raise LookupError(
                f"online store {self.kind}: feature table {name!r} is not published; "
                "run publish_table first"
            )
        return info

    @staticmethod
    def _select(info: OnlineTableInfo, features: list[str] | None) -> list[int]:
        if features is None:
            return list(range(len(info.columns)))
        unknown = [f for f in features if f not in info.columns]
        if unknown:
            raise KeyError(f"features {unknown} are not published for {info.name!r}")
        return [info.columns.index(f) for f in features]
