"""`score_batch(store, model_uri, df)`: look up a model's features for a DataFrame and score it.

Features the DataFrame already has are kept (they override the store's, as on Databricks); the
rest are joined by key, point-in-time when the model's spec has a timestamp key. DuckDB frames are
scored in-process; Spark frames through `mlflow.pyfunc.spark_udf`, on the executors.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from churnops.models.pyfunc import load_feature_spec

OUTPUTS = ("probability", "prediction")


def score_batch(store: Any, model_uri: str, df: Any, params: dict[str, Any] | None = None) -> Any:
    """Score `df` with the model at `model_uri`; returns `df`'s columns, the looked-up features,
    `probability` and `prediction`, in `df`'s engine.

    Args:
        store: the feature store holding the spec's tables.
        model_uri: any MLflow model URI (`models:/name@champion`, `runs:/...`, a path).
        df: a SQLFrame (DuckDB) or pyspark DataFrame with the keys (and any features).
        params: per-call pyfunc params, e.g. `{"threshold": 0.3}`.
    """
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
    # By module: frames.frame_kind's `.name` probe reads a SQLFrame DataFrame's column `name`.
    if type(joined).__module__.startswith("pyspark."):
        return _score_spark(joined, model_uri, spec.feature_columns, params)
    return _score_local(joined, model_uri, spec.feature_columns, params)


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


def _score_local(joined: Any, model_uri: str, columns: list[str], params: Any) -> Any:
    import mlflow.pyfunc
    import numpy as np

    from churnops.data.feature_store.frames import arrow_to_frame, to_arrow

    table = to_arrow(joined)
    frame = table.select(columns).to_pandas()
    for col, kind in _input_types(model_uri).items():
        # Lookups can widen integers (a default value, a left join's nulls): cast back where the
        # model's signature wants integers and no value is missing.
        if col in frame and kind == "long" and not frame[col].isna().any():
            frame[col] = frame[col].astype(np.int64)
        elif col in frame and kind == "double":
            frame[col] = frame[col].astype(np.float64)
    out = mlflow.pyfunc.load_model(model_uri).predict(frame, params=params)
    table = table.append_column("probability", pa.array(out["probability"], pa.float64()))
    table = table.append_column("prediction", pa.array(out["prediction"], pa.int64()))
    return arrow_to_frame(joined, table)


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
