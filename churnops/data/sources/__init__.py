"""Orders sources: bundled CDNOW, CSV / Parquet / Delta files, and a synthetic generator.

Every source becomes one clean Parquet file of canonical orders (see `churnops.data.schema`),
with a report of what was rejected and why.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from churnops.data import storage
from churnops.data.sources.config import ColumnMapping, SourceConfig
from churnops.data.sources.readers import csv_parse_errors, raw_relation
from churnops.data.sources.validation import RejectReport, SourceError, clean_orders

__all__ = ["ColumnMapping", "RejectReport", "SourceConfig", "SourceError", "prepare_orders"]


def prepare_orders(cfg: SourceConfig, out_path: str | Path) -> RejectReport:
    """Read the source, validate and normalise it, write clean orders Parquet to `out_path`.

    A synthetic source is generated first (under `cfg.path`) when it does not exist yet.
    Cleaned orders are reused: when `out_path`, or the clean-orders cache (see
    `churnops.data.sources.reuse`), already holds this source's cleaning, nothing is cleaned
    again.
    """
    from churnops.data.sources import reuse

    if not storage.is_local(out_path):
        return _prepare_to_object_store(cfg, str(out_path))
    out_path = Path(out_path)
    if cfg.kind == "synthetic":
        from churnops.data.sources.synthetic import ensure_synthetic

        cfg = ensure_synthetic(cfg)
    key = reuse.source_fingerprint(cfg)
    reused = reuse.reuse_clean_orders(key, out_path)
    if reused is not None:
        return reused
    reuse.forget(out_path)
    con = duckdb.connect()
    try:
        from churnops.data.engines.duckdb import configure_connection

        # Bounded memory, spilling past it. One thread: the aggregation and sort of 110M orders
        # ran out of memory at 1.5 GiB with two threads (each holds its own partitions) and
        # finish with one; order matters only through the explicit ORDER BY.
        configure_connection(con, threads=1)
        con.execute("SET preserve_insertion_order = false")
        sql, mapping, date_format, label = raw_relation(con, cfg)
        report = clean_orders(
            con, sql, mapping, out_path, source=label, date_format=date_format,
            malformed=csv_parse_errors(con),
        )  # fmt: skip
    finally:
        con.close()
    reuse.report_path(out_path).write_text(report.to_json())
    if report.rows_read and not report.rows_accepted:
        out_path.unlink(missing_ok=True)  # no empty orders file for a build to run on
        raise SourceError(_nothing_accepted(report, cfg))
    reuse.remember_clean_orders(key, out_path, report)
    return report


def _prepare_to_object_store(cfg: SourceConfig, uri: str) -> RejectReport:
    """`prepare_orders` to an object-store URI: cleaned into a local temporary folder (DuckDB
    writes local files), then the report and rejects uploaded beside `uri`, the orders last, so
    a reader that finds the orders finds their report too. Nothing is uploaded on an error."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="churnops-orders-") as folder:
        local = Path(folder) / storage.location(uri).name
        report = prepare_orders(cfg, local)
        for path in sorted(Path(folder).iterdir()):
            if path != local and path.is_file() and not path.name.startswith("."):
                storage.upload(path, storage.sibling(uri, path.name))
        storage.upload(local, uri)
    if report.rejects_path:
        report.rejects_path = str(storage.sibling(uri, Path(report.rejects_path).name))
    return report


def _nothing_accepted(report: RejectReport, cfg: SourceConfig) -> str:
    """Why every row was rejected, with the sample's raw values and the likely setting."""
    message = f"{report.summary()}: every row was rejected, so there are no orders to build on"
    if "unparseable order_date" in report.rejected:
        dates = [s.get(cfg.columns.order_date) for s in report.sample][:3]
        message += (
            f"; order dates such as {dates} do not parse with source.date_format="
            f"{cfg.date_format!r} (expected a strptime format matching them, e.g. '%Y-%m-%d', "
            "or null for ISO dates)"
        )
    return message
