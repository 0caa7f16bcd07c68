"""Readers that expose each source kind to DuckDB as a raw relation (SQL text)."""

from __future__ import annotations

from pathlib import Path

import duckdb

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


def _existing(path: str | None, kind: str) -> Path:
    if not path:
        raise SourceError(f"source kind {kind!r} needs 'path' (a file or folder), got none")
    p = Path(path).expanduser()
    if not p.exists():
        raise SourceError(f"source path {str(p)!r} (kind {kind!r}) does not exist")
    return p


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
    if cfg.kind == "csv":
        sql = (
            f"SELECT * FROM read_csv({_sql_str(str(p))}, all_varchar=true, header=true, "
            f"delim={_sql_str(cfg.delimiter)})"
        )
    elif cfg.kind in ("parquet", "synthetic"):
        target = str(p / "*.parquet") if p.is_dir() else str(p)
        sql = f"SELECT * FROM read_parquet({_sql_str(target)})"
    elif cfg.kind == "delta":
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        from churnops.data.delta_tables import arrow_dataset

        try:
            dataset = arrow_dataset(DeltaTable(str(p)))
        except TableNotFoundError as exc:
            raise SourceError(f"source path {str(p)!r} is not a Delta table: {exc}") from None
        con.register("delta_raw", dataset)
        sql = "SELECT * FROM delta_raw"
    else:  # pragma: no cover - Literal in the config forbids it
        raise SourceError(f"unknown source kind {cfg.kind!r}")
    return sql, cfg.columns, cfg.date_format, str(p)
