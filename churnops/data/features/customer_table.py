"""A customer table's settings from what a person types: the table kind from its path, label
values from 'raw=0|1' pairs, 'none' for an id column to make from the row number."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from churnops.data.sources.customers import CustomerTableConfig

TableKind = Literal["csv", "parquet", "delta", "table"]
CSV_SUFFIXES = (".csv", ".tsv", ".txt")  # read as CSV; any other path as Parquet or Delta


def infer_table_kind(path: str | Path) -> TableKind:
    """csv for .csv/.tsv/.txt, delta for a folder with a _delta_log, else parquet."""
    p = Path(path)
    if p.suffix.lower() in CSV_SUFFIXES:
        return "csv"
    return "delta" if (p / "_delta_log").is_dir() else "parquet"


def parse_label_values(text: str, *, field: str = "label_values") -> dict[str, int]:
    """'Churned=1,Active=0' -> {'churned': 1, 'active': 0}; a malformed pair is a ValueError
    naming `field`."""
    pairs = [p.partition("=") for p in text.split(",")]
    if any(not sep or value.strip() not in ("0", "1") for _, sep, value in pairs):
        raise ValueError(f"{field}={text!r}: expected raw=0|1 pairs, e.g. 'Yes=1,No=0'")
    return {k.strip().lower(): int(v) for k, _, v in pairs}


def parse_names(text: str | None) -> list[str]:
    """'a, b,' -> ['a', 'b']."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def customer_table_config(
    path: str,
    *,
    kind: TableKind | None = None,
    id_column: str = "customer_id",
    label_column: str = "churn",
    label_values: dict[str, int] | None = None,
    categorical: str | None = None,
    numeric: str | None = None,
    invalid_values: Literal["missing", "reject"] = "missing",
    delimiter: str = ",",
) -> CustomerTableConfig:
    """The `CustomerTableConfig` for these settings as typed: `kind` None is inferred from the
    path, `id_column` 'none' makes ids from the row number, the column lists are comma-separated
    text, `label_values` None keeps the default Yes/No, 1/0 mapping (`parse_label_values` reads
    typed pairs)."""
    extra = {"label_values": label_values} if label_values is not None else {}
    return CustomerTableConfig(
        kind=kind or infer_table_kind(path),
        path=path,
        id_column=None if id_column.lower() == "none" else id_column,
        label_column=label_column,
        categorical=parse_names(categorical),
        numeric=parse_names(numeric),
        invalid_values=invalid_values,
        delimiter=delimiter,
        **extra,  # type: ignore[arg-type]
    )
