"""Customer tables: one row per customer with a label, from CSV, Parquet, Delta or a feature table.

Column types are inferred (numeric when its values parse as numbers, categorical otherwise) and
reported; blanks become missing values; unparseable numbers follow `invalid_values` (missing or
reject the row); a label outside `label_values` rejects the row. Every decision is counted per
column and reason in a `CustomerTableReport`, never a traceback.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
from pydantic import Field

from churnops.config import StrictConfig
from churnops.data.schema import THOUSANDS
from churnops.data.sources.readers import csv_parse_errors, csv_relation
from churnops.data.sources.validation import SourceError

# Labels accepted out of the box, compared case-insensitively after trimming.
DEFAULT_LABEL_VALUES = {"1": 1, "0": 0, "yes": 1, "no": 0, "true": 1, "false": 0, "y": 1, "n": 0}
MADE_ID = "customer_id"  # the id column made (from the row number) when the table has none
NUMERIC_SHARE = 0.8  # numeric when this share of non-blank values parse (rest: the policy)


class CustomerTableConfig(StrictConfig):
    """A customer table: where it is, its id and label columns, and how to treat bad values."""

    kind: Literal["csv", "parquet", "delta", "table"] = "csv"
    path: str  # file or folder; for kind "table", the feature table's name (catalog.schema.t)
    store_root: str = ".churnops/feature_store"  # kind "table": the local feature store's root
    id_column: str | None = "customer_id"  # None: ids are made from the row number
    label_column: str = "churn"
    # Raw label -> 0/1, compared case-insensitively after trimming; others reject the row.
    label_values: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_LABEL_VALUES))
    features: list[str] | None = None  # None: every column but the label (and id)
    categorical: list[str] = Field(default_factory=list)  # forced categorical; others inferred
    numeric: list[str] = Field(default_factory=list)  # forced numeric; others inferred
    invalid_values: Literal["missing", "reject"] = "missing"  # an unparseable number
    delimiter: str = ","  # csv only


@dataclass
class CustomerTableReport:
    """What a load read, inferred, accepted and rejected (by reason), and what it made missing."""

    source: str
    rows_read: int = 0
    rows_accepted: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # feature -> numeric | categorical
    id_column: str = MADE_ID
    id_made: bool = False
    label_counts: dict[int, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    missing: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> reason -> n
    # numbers written with thousands separators ("1,889.5"), read as numbers: column -> n
    thousands: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is no feature
    sample: list[dict[str, object]] = field(default_factory=list)
    malformed_lines: list[dict[str, object]] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    def to_json(self) -> str:
        return json.dumps(
            {**asdict(self), "rows_rejected": self.rows_rejected}, indent=2, default=str
        )

    def summary(self) -> str:
        """One paragraph: rows, rejects by reason, values made missing by column and reason."""
        text = f"{self.source}: {self.rows_read:,} rows read, {self.rows_accepted:,} accepted"
        if self.rejected:
            reasons = ", ".join(f"{n:,} {why}" for why, n in sorted(self.rejected.items()))
            text += f", {self.rows_rejected:,} rejected ({reasons})"
        if self.missing:
            gaps = "; ".join(
                f"{col}: " + ", ".join(f"{n:,} {why}" for why, n in sorted(reasons.items()))
                for col, reasons in self.missing.items()
            )
            text += f"; missing values: {gaps}"
        if self.thousands:
            read = ", ".join(f"{col}: {n:,}" for col, n in self.thousands.items())
            text += f"; numbers with thousands separators read as numbers: {read}"
        if self.dropped:
            dropped = ", ".join(f"{c} ({why})" for c, why in self.dropped.items())
            text += f"; not features: {dropped}"
        return text


@dataclass
class CustomerTable:
    """A clean customer table: id (string), features (float64 or string), label (int64 0/1)."""

    table: pa.Table
    report: CustomerTableReport

    @property
    def feature_columns(self) -> list[str]:
        return list(self.report.columns)

    @property
    def categorical(self) -> list[str]:
        return [c for c, kind in self.report.columns.items() if kind == "categorical"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(name: str) -> str:
    """A column as trimmed text, blank -> NULL."""
    return f"NULLIF(TRIM(CAST({_quote(name)} AS VARCHAR)), '')"


def _grouped(text: str) -> str:
    """Whether a text value is a number with thousands separators ("1,889.5")."""
    return f"regexp_full_match({text}, '{THOUSANDS}')"


def _number(text: str) -> str:
    """A text value as DOUBLE (NULL when it is not a number); "1,889.5" -> 1889.5, as the
    logged model reads it (`churnops.models.encoding.parse_numbers`)."""
    return (
        f"TRY_CAST(CASE WHEN {_grouped(text)} THEN replace({text}, ',', '') ELSE {text} END "
        "AS DOUBLE)"
    )


def _raw_sql(con: duckdb.DuckDBPyConnection, cfg: CustomerTableConfig) -> tuple[str, str]:
    """(SQL of the raw table, a label for the report)."""
    if cfg.kind == "table":
        from churnops.data.feature_store.local import LocalFeatureStore

        store = LocalFeatureStore(cfg.store_root)
        try:
            path = Path(store.get_table(cfg.path).path)
        except Exception as exc:  # the store's own error names the table; keep its words
            raise SourceError(f"customer table {cfg.path!r}: {exc}") from None
        return _delta_sql(con, path), cfg.path
    path = Path(cfg.path).expanduser()
    if not path.exists():
        raise SourceError(f"customer table path {str(path)!r} (kind {cfg.kind!r}) does not exist")
    if cfg.kind == "csv":
        return csv_relation(con, path, cfg.delimiter), str(path)
    if cfg.kind == "parquet":
        target = str(path / "*.parquet") if path.is_dir() else str(path)
        try:
            con.sql(f"SELECT * FROM read_parquet('{target}') LIMIT 0")
        except duckdb.Error as exc:
            raise SourceError(
                f"customer table {str(path)!r}: not readable as Parquet ({exc}); for a CSV "
                "file use kind: csv"
            ) from None
        return f"SELECT * FROM read_parquet('{target}')", str(path)
    return _delta_sql(con, path), str(path)


def _delta_sql(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    from churnops.data.delta_tables import arrow_dataset

    try:
        con.register("delta_raw", arrow_dataset(DeltaTable(str(path))))
    except TableNotFoundError as exc:
        raise SourceError(f"customer table {str(path)!r} is not a Delta table: {exc}") from None
    return "SELECT * FROM delta_raw"


def _feature_names(columns: list[str], cfg: CustomerTableConfig) -> list[str]:
    needed = [cfg.label_column, *([cfg.id_column] if cfg.id_column else [])]
    needed += [*(cfg.features or []), *cfg.categorical, *cfg.numeric]
    missing = [c for c in dict.fromkeys(needed) if c not in columns]
    if missing:
        hint = "check label_column, id_column, features, categorical, numeric"
        if cfg.id_column in missing:
            hint = (
                f"id_column={cfg.id_column!r}: name your id column (--id-column / "
                "data.id_column), or for a table without ids --id-column none "
                "(data.id_column=null) numbers the rows"
            )
        raise SourceError(
            f"customer table: column(s) {missing} not found; columns are {columns} ({hint})"
        )
    both = sorted(set(cfg.categorical) & set(cfg.numeric))
    if both:
        raise SourceError(f"customer table: {both} listed as both categorical and numeric")
    if cfg.features is not None:
        return list(cfg.features)  # an id that is also a feature stays a feature
    return [c for c in columns if c not in (cfg.label_column, cfg.id_column)]


def _infer_types(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    features: list[str],
    cfg: CustomerTableConfig,
    report: CustomerTableReport,
) -> dict[str, str]:
    """numeric | categorical per feature: forced by config, else by how its values parse.

    A column blank in every row is no feature (reported in `report.dropped`); when listed in
    `features` it is an error. Numbers with thousands separators are counted in the report.
    """
    probes = []
    for name in features:
        text = _text(name)
        probes += [
            f"count({text})",
            f"count({_number(text)})",
            f"count(*) FILTER (WHERE {_grouped(text)})",
        ]
    counts = con.execute(f"SELECT {', '.join(probes)} FROM ({raw})").fetchall()[0]
    types = {}
    for i, name in enumerate(features):
        non_blank, parsed, grouped = counts[3 * i : 3 * i + 3]
        if not non_blank:
            if cfg.features is not None:
                raise SourceError(
                    f"customer table: feature column {name!r} is blank in every row; drop it "
                    "from features"
                )
            report.dropped[name] = "blank in every row"
            continue
        if name in cfg.categorical:
            types[name] = "categorical"
        elif name in cfg.numeric:
            types[name] = "numeric"
        else:
            numeric = parsed > 0 and parsed >= NUMERIC_SHARE * non_blank
            types[name] = "numeric" if numeric else "categorical"
        if grouped and types[name] == "numeric":
            report.thousands[name] = int(grouped)
    return types


def read_customer_table(cfg: CustomerTableConfig, sample_size: int = 5) -> CustomerTable:
    """Read, type-check and clean a customer table (see the module docstring).

    Raises:
        SourceError: the table cannot be read, a configured column is missing, or no row is
            left (every label unmapped, say); the message names the column and values.
    """
    con = duckdb.connect()
    try:
        return _read(con, cfg, sample_size)
    finally:
        con.close()


def _read(
    con: duckdb.DuckDBPyConnection, cfg: CustomerTableConfig, sample_size: int
) -> CustomerTable:
    raw, source = _raw_sql(con, cfg)
    columns = con.sql(f"SELECT * FROM ({raw}) LIMIT 0").columns
    features = _feature_names(columns, cfg)
    id_name = cfg.id_column or (MADE_ID if MADE_ID not in columns else "_row_id")
    report = CustomerTableReport(source=source, id_column=id_name, id_made=cfg.id_column is None)
    types = report.columns = _infer_types(con, raw, features, cfg, report)
    features = [f for f in features if f in types]

    labels = ", ".join(
        f"({_sql(k.strip().lower())}, {int(v)})" for k, v in cfg.label_values.items()
    )
    bad_values = [v for v in cfg.label_values.values() if v not in (0, 1)]
    if bad_values:
        raise SourceError(f"label_values: {cfg.label_values} maps to {bad_values}; expected 0/1")
    select = [
        f"{_text(cfg.id_column)} AS __id" if cfg.id_column else "CAST(__row AS VARCHAR) AS __id",
        "m.v AS __label",
        f"{_text(cfg.label_column)} AS __label_raw",
    ]
    checks = []
    for i, name in enumerate(features):
        text = _text(name)
        if types[name] == "numeric":
            select += [f"{_number(text)} AS __f{i}", f"{text} AS __t{i}"]
            checks.append((name, f"__t{i} IS NOT NULL AND __f{i} IS NULL", i))
        else:
            select.append(f"{text} AS __f{i}")
    reasons = [
        "WHEN __id IS NULL THEN 'blank id'",
        "WHEN __dup > 1 THEN 'duplicate id'",
        "WHEN __label_raw IS NULL THEN 'blank label'",
        "WHEN __label IS NULL THEN 'label not in label_values'",
    ]
    if cfg.invalid_values == "reject":
        reasons += [f"WHEN {cond} THEN 'non-numeric {name}'" for name, cond, _ in checks]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE typed AS SELECT *, "
        f"CASE {' '.join(reasons)} END AS __reason FROM ("
        f"  SELECT *, row_number() OVER (PARTITION BY __id ORDER BY __row) AS __dup FROM ("
        f"    SELECT raw.*, {', '.join(select)} FROM ("
        f"      SELECT *, row_number() OVER () AS __row FROM ({raw})) raw"
        f"    LEFT JOIN (VALUES {labels}) m(k, v) ON lower({_text(cfg.label_column)}) = m.k))"
    )
    for why, n in con.sql("SELECT __reason, count(*) FROM typed GROUP BY ALL").fetchall():
        if why is None:
            report.rows_accepted = n
        else:
            report.rejected[why] = n
    report.rows_read = report.rows_accepted + report.rows_rejected
    malformed = csv_parse_errors(con)
    for line, error_type, text, message in malformed:
        why = f"malformed csv line ({error_type.lower()})"
        report.rejected[why] = report.rejected.get(why, 0) + 1
        if len(report.malformed_lines) < 100:
            report.malformed_lines.append({"line": line, "error": message, "text": text[:500]})
    report.rows_read += len(malformed)
    if report.rejected:
        rel = con.sql(
            f"SELECT __reason AS reject_reason, __row AS row_number, "
            f"{', '.join(_quote(c) for c in columns)} FROM typed "
            f"WHERE __reason IS NOT NULL ORDER BY __row LIMIT {int(sample_size)}"
        )
        report.sample = [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]
    _count_missing(con, report, features, types, checks)
    if not report.rows_accepted:
        raise SourceError(_nothing_accepted(con, report, cfg))
    rows = con.sql(
        "SELECT __label, count(*) FROM typed WHERE __reason IS NULL GROUP BY ALL ORDER BY 1"
    ).fetchall()
    report.label_counts = {int(k): int(n) for k, n in rows}

    out = [f"__id AS {_quote(id_name)}"]
    for i, name in enumerate(features):
        if name == id_name:
            continue  # an id that is also a feature: one column serves both
        out.append(f"__f{i} AS {_quote(name)}")
    out.append(f"CAST(__label AS BIGINT) AS {_quote(cfg.label_column)}")
    table = con.sql(
        f"SELECT {', '.join(out)} FROM typed WHERE __reason IS NULL ORDER BY __row"
    ).arrow()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return CustomerTable(table=table, report=report)


def _count_missing(
    con: duckdb.DuckDBPyConnection,
    report: CustomerTableReport,
    features: list[str],
    types: dict[str, str],
    checks: list[tuple[str, str, int]],
) -> None:
    """Per accepted row and column: blanks, and unparseable numbers made missing."""
    probes, keys = [], []
    for i, name in enumerate(features):
        if types[name] == "numeric":
            probes += [f"count(*) FILTER (WHERE __t{i} IS NULL)"]
            keys.append((name, "blank"))
        else:
            probes.append(f"count(*) FILTER (WHERE __f{i} IS NULL)")
            keys.append((name, "blank"))
    for name, cond, _ in checks:
        probes.append(f"count(*) FILTER (WHERE {cond})")
        keys.append((name, "non-numeric, made missing"))
    if not probes:
        return
    counts = con.execute(
        f"SELECT {', '.join(probes)} FROM typed WHERE __reason IS NULL"
    ).fetchall()[0]
    for (name, why), n in zip(keys, counts, strict=True):
        if n:
            report.missing.setdefault(name, {})[why] = int(n)


def _nothing_accepted(
    con: duckdb.DuckDBPyConnection, report: CustomerTableReport, cfg: CustomerTableConfig
) -> str:
    message = f"{report.summary()}: no row is left to train on"
    if "label not in label_values" in report.rejected:
        seen = [r[0] for r in con.sql(
            "SELECT DISTINCT __label_raw FROM typed WHERE __reason = 'label not in label_values' "
            "ORDER BY 1 LIMIT 5"  # sorted: the same message every run
        ).fetchall()]  # fmt: skip
        message += (
            f"; label column {cfg.label_column!r} holds {seen}, expected one of "
            f"{sorted(cfg.label_values)} (set label_values to map them to 0/1)"
        )
    return message


def _sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def prepare_customers(cfg: CustomerTableConfig, out_path: str | Path) -> CustomerTableReport:
    """Clean the customer table into Parquet at `out_path`, its report beside it (.report.json).

    The file appears only when complete.
    """
    import pyarrow.parquet as pq

    out_path = Path(out_path)
    result = read_customer_table(cfg)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(result.table, tmp)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    out_path.with_name(out_path.stem + ".report.json").write_text(result.report.to_json())
    return result.report
