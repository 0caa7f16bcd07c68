"""The default engine: SQLFrame's PySpark API compiled to DuckDB SQL, in-process."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

# DuckDB's own default is 80% of RAM, which lets one step of a 10M-customer run take most of
# a shared machine before it spills. Lower is not always better: the customer-features query
# (window functions over every order) fails rather than spills below ~300 MiB per 1M customers
# with two threads (measured at 1M customers: 200 MiB fails, 300 MiB completes), so 10M
# customers need about 3 GiB. A quarter of RAM, capped at 3 GiB, leaves a 4 GiB step ~1 GiB
# for Python and the Arrow it holds; raise `memory_limit` on a bigger machine, lower it (and
# `threads`) on a smaller one.
DEFAULT_MEMORY_FRACTION = 0.25
DEFAULT_MEMORY_CAP = 3 << 30
MIN_MEMORY = 256 << 20
_spill_dirs: dict[int, str] = {}
_configured: set[int] = set()  # connections already bounded (by id): later defaults keep them


def physical_memory() -> int:
    """Bytes of physical RAM (0 when the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def default_memory_limit() -> str:
    """A quarter of physical RAM, at least 256 MiB and at most 3 GiB, as DuckDB text."""
    ram = physical_memory() or DEFAULT_MEMORY_CAP * 4
    limit = max(MIN_MEMORY, min(DEFAULT_MEMORY_CAP, int(ram * DEFAULT_MEMORY_FRACTION)))
    return f"{limit >> 20}MiB"


def default_temp_directory() -> str:
    """A spill folder of this process's own (removed at exit): DuckDB names its spill files
    the same in every process, so two processes must not share one folder."""
    pid = os.getpid()
    if pid not in _spill_dirs:  # a forked child makes its own
        _spill_dirs[pid] = tempfile.mkdtemp(prefix="churnops-duckdb-spill-")
        atexit.register(shutil.rmtree, _spill_dirs[pid], ignore_errors=True)
    return _spill_dirs[pid]


def configure_connection(
    connection: duckdb.DuckDBPyConnection,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
) -> None:
    """Bound a DuckDB connection's memory: `memory_limit` (e.g. "2GiB"), spilling past it to
    `temp_directory`. A setting left None takes the default the first time the connection is
    configured, and is left as it is after: an engine made later by library code with no
    options must not undo what the user configured.
    """
    first = id(connection) not in _configured
    settings: dict[str, Any] = {}
    if memory_limit or first:
        settings["memory_limit"] = memory_limit or default_memory_limit()
    if temp_directory or first:
        wanted = str(temp_directory or default_temp_directory())
        current = connection.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        if wanted != current:  # DuckDB refuses to switch once the folder has been spilled to
            settings["temp_directory"] = wanted
    if threads:
        settings["threads"] = int(threads)
    for key, value in settings.items():
        try:
            connection.execute(f"SET {key} = {_literal(value)}")
        except duckdb.Error as exc:
            raise ValueError(f"engine.duckdb.{key}={value!r}: DuckDB refused it ({exc})") from None
    _configured.add(id(connection))


class DuckDBEngine:
    """PySpark DataFrame API over an in-process DuckDB connection (SQLFrame).

    SQLFrame keeps one session per process (its functions look up "the active session"), so every
    DuckDBEngine shares that session; `connection` only applies to the first one created, while
    `threads`, `memory_limit` and `temp_directory`, when given, apply to the shared connection
    each time (see `configure_connection`).

    Args:
        connection: the DuckDB connection for the first session of the process.
        threads: DuckDB worker threads (None: DuckDB's default, one per core).
        memory_limit: DuckDB's buffer limit, e.g. "4GiB" (None: `default_memory_limit()`);
            past it, sorts, joins and aggregations spill to `temp_directory`.
        temp_directory: the spill folder (None: a temporary folder of this process's own).
    """

    name = "duckdb"
    _views = itertools.count()

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection | None = None,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
    ):
        from sqlframe.duckdb import DuckDBSession

        self.session = DuckDBSession(conn=connection)
        # The cursor SQLFrame runs its queries on: registered Arrow objects are per cursor.
        self.connection = self.session._cur
        configure_connection(self.connection, threads, memory_limit, temp_directory)

    def read_parquet(self, path: str | Path) -> Any:
        # A view over read_parquet rather than session.read.parquet, whose TRY_CAST of every
        # column on every row costs more than the feature query itself on small data.
        path = Path(path)
        target = str(path / "*.parquet") if path.is_dir() else str(path)
        name = f"churnops_parquet_{next(self._views)}"
        quoted = target.replace("'", "''")
        self.connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{quoted}')")
        return self.session.table(name)

    def from_arrow(self, table: pa.Table) -> Any:
        # Zero-copy, unlike createDataFrame's row literals. SQLFrame resolves columns through the
        # main catalog, where neither registered objects nor temp views appear: hence a plain view.
        name = f"churnops_arrow_{next(self._views)}"
        self.connection.register(f"{name}_src", table)
        self.connection.execute(f"CREATE VIEW {name} AS SELECT * FROM {name}_src")
        return self.session.table(name)

    def to_arrow(self, df: Any) -> pa.Table:
        return df.toArrow()

    def view(self, df: Any, name: str) -> Any:
        self.connection.execute(f"CREATE OR REPLACE VIEW {_quote(name)} AS {self.compile(df)}")
        return self.session.table(name)

    def compile(self, df: Any) -> str:
        # SQLFrame builds and generates SQL in Python (sqlglot): for a wide aggregation that
        # takes longer than DuckDB takes to run it on a small input. This is the text
        # `toArrow` runs (its dialect is tuned to the DuckDB version; `df.sql()` is Spark's).
        return compile_frame(df)

    def run_sql(self, sql: str) -> pa.Table:
        return self.connection.sql(sql).to_arrow_table()

    def stop(self) -> None:
        """Nothing to release: the shared session lives as long as the process."""


def compile_frame(df: Any) -> str:
    """The DuckDB SQL a SQLFrame DataFrame runs (see `DuckDBEngine.compile`)."""
    statements = [df.session._to_sql(e) for e in df._get_expressions(optimize=False)]
    if len(statements) != 1:  # a cached DataFrame adds CACHE TABLE statements
        raise ValueError(f"expected one SQL statement for the DataFrame, got {len(statements)}")
    return statements[0]


def record_batches(df: Any, batch_rows: int = 65_536, order_by: list[str] | None = None) -> Any:
    """A SQLFrame DataFrame as a `pyarrow.RecordBatchReader` of about `batch_rows` rows each,
    sorted by `order_by` when given: DuckDB streams (and spills a sort) rather than
    materialising the whole result."""
    sql = compile_frame(df)
    if order_by:
        sql = f"SELECT * FROM ({sql}) ORDER BY {', '.join(_quote(c) for c in order_by)}"
    return df.session._cur.sql(sql).fetch_record_batch(batch_rows)


def copy_to_parquet(df: Any, path: str | Path, order_by: list[str] | None = None) -> int:
    """Write a SQLFrame DataFrame to one Parquet file with DuckDB's COPY (streamed, a sort
    spilled to disk), through a temporary name so no half-written file is left. Returns rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sql = compile_frame(df)
    if order_by:
        sql = f"SELECT * FROM ({sql}) ORDER BY {', '.join(_quote(c) for c in order_by)}"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        cursor = df.session._cur
        cursor.execute(f"COPY ({sql}) TO {_literal(str(tmp))} (FORMAT parquet)")
        rows = cursor.fetchall()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return int(rows[0][0]) if rows and rows[0] else -1


def _literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
