"""Readers that expose each source kind to DuckDB as a raw relation (SQL text)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from churnops.data import storage
from churnops.data.datasets import dataset_path
from churnops.data.sources.config import ColumnMapping, SourceConfig
from churnops.data.sources.validation import SourceError

CDNOW_MAPPINGS = {
    "master": ColumnMapping(
        customer_id="customer_id",
        order_date="date",
        amount="dollar_value",
        quantity="number_of_cds",
    ),
    "sample": ColumnMapping(
        customer_id="master_id", order_date="date", amount="dollar_value", quantity="number_of_cds"
    ),
}
_CDNOW_COLUMNS = {
    "master": ["customer_id", "date", "number_of_cds", "dollar_value"],
    "sample": ["master_id", "sample_id", "date", "number_of_cds", "dollar_value"],
}


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _existing(path: str | None, kind: str) -> storage.Location:
    """The source's location (a local path or an object-store URI), checked to exist."""
    if not path:
        raise SourceError(f"source kind {kind!r} needs 'path' (a file or folder), got none")
    loc = storage.location(path)
    if not storage.exists(loc):
        raise SourceError(f"source path {loc.uri!r} (kind {kind!r}) does not exist")
    return loc


_ERRORS_TABLE = "churnops_csv_errors"  # not a Python name DuckDB could scan by mistake


def csv_header(path: Path, delimiter: str) -> list[str]:
    """The column names on a CSV's first line; an empty file or header is a clear error."""
    import csv

    with path.open(newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f, delimiter=delimiter), None)
    names = [h.strip() for h in header or []]
    if not names or not any(names):
        raise SourceError(f"csv {str(path)!r}: no header line (expected column names first)")
    blank = [i + 1 for i, n in enumerate(names) if not n]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if blank or duplicated:
        raise SourceError(
            f"csv {str(path)!r}: header has blank name(s) at position(s) {blank} or repeated "
            f"name(s) {duplicated}; expected one distinct name per column"
        )
    return names


def csv_relation(con: duckdb.DuckDBPyConnection, path: Path, delimiter: str) -> str:
    """Load a CSV as text columns into a temp table; malformed lines go to `csv_parse_errors`.

    The dialect is stated, not sniffed, so a line with too few or too many fields, or an
    unclosed quote, is a rejected line (with its number and text) rather than a traceback or a
    silently merged row. An unclosed quote swallows the lines after it, as in every CSV reader:
    the report names the line where it opened.
    """
    names = csv_header(path, delimiter)
    columns = "{" + ", ".join(f"{_sql_str(n)}: 'VARCHAR'" for n in names) + "}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE csv_raw AS SELECT * FROM read_csv({_sql_str(str(path))}, "
        f"header=true, auto_detect=false, columns={columns}, delim={_sql_str(delimiter)}, "
        "quote='\"', escape='\"', store_rejects=true, rejects_table='csv_errors_all', "
        "rejects_scan='csv_scans_all')"
    )
    con.execute(
        # DuckDB reports a short line once per missing field: one entry per line here.
        f"CREATE OR REPLACE TEMP TABLE {_ERRORS_TABLE} AS SELECT line, min(error_type), "
        "min(csv_line), min(error_message) FROM csv_errors_all GROUP BY line ORDER BY line"
    )
    return "SELECT * FROM csv_raw"


def csv_parse_errors(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, str, str]]:
    """(line, error type, raw text, message) of each malformed line of the last CSV loaded."""
    tables = con.execute(
        f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{_ERRORS_TABLE}'"
    ).fetchall()
    if not tables[0][0]:
        return []  # no CSV was read on this connection
    return con.execute(f"SELECT * FROM {_ERRORS_TABLE}").fetchall()


def raw_relation(
    con: duckdb.DuckDBPyConnection, cfg: SourceConfig
) -> tuple[str, ColumnMapping, str | None, str]:
    """Return (raw SQL, column mapping, date format, label) for a source config."""
    if cfg.kind == "cdnow":
        # Whitespace-separated with leading blanks; ids and dates are read as strings so that
        # zero-padded ids survive.
        path = dataset_path("cdnow") / f"CDNOW_{cfg.variant}.txt"
        names = _CDNOW_COLUMNS[cfg.variant]
        lines = path.read_text().split("\n")
        rows = [ln.split() for ln in lines if ln.strip()]
        if cfg.variant == "master":
            rows = rows[1:]  # header
        import pyarrow as pa

        table = pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})
        con.register("cdnow_raw", table)
        return "SELECT * FROM cdnow_raw", CDNOW_MAPPINGS[cfg.variant], "%Y%m%d", path.name
    p = _existing(cfg.path, cfg.kind)
    if cfg.kind == "csv" and p.is_local:
        sql = csv_relation(con, p.local_path(), cfg.delimiter)
    elif cfg.kind == "csv":
        # DuckDB reads no object store here (no httpfs): the CSV is copied to a local temp
        # file, loaded into DuckDB (csv_relation materialises it), and the copy deleted.
        with tempfile.TemporaryDirectory(prefix="churnops-csv-") as folder:
            local = storage.download(p, Path(folder) / p.name)
            try:
                sql = csv_relation(con, local, cfg.delimiter)
            except SourceError as exc:  # name the source, not the temporary copy
                raise SourceError(str(exc).replace(str(local), p.uri)) from None
    elif cfg.kind in ("parquet", "synthetic") and p.is_local:
        path = p.local_path()
        target = str(path / "*.parquet") if path.is_dir() else str(path)
        sql = f"SELECT * FROM read_parquet({_sql_str(target)})"
    elif cfg.kind in ("parquet", "synthetic"):
        con.register("parquet_raw", storage.parquet_dataset(p))  # scanned lazily by DuckDB
        sql = "SELECT * FROM parquet_raw"
    elif cfg.kind == "delta":
        from deltalake.exceptions import TableNotFoundError

        from churnops.data.delta_tables import arrow_dataset, open_table

        try:
            dataset = arrow_dataset(open_table(p))
        except TableNotFoundError as exc:
            raise SourceError(f"source path {p.uri!r} is not a Delta table: {exc}") from None
        con.register("delta_raw", dataset)
        sql = "SELECT * FROM delta_raw"
    else:  # pragma: no cover - Literal in the config forbids it
        raise SourceError(f"unknown source kind {cfg.kind!r}")
    return sql, cfg.columns, cfg.date_format, p.uri
