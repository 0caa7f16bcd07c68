"""`score_table`: the `churnops score-batch` job, from an input table to a scored output table;
`score_frame`, its scoring and writing, for a caller that already holds the DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from churnops.data import storage
from churnops.data.delta_tables import (
    arrow_dataset,
    open_table,
    read_table,
    table_exists,
    write_table,
)
from churnops.scoring.batch import DEFAULT_BATCH_ROWS, score_batches


def score_table(
    model_uri: str,
    input_path: str | Path,
    output_path: str | Path,
    *,
    engine: str | None = None,
    threshold: float | None = None,
    tracking_uri: str | None = None,
    store_config: str | Path | None = None,
    root: str | None = None,
    batch_rows: int | None = None,
    overrides: list[str] = (),  # type: ignore[assignment]
) -> int:
    """Read `input_path` (Parquet or Delta), `score_batch` it, write `output_path` (a Delta table,
    overwritten; or a Parquet file when the name ends in .parquet). Returns the rows written.

    The rows stream from the engine through the model to the output `batch_rows` at a time
    (default `DEFAULT_BATCH_ROWS`); the output appears only when complete (one Delta commit, or
    a Parquet file renamed into place). `overrides` (`engine.spark.master=...`) apply to the
    feature-store config.
    """
    import mlflow

    from churnops.config import load_config
    from churnops.data.engines import engine_for
    from churnops.data.feature_store.config import (
        DEFAULT_CONFIG,
        FeatureStoreConfig,
        get_feature_store,
    )

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    cfg = load_config(
        FeatureStoreConfig,
        store_config or DEFAULT_CONFIG,
        [*([f"root={root}"] if root else []), *overrides],
    )
    source = storage.native(input_path)
    if not storage.exists(source):
        raise FileNotFoundError(f"--input {str(source)!r}: no such file or table")
    # --engine picks the engine; the store config's engine settings (master, conf) still apply.
    setting = cfg.engine.model_copy(update={"name": engine}) if engine else cfg.engine
    with engine_for(setting) as eng:
        if table_exists(source):
            delta = open_table(source)
            # DuckDB scans the Delta files' dataset lazily; Spark takes the snapshot in Arrow.
            df = eng.from_arrow(arrow_dataset(delta) if eng.name == "duckdb" else read_table(delta))
        else:
            df = storage.read_parquet_frame(eng, source)
        store = get_feature_store(cfg, engine=eng)
        params = {"threshold": threshold} if threshold is not None else None
        return score_frame(
            store, model_uri, df, output_path, params=params,
            batch_rows=batch_rows or DEFAULT_BATCH_ROWS,
        )  # fmt: skip


def score_frame(
    store: Any,
    model_uri: str,
    df: Any,
    output_path: str | Path,
    *,
    params: dict[str, Any] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    order_by: list[str] | None = None,
) -> int:
    """`score_batches` over `df`, streamed into `output_path` (a Delta table, overwritten; or a
    Parquet file when the name ends in .parquet), sorted by `order_by` when given. Returns the
    rows written; the output appears only when complete."""
    scored = score_batches(store, model_uri, df, params, batch_rows, order_by)
    out = storage.native(output_path)
    if str(out).endswith(".parquet"):
        return write_parquet_batches(scored, out)
    return write_delta_batches(scored, out)


def write_parquet_batches(batches: pa.RecordBatchReader, path: str | Path) -> int:
    """Stream record batches into one Parquet file (local or object store) through a temporary
    name: no half-written file is left if a batch fails. Returns the rows written."""
    import pyarrow.parquet as pq

    rows = 0
    with storage.staged_output(path) as tmp, pq.ParquetWriter(tmp, batches.schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def write_delta_batches(batches: pa.RecordBatchReader, path: str | Path) -> int:
    """Stream record batches into a Delta table (overwritten) as one commit: readers see the
    old version until every batch is written. Returns the rows written."""
    rows = 0

    def counted() -> object:
        nonlocal rows
        for batch in batches:
            rows += batch.num_rows
            yield batch

    reader = pa.RecordBatchReader.from_batches(batches.schema, counted())
    write_table(path, reader, mode="overwrite", schema_mode="overwrite")
    return rows
