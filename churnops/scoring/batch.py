"""`score_batch(store, model_uri, df)`: look up a model's features for a DataFrame and score it.

Features the DataFrame already has are kept (they override the store's, as on Databricks); the
rest are joined by key, point-in-time when the model's spec has a timestamp key. DuckDB frames are
scored in-process; Spark frames through `mlflow.pyfunc.spark_udf`, on the executors.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from churnops.models.pyfunc import load_feature_spec, predict_function

OUTPUTS = ("probability", "prediction")


DEFAULT_BATCH_ROWS = 65_536  # rows scored per call: the model sees a batch, never the table


def score_batch(store: Any, model_uri: str, df: Any, params: dict[str, Any] | None = None) -> Any:
    """Score `df` with the model at `model_uri`; returns `df`'s columns, the looked-up features,
    `probability` and `prediction`, in `df`'s engine.

    Args:
        store: the feature store holding the spec's tables.
        model_uri: any MLflow model URI (`models:/name@champion`, `runs:/...`, a path).
        df: a SQLFrame (DuckDB) or pyspark DataFrame with the keys (and any features).
        params: per-call pyfunc params, e.g. `{"threshold": 0.3}`.
    """
    joined, columns = _joined(store, model_uri, df)
    # By module: frames.frame_kind's `.name` probe reads a SQLFrame DataFrame's column `name`.
    if type(joined).__module__.startswith("pyspark."):
        return _score_spark(joined, model_uri, columns, params)
    from churnops.data.feature_store.frames import arrow_to_frame

    scored = _score_stream(joined, model_uri, columns, params, DEFAULT_BATCH_ROWS, None)
    return arrow_to_frame(joined, scored.read_all())


def score_batches(
    store: Any,
    model_uri: str,
    df: Any,
    params: dict[str, Any] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    order_by: list[str] | None = None,
) -> pa.RecordBatchReader:
    """`score_batch` as a stream: the scored rows as record batches of about `batch_rows`,
    sorted by `order_by` when given, for a writer to consume batch by batch.

    On DuckDB the engine runs the lookups and streams (a sort spills past its memory limit),
    so memory holds one batch and the model, whatever the table's size. A Spark frame is
    scored on the executors and its result streamed back to the driver partition by partition.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows={batch_rows}: expected a positive number of rows")
    joined, columns = _joined(store, model_uri, df)
    if type(joined).__module__.startswith("pyspark."):
        scored = _score_spark(joined, model_uri, columns, params)
        if order_by:
            scored = scored.orderBy(*order_by)
        return _spark_batches(scored, batch_rows)
    return _score_stream(joined, model_uri, columns, params, batch_rows, order_by)


def _joined(store: Any, model_uri: str, df: Any) -> tuple[Any, list[str]]:
    """`df` with the model's features looked up, and the feature columns the model reads."""
    spec = load_feature_spec(model_uri)
    clash = [c for c in OUTPUTS if c in df.columns]
    if clash:
        raise ValueError(f"df: column(s) {clash} would be overwritten by the model's output")
    lookups = spec.feature_lookups(skip=set(df.columns))
    missing_keys = [k for lk in lookups for k in _keys(lk) if k not in df.columns]
    if missing_keys:
        raise ValueError(
            f"df: lacks key column(s) {sorted(set(missing_keys))} needed to look up the model's "
            f"features (columns: {list(df.columns)})"
        )
    joined = store.create_training_set(df, lookups, label=None).load_df() if lookups else df
    absent = [c for c in spec.feature_columns if c not in joined.columns]
    if absent:
        raise ValueError(f"df: lacks feature column(s) {absent} and the model's spec cannot look "
                         "them up")  # fmt: skip
    return joined, spec.feature_columns


def _keys(lookup: Any) -> list[str]:
    """The input columns a table lookup reads (none for an on-demand function)."""
    if hasattr(lookup, "lookup_keys"):
        ts = [lookup.timestamp_lookup_key] if lookup.timestamp_lookup_key else []
        return [*lookup.lookup_keys, *ts]
    return []


def _input_types(model_uri: str) -> dict[str, str]:
    from mlflow.models import Model

    schema = Model.load(model_uri).get_input_schema()
    # A churnops model's numeric inputs are "any" (it reads ints, floats and blanks itself).
    return {s.name: getattr(s.type, "name", "any") for s in schema.inputs} if schema else {}


def _score_stream(
    joined: Any, model_uri: str, columns: list[str], params: Any, batch_rows: int,
    order_by: list[str] | None,
) -> pa.RecordBatchReader:  # fmt: skip
    """Score a DuckDB frame batch by batch as the engine streams it."""
    import mlflow.pyfunc

    from churnops.data.engines.duckdb import record_batches

    model = predict_function(mlflow.pyfunc.load_model(model_uri))
    types = _input_types(model_uri)
    source = record_batches(joined, batch_rows, order_by)
    schema = source.schema.append(pa.field("probability", pa.float64()))
    schema = schema.append(pa.field("prediction", pa.int64()))

    def scored() -> Any:
        for batch in source:
            if batch.num_rows:
                yield _score_arrow(model, batch, columns, types, params, schema)

    return pa.RecordBatchReader.from_batches(schema, scored())


def _score_arrow(
    model: Any, batch: pa.RecordBatch, columns: list[str], types: dict[str, str], params: Any,
    schema: pa.Schema,
) -> pa.RecordBatch:  # fmt: skip
    """One batch with `probability` and `prediction` appended."""
    import numpy as np

    frame = batch.select(columns).to_pandas()
    for col, kind in types.items():
        # Lookups can widen integers (a default value, a left join's nulls): cast back where the
        # model's signature wants integers and no value is missing.
        if col in frame and kind == "long" and not frame[col].isna().any():
            frame[col] = frame[col].astype(np.int64)
        elif col in frame and kind == "double":
            frame[col] = frame[col].astype(np.float64)
    out = model(frame, params)
    arrays = [*batch.columns, pa.array(out["probability"], pa.float64()),
              pa.array(out["prediction"], pa.int64())]  # fmt: skip
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _spark_batches(scored: Any, batch_rows: int) -> pa.RecordBatchReader:
    """A Spark frame's rows at the driver as record batches, one partition at a time."""
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(scored.schema)

    def batches() -> Any:
        rows: list[Any] = []
        for row in scored.toLocalIterator(prefetchPartitions=True):
            rows.append(row.asDict())
            if len(rows) == batch_rows:
                yield pa.RecordBatch.from_pylist(rows, schema=schema)
                rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _score_spark(joined: Any, model_uri: str, columns: list[str], params: Any) -> Any:
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    types = _input_types(model_uri)
    cast = {"long": "bigint", "double": "double"}
    inputs = [
        F.col(c).cast(cast[types[c]]).alias(c) if types.get(c) in cast else F.col(c)
        for c in columns
    ]
    udf = mlflow.pyfunc.spark_udf(
        joined.sparkSession, model_uri, env_manager="local", params=params
    )
    scored = joined.withColumn("__churnops_out", udf(F.struct(*inputs)))
    return scored.select(
        *[F.col(c) for c in joined.columns],
        F.col("__churnops_out.probability").alias("probability"),
        F.col("__churnops_out.prediction").alias("prediction"),
    )
