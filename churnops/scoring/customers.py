"""Scoring customers as of a day: who is a customer then, and their scores with features looked
up point-in-time, written as Parquet (what the `batch_inference` task runs).

On the local backend churnops joins the features and streams the scored rows into one Parquet
file; on Databricks the Feature Engineering client's `score_batch` looks the features up from
the model's own feature spec on the cluster's Spark session, and Spark writes the rows as a
Parquet folder, never collected on the driver.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from churnops.data import storage
from churnops.data.engines.api import dataframe_api
from churnops.data.feature_store.base import FeatureLookup
from churnops.data.feature_store.timeseries import ENTITY_KEY
from churnops.scoring.client import ScoringClient
from churnops.scoring.table import score_frame


def customers_at(orders: Any, as_of: date) -> Any:
    """One row per customer with an order on or before `as_of`: `customer_id` and `cutoff`
    (= `as_of`, the point-in-time lookup key), in the orders' engine."""
    F, _ = dataframe_api(orders)
    cutoff = F.to_date(F.lit(str(as_of)))
    return (
        orders.where(F.col("order_date") <= cutoff)
        .select(ENTITY_KEY).distinct().select(ENTITY_KEY, cutoff.alias("cutoff"))
    )  # fmt: skip


def score_on_spark(store: Any, model_uri: str, customers: Any, out: Any) -> tuple[int, float]:
    """Score `customers` through `ScoringClient(store).score_batch` (on Databricks, the client's,
    which looks the features up itself) and write the rows with Spark as a Parquet folder at
    `out`, sorted by customer; returns the rows written and the share predicted to churn, both
    computed by Spark from what was written."""
    from pyspark.sql import functions as F

    from churnops.data.feature_store.databricks import write_spark_parquet

    scored = ScoringClient(store).score_batch(model_uri, customers)
    path = storage.spark_uri(out)
    write_spark_parquet(scored, path, sort_by=[ENTITY_KEY])
    written = scored.sparkSession.read.parquet(path)
    rows, rate = written.agg(F.count(F.lit(1)), F.avg("prediction")).first()
    return int(rows), float(rate) if rate is not None else float("nan")


def score_with_lookup(
    store: Any, model_uri: str, customers: Any, out: Any, feature_table: str
) -> tuple[int, float]:
    """Look the model's features up in `feature_table` as of each row's `cutoff`
    (point-in-time), score them, and stream the rows sorted by customer into one Parquet file at
    `out`; returns the rows written and the share predicted to churn. The lookup is explicit, so
    a model logged without its own feature lookups scores too."""
    from churnops.models.pyfunc import load_feature_spec

    columns = load_feature_spec(model_uri).feature_columns
    lookup = FeatureLookup(feature_table, lookup_key=ENTITY_KEY,
                           feature_names=columns, timestamp_lookup_key="cutoff")  # fmt: skip
    features = store.create_training_set(customers, [lookup], label=None).load_df()
    # Scored batch by batch as the engine streams them, sorted by the engine, into the file.
    rows = score_frame(store, model_uri, features, out, order_by=[ENTITY_KEY])
    predicted = storage.read_parquet(out, columns=["prediction"])["prediction"].to_numpy()
    return rows, float(predicted.mean()) if len(predicted) else float("nan")
