"""Turn a raw orders relation into clean canonical orders, rejecting bad rows into a report.

Runs as DuckDB SQL over the raw source, so it streams files far larger than memory. A bad row
(null key, unparseable date, non-numeric amount or quantity) is never silently dropped: it is
counted by reason, sampled into the report and written whole to a rejects file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from churnops.data.sources.config import ColumnMapping
from churnops.data.sources.sorted_orders import write_sorted_orders


class SourceError(ValueError):
    """A source that cannot be read as orders (missing file or column)."""


@dataclass
class RejectReport:
    """What a load accepted and rejected, by reason, with a sample of rejected raw rows."""

    source: str
    rows_read: int = 0
    rows_accepted: int = 0
    orders: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    sample: list[dict[str, object]] = field(default_factory=list)
    rejects_path: str | None = None
    # CSV lines that could not be split into the header's fields: line number, text, why.
    malformed_lines: list[dict[str, object]] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    def to_json(self) -> str:
        return json.dumps(
            {**asdict(self), "rows_rejected": self.rows_rejected}, indent=2, default=str
        )

    def summary(self) -> str:
        if not self.rejected:
            return f"{self.source}: {self.rows_read:,} rows read, none rejected"
        reasons = ", ".join(f"{n:,} {why}" for why, n in sorted(self.rejected.items()))
        return (
            f"{self.source}: {self.rows_read:,} rows read, {self.rows_rejected:,} rejected "
            f"({reasons}); rejected rows kept in {self.rejects_path}"
        )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _typed_select(
    columns: dict[str, str], mapping: ColumnMapping, date_format: str | None
) -> tuple[str, str]:
    """SQL select list that types each canonical column, and the CASE that names a bad row."""
    cust, dt = (_quote(getattr(mapping, c)) for c in ("customer_id", "order_date"))
    date_type = columns[mapping.order_date].upper()
    if date_type == "DATE" or date_type.startswith("TIMESTAMP"):
        date_sql = f"CAST({dt} AS DATE)"
    elif date_format:
        fmt = date_format.replace("'", "''")
        date_sql = f"CAST(try_strptime(TRIM(CAST({dt} AS VARCHAR)), '{fmt}') AS DATE)"
    else:
        date_sql = f"TRY_CAST(TRIM(CAST({dt} AS VARCHAR)) AS DATE)"
    qty_sql = (
        _number(mapping.quantity, columns[mapping.quantity], "BIGINT")
        if mapping.quantity
        else "CAST(1 AS BIGINT)"
    )
    oid_sql = (
        f"NULLIF(TRIM(CAST({_quote(mapping.order_id)} AS VARCHAR)), '')"
        if mapping.order_id
        else "NULL"
    )
    select = (
        f"NULLIF(TRIM(CAST({cust} AS VARCHAR)), '') AS customer_id, {oid_sql} AS order_id, "
        f"{date_sql} AS order_date, "
        f"{_number(mapping.amount, columns[mapping.amount], 'DOUBLE')} AS amount, "
        f"{qty_sql} AS quantity"
    )
    reason = (
        "CASE WHEN customer_id IS NULL THEN 'null customer_id' "
        "WHEN order_date IS NULL THEN 'unparseable order_date' "
        "WHEN amount IS NULL OR NOT isfinite(amount) THEN 'non-numeric amount' "
        "WHEN quantity IS NULL THEN 'non-numeric quantity' "
        + ("WHEN order_id IS NULL THEN 'null order_id' " if mapping.order_id else "")
        + "END"
    )
    return select, reason


# Numbers are cast directly rather than through text: casting 110M doubles to VARCHAR and
# back took about a third of cleaning synthetic orders. A fraction to BIGINT still goes through
# text, whose rounding (2.5 -> 3) differs from the direct cast's (2.5 -> 2).
_INTEGER_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
)  # fmt: skip
_NUMBER_TYPES = (*_INTEGER_TYPES, "FLOAT", "DOUBLE", "DECIMAL")


def _number(column: str, source_type: str, target: str) -> str:
    """SQL for `column` as `target` (DOUBLE or BIGINT), NULL where it does not convert (text
    that is no number, NaN, inf, overflow), with the verdicts of its text."""
    name, kind = _quote(column), source_type.upper().split("(")[0]
    if kind in (_INTEGER_TYPES if target == "BIGINT" else _NUMBER_TYPES):
        return f"TRY_CAST({name} AS {target})"
    return f"TRY_CAST(TRIM(CAST({name} AS VARCHAR)) AS {target})"


def count_malformed(
    report: RejectReport, malformed: list[tuple[int, str, str, str]], keep: int = 100
) -> None:
    """Add malformed CSV lines to `report`: counted by error type, the first `keep` kept whole."""
    for line, error_type, text, message in malformed:
        why = f"malformed csv line ({error_type.lower()})"
        report.rejected[why] = report.rejected.get(why, 0) + 1
        if len(report.malformed_lines) < keep:
            report.malformed_lines.append(
                {"line": line, "error": message, "text": text[:500]}  # an unclosed quote: long
            )
    report.rows_read += len(malformed)


def clean_orders(
    con: duckdb.DuckDBPyConnection,
    raw_sql: str,
    mapping: ColumnMapping,
    out_path: Path,
    source: str,
    date_format: str | None = None,
    sample_size: int = 5,
    malformed: list[tuple[int, str, str, str]] = (),  # type: ignore[assignment]
) -> RejectReport:
    """Write clean canonical orders from `raw_sql` to `out_path` (Parquet) and report rejects.

    `malformed` are the CSV lines the reader could not split (see `readers.csv_parse_errors`);
    they count as rejected rows.

    Raises:
        SourceError: a mapped column is missing from the source.
    """
    described = con.sql(f"SELECT * FROM ({raw_sql}) LIMIT 0")
    columns = dict(zip(described.columns, (str(t) for t in described.types), strict=True))
    for canonical in ("customer_id", "order_date", "amount", "quantity", "order_id"):
        name = getattr(mapping, canonical)
        if name is not None and name not in columns:
            raise SourceError(
                f"source {source!r}: required column {name!r} (for {canonical}) is missing; "
                f"columns found: {', '.join(columns)}"
            )
    select, reason = _typed_select(columns, mapping, date_format)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW typed AS "
        # The raw row rides along as one struct, so a source column named like a canonical one
        # (amount, quantity, ...) cannot shadow its typed value.
        f"SELECT *, {reason} AS reject_reason FROM (SELECT {select}, raw AS __raw "
        f"FROM ({raw_sql}) raw)"
    )
    report = RejectReport(source=source)
    for why, n in con.sql("SELECT reject_reason, count(*) FROM typed GROUP BY ALL").fetchall():
        if why is None:
            report.rows_accepted = n
        else:
            report.rejected[why] = n
    report.rows_read = report.rows_accepted + report.rows_rejected
    count_malformed(report, list(malformed))

    out_path.parent.mkdir(parents=True, exist_ok=True)
    if report.rejected:
        rel = con.sql(
            "SELECT reject_reason, __raw.* FROM typed "
            f"WHERE reject_reason IS NOT NULL LIMIT {int(sample_size)}"
        )
        report.sample = [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]
        rejects = out_path.with_name(out_path.stem + ".rejects.parquet")
        _copy_atomic(
            con,
            "SELECT reject_reason, __raw.* FROM typed WHERE reject_reason IS NOT NULL",
            rejects,
        )
        report.rejects_path = str(rejects)

    # Several source rows can make one order: CDNOW has one row per title bought, and we define
    # an order as customer + day when the source has no order id.
    if mapping.order_id:
        aggregate = (
            "SELECT customer_id, order_id, min(order_date) AS order_date, sum(amount) AS amount, "
            "CAST(sum(quantity) AS BIGINT) AS quantity FROM accepted_orders GROUP BY ALL"
        )
    else:
        aggregate = (
            "SELECT customer_id, customer_id || ':' || strftime(order_date, '%Y%m%d') AS order_id, "
            "order_date, sum(amount) AS amount, CAST(sum(quantity) AS BIGINT) AS quantity "
            "FROM accepted_orders GROUP BY customer_id, order_date"
        )
    accepted = (
        "SELECT customer_id, order_id, order_date, amount, quantity FROM typed "
        "WHERE reject_reason IS NULL"
    )
    write_sorted_orders(con, accepted, aggregate, report.rows_accepted, out_path)
    report.orders = con.execute(f"SELECT count(*) FROM read_parquet('{out_path}')").fetchall()[0][0]
    return report


def _copy_atomic(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    """COPY a query to Parquet through a temporary name, so no half-written file is left."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        con.execute(f"COPY ({sql}) TO '{tmp}' (FORMAT parquet)")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
