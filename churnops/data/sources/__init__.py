"""Orders sources: bundled CDNOW, CSV / Parquet / Delta files, and a synthetic generator.

Every source becomes one clean Parquet file of canonical orders (see `churnops.data.schema`),
with a report of what was rejected and why.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from churnops.data.sources.config import ColumnMapping, SourceConfig
from churnops.data.sources.readers import raw_relation
from churnops.data.sources.validation import RejectReport, SourceError, clean_orders

__all__ = ["ColumnMapping", "RejectReport", "SourceConfig", "SourceError", "prepare_orders"]


def prepare_orders(cfg: SourceConfig, out_path: str | Path) -> RejectReport:
    """Read the source, validate and normalise it, write clean orders Parquet to `out_path`.

    A synthetic source is generated first (under `cfg.path`) when it does not exist yet.
    """
    out_path = Path(out_path)
    if cfg.kind == "synthetic":
        from churnops.data.sources.synthetic import ensure_synthetic

        cfg = ensure_synthetic(cfg)
    con = duckdb.connect()
    try:
        sql, mapping, date_format, label = raw_relation(con, cfg)
        report = clean_orders(con, sql, mapping, out_path, source=label, date_format=date_format)
    finally:
        con.close()
    out_path.with_name(out_path.stem + ".report.json").write_text(report.to_json())
    return report
