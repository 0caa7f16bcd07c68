"""`score_table`: the `churnops score-batch` job, from an input table to a scored output table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from churnops.data.delta_tables import read_table


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
    overrides: list[str] = (),  # type: ignore[assignment]
) -> int:
    """Read `input_path` (Parquet or Delta), `score_batch` it, write `output_path` (a Delta table,
    overwritten; or a Parquet file when the name ends in .parquet). Returns the rows written.
    `overrides` (`engine.spark.master=...`) apply to the feature-store config."""
    import mlflow
    from deltalake import DeltaTable, write_deltalake

    from churnops.config import load_config
    from churnops.data.engines import get_engine
    from churnops.data.feature_store.config import (
        DEFAULT_CONFIG,
        FeatureStoreConfig,
        get_feature_store,
    )
    from churnops.data.feature_store.frames import to_arrow
    from churnops.scoring.batch import score_batch

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    cfg = load_config(
        FeatureStoreConfig,
        store_config or DEFAULT_CONFIG,
        [*([f"root={root}"] if root else []), *overrides],
    )
    source = Path(input_path)
    if not source.exists():
        raise FileNotFoundError(f"--input {str(source)!r}: no such file or table")
    if (source / "_delta_log").is_dir():
        table = read_table(DeltaTable(str(source)))
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(source)
    # --engine picks the engine; the store config's engine settings (master, conf) still apply.
    eng = get_engine(cfg.engine.model_copy(update={"name": engine}) if engine else cfg.engine)
    try:
        store = get_feature_store(cfg, engine=eng)
        params = {"threshold": threshold} if threshold is not None else None
        scored: pa.Table = to_arrow(score_batch(store, model_uri, eng.from_arrow(table), params))
    finally:
        eng.stop()
    out = Path(output_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        from churnops.data.features.build import write_parquet_atomic

        write_parquet_atomic(scored, out)
    else:
        write_deltalake(str(out), scored, mode="overwrite", schema_mode="overwrite")
    return scored.num_rows
