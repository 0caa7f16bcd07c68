"""`batch_inference`: score every customer as of a day with a registered model, features looked
up point-in-time from the feature table, written as Parquet."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from churnops.config import StrictConfig
from churnops.data.engines.config import EngineConfig
from churnops.pipelines.tasks.base import RunInputs


class BatchInferenceInputs(RunInputs):
    orders_path: str  # customers with an order on or before `as_of` are scored
    as_of: date
    feature_store_root: str
    feature_table: str = "churnops.cdnow.customer_features_monthly"
    model_uri: str = "models:/churnops_churn@champion"
    output: str | None = None  # None: <workdir>/predictions/<as_of>.parquet
    engine: EngineConfig = Field(default_factory=EngineConfig)  # or a bare name: duckdb | spark


class BatchInferenceOutputs(StrictConfig):
    predictions: str
    rows: int
    churn_rate: float  # share predicted to churn
    model_version: str | None


def batch_inference(inputs: BatchInferenceInputs) -> BatchInferenceOutputs:
    """Customers known at `as_of`, their features at `as_of` (point-in-time), scored by
    `score_batch` with the model at `model_uri`."""
    from churnops.data import storage
    from churnops.data.engines import get_engine
    from churnops.data.engines.api import dataframe_api
    from churnops.data.feature_store.base import FeatureLookup
    from churnops.data.feature_store.local import LocalFeatureStore
    from churnops.data.feature_store.timeseries import ENTITY_KEY
    from churnops.models.pyfunc import load_feature_spec
    from churnops.scoring.batch import score_batches
    from churnops.scoring.table import write_parquet_batches
    from churnops.trainers.registry.registry import ModelRegistry, RegistryError

    inputs.use_tracking()
    registry = ModelRegistry(inputs.resolved_tracking_uri(), inputs.resolved_registry_uri())
    try:
        version: str | None = str(registry.resolve(inputs.model_uri).version)
    except RegistryError:  # a runs:/ or logged-model URI: no registered version to report
        version = None
    columns = load_feature_spec(inputs.model_uri).feature_columns
    engine = get_engine(inputs.engine)
    if engine.name == "duckdb":
        engine.connection.execute("SET enable_progress_bar = false")  # a task's log, no terminal
    try:
        store = LocalFeatureStore(inputs.feature_store_root, engine=engine)
        orders = storage.read_parquet_frame(engine, inputs.orders_path)
        F, _ = dataframe_api(orders)
        cutoff = F.to_date(F.lit(str(inputs.as_of)))
        customers = (
            orders.where(F.col("order_date") <= cutoff)
            .select(ENTITY_KEY).distinct().select(ENTITY_KEY, cutoff.alias("cutoff"))
        )  # fmt: skip
        lookup = FeatureLookup(inputs.feature_table, lookup_key=ENTITY_KEY,
                               feature_names=columns, timestamp_lookup_key="cutoff")  # fmt: skip
        features = store.create_training_set(customers, [lookup], label=None).load_df()
        default = inputs.table_path("predictions", f"{inputs.as_of}.parquet")
        out = storage.native(inputs.output or default)
        # Scored batch by batch as the engine streams them, sorted by the engine, into the file.
        scored = score_batches(store, inputs.model_uri, features, order_by=[ENTITY_KEY])
        rows = write_parquet_batches(scored, out)
    finally:
        engine.stop()
    predicted = storage.read_parquet(out, columns=["prediction"])["prediction"].to_numpy()
    return BatchInferenceOutputs(
        predictions=str(out),
        rows=rows,
        churn_rate=float(predicted.mean()) if len(predicted) else float("nan"),
        model_version=version,
    )
