"""`PreparedQueries`: a refresh's aggregation queries, compiled once and kept with its state.

On the duckdb engine SQLFrame builds and compiles a refresh's wide aggregations in Python
(about 0.3 s for the three of a window), longer than DuckDB takes to run them over one new
window. Their text does not change between refreshes: they read views with stable names, and
what changes (the new files, the first window to recompute) lives in those views. So a refresh
runs the text an earlier refresh compiled, and compiles only what it has not seen. Spark plans
queries in the JVM: there nothing is kept and each query is built as usual.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa

# The modules whose code shapes the queries (paths under churnops/monitoring/): an edit to any
# of them invalidates what was kept.
_QUERY_SOURCES = (
    "labels.py",
    "refresh/frames.py",
    "refresh/prepared.py",
    "refresh/profile.py",
    "refresh/quality.py",
    "refresh/run.py",
)
_LIBRARIES = ("sqlframe", "sqlglot", "duckdb")


class PreparedQueries:
    """Run DataFrame queries by name, reusing SQL compiled for the same name and context.

    Args:
        engine: the engine that runs them.
        context: everything the queries depend on besides their name (config, columns, bin
            specs, schemas, view names); JSON-serialisable.
        stored: `{key: sql}` kept by an earlier refresh (`kept`).
    """

    def __init__(self, engine: Any, context: Any, stored: dict[str, str] | None = None):
        self.engine = engine
        self._context = digest([context, _code_and_libraries()])
        self._stored = dict(stored or {})
        self.kept: dict[str, str] = {}  # what this refresh ran, to store with its state
        self.compiled = 0  # queries this refresh had to build and compile

    def collect(self, name: str, build: Callable[[], Any]) -> pa.Table:
        """The result of the query `build()` returns, as Arrow with every field nullable.

        `build` is called only when no SQL is kept for `name` in this context.
        """
        key = digest([self._context, name])
        sql = self._stored.get(key)
        if sql is None:
            df = build()
            sql = self.engine.compile(df)
            self.compiled += 1
            if sql is None:  # an engine that keeps no SQL text
                return _nullable(self.engine.to_arrow(df))
        self.kept[key] = sql
        return _nullable(self.engine.run_sql(sql))


def _nullable(table: pa.Table) -> pa.Table:
    # Spark marks some fields NOT NULL and DuckDB does not; the tables of both must concatenate.
    return table.cast(pa.schema([f.with_nullable(True) for f in table.schema]))


def digest(value: Any, length: int = 24) -> str:
    """A short, stable hash of a JSON-serialisable value (keys sorted)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


_CODE: str | None = None


def _code_and_libraries() -> str:
    """A digest of the query-building code and the versions of the libraries that compile it."""
    global _CODE
    if _CODE is None:
        here = Path(__file__).parents[1]  # churnops/monitoring/
        parts = [(here / name).read_text() for name in _QUERY_SOURCES]
        for lib in _LIBRARIES:
            try:
                parts.append(f"{lib}=={metadata.version(lib)}")
            except metadata.PackageNotFoundError:
                parts.append(f"{lib} absent")
        _CODE = digest(parts)
    return _CODE
