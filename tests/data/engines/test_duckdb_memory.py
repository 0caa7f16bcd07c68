"""DuckDB's memory bound: the limit and spill folder set on the connection, streamed output."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnops.data.engines.duckdb import (
    DEFAULT_MEMORY_CAP,
    DuckDBEngine,
    copy_to_parquet,
    default_memory_limit,
    physical_memory,
    record_batches,
)


def _setting(engine: DuckDBEngine, name: str) -> str:
    return engine.connection.execute(f"SELECT current_setting('{name}')").fetchone()[0]


@pytest.fixture
def restore_defaults():
    """The SQLFrame session is shared by the process: put the default bound back after."""
    engine = DuckDBEngine()
    limit = _setting(engine, "memory_limit").replace(" ", "").replace(".0", "")
    yield
    DuckDBEngine(memory_limit=limit)


def _mib(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "TiB": 1 << 20}[unit]


def test_default_limit_is_bounded_and_spills_to_a_folder_of_the_process(restore_defaults):
    engine = DuckDBEngine()
    limit = _mib(_setting(engine, "memory_limit"))
    # Not DuckDB's own default (80% of RAM): at most 3 GiB, and no more than a quarter of RAM.
    assert limit <= DEFAULT_MEMORY_CAP >> 20
    assert limit <= physical_memory() / 4 / (1 << 20) + 1
    spill = Path(_setting(engine, "temp_directory"))
    assert spill.is_dir() and spill.name.startswith("churnops-duckdb-spill-")
    assert default_memory_limit().endswith("MiB")


def test_settings_from_the_constructor_reach_the_connection(restore_defaults):
    engine = DuckDBEngine(threads=1, memory_limit="300MiB")
    assert _setting(engine, "memory_limit") == "300.0 MiB"
    assert int(_setting(engine, "threads")) == 1
    # An engine made later with no options (library code) keeps what was configured.
    assert _setting(DuckDBEngine(), "memory_limit") == "300.0 MiB"


def test_a_spill_folder_is_set_on_a_fresh_connection(tmp_path):
    import duckdb

    from churnops.data.engines.duckdb import configure_connection

    con = duckdb.connect()
    configure_connection(con, memory_limit="200MiB", temp_directory=str(tmp_path))
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(tmp_path)
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "200.0 MiB"


def test_a_bad_limit_names_the_setting(restore_defaults):
    with pytest.raises(ValueError, match=r"engine\.duckdb\.memory_limit='lots'"):
        DuckDBEngine(memory_limit="lots")


def test_a_sort_larger_than_the_limit_spills_and_completes(tmp_path, restore_defaults):
    engine = DuckDBEngine(threads=1, memory_limit="64MiB")
    n = 3_000_000  # ~100 MB of rows to sort: more than the limit holds
    df = engine.session.sql(
        f"SELECT (i * 7919) % {n} AS k, repeat('x', 20) || i AS pad FROM range({n}) t(i)"
    )
    out = tmp_path / "sorted.parquet"
    assert copy_to_parquet(df, out, order_by=["k"]) == n
    keys = pq.read_table(out, columns=["k"])["k"]
    assert keys[0].as_py() == 0 and keys[-1].as_py() == n - 1
    assert pa.compute.all(pa.compute.greater_equal(keys[1:], keys[:-1])).as_py()
    assert not list(tmp_path.glob(".sorted.parquet.tmp-*"))


def test_record_batches_stream_in_order_and_equal_the_whole_result(duckdb_engine):
    table = pa.table({"k": list(range(10_000, 0, -1)), "v": [float(i) for i in range(10_000)]})
    df = duckdb_engine.from_arrow(table)
    reader = record_batches(df, batch_rows=2048, order_by=["k"])
    batches = list(reader)
    assert len(batches) > 1 and all(b.num_rows <= 2048 for b in batches)
    assert pa.Table.from_batches(batches).equals(table.sort_by("k"))


def test_a_failed_copy_leaves_no_file(tmp_path, duckdb_engine):
    failing = duckdb_engine.session.sql(
        "SELECT CASE WHEN i = 99999 THEN error('boom') ELSE i END AS i FROM range(100000) t(i)"
    )
    out = tmp_path / "out.parquet"
    with pytest.raises(Exception, match="boom"):
        copy_to_parquet(failing, out)
    assert list(tmp_path.iterdir()) == []
