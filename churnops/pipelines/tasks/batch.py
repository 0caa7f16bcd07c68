"""`batch_inference`: score every customer as of a day with a registered model, features looked
up point-in-time from the feature store, written as Parquet.

The scoring is the scoring stage's (`churnops.scoring.customers`). Locally (and with any
`feature_store` on the local backend) churnops joins the features and streams the scored rows
into one Parquet file. With `feature_store.backend: databricks` the
Feature Engineering client's `score_batch` looks the features up from the model's own feature
spec (the model was logged with `fe.log_model`) on the cluster's Spark session, and Spark writes
the predictions as a Parquet folder, never collected on the driver.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field, model_validator

from churnops.config import StrictConfig
from churnops.data.engines.config import EngineConfig
from churnops.data.feature_store.config import FeatureStoreConfig
from churnops.pipelines.tasks.base import RunInputs


class BatchInferenceInputs(RunInputs):
    orders_path: str  # customers with an order on or before `as_of` are scored
    as_of: date
    # The local store's root; None: <tables_root or workdir>/feature_store, where the features
    # task writes it. Not used by the databricks backend, which reads Unity Catalog.
    feature_store_root: str | None = None
    feature_table: str = "churnops.cdnow.customer_features_monthly"
    model_uri: str = "models:/churnops_churn@champion"
    output: str | None = None  # None: <tables_root or workdir>/predictions/<as_of>.parquet
    engine: EngineConfig = Field(default_factory=EngineConfig)  # or a bare name: duckdb | spark
    # None: the local store at `feature_store_root`. `backend: databricks`: the client's
    # `score_batch` over the Unity Catalog tables of the model's feature spec, on Spark.
    feature_store: FeatureStoreConfig | None = None

    @model_validator(mode="after")
    def _store_fits(self) -> BatchInferenceInputs:
        fs = self.feature_store
        if fs is None:
            return self
        if fs.engine.name != self.engine.name:
            raise ValueError(
                f"engine.name={self.engine.name!r}: feature_store.engine.name is {fs.engine.name!r}"
            )
        if fs.backend == "databricks":
            if self.feature_store_root is not None:
                raise ValueError(
                    f"feature_store_root={self.feature_store_root!r}: the databricks backend "
                    "reads Unity Catalog tables, not a local store; expected it unset"
                )
            if self.feature_table != fs.timeseries_table:
                raise ValueError(
                    f"feature_table={self.feature_table!r}: the databricks backend scores with "
                    f"the model's lookups of feature_store.timeseries_table "
                    f"{fs.timeseries_table!r}; expected the same table"
                )
        return self

    def store_config(self) -> FeatureStoreConfig:
        """The feature store to score from: `feature_store`, the local one rooted at
        `feature_store_root` (or the run's), on this task's engine."""
        fs = self.feature_store or FeatureStoreConfig.model_validate({"engine": self.engine})
        if fs.backend == "databricks":
            return fs
        return fs.model_copy(
            update={"root": self.feature_store_root or self.table_path("feature_store")}
        )


class BatchInferenceOutputs(StrictConfig):
    predictions: str
    rows: int
    churn_rate: float  # share predicted to churn
    model_version: str | None


def batch_inference(inputs: BatchInferenceInputs) -> BatchInferenceOutputs:
    """Customers known at `as_of`, their features at `as_of` (point-in-time), scored by
    `score_batch` with the model at `model_uri`."""
    from churnops.data import storage
    from churnops.data.engines import engine_for
    from churnops.data.feature_store.config import get_feature_store
    from churnops.scoring.customers import customers_at, score_on_spark, score_with_lookup
    from churnops.trainers.registry.registry import ModelRegistry, RegistryError

    inputs.use_tracking()
    registry = ModelRegistry(inputs.resolved_tracking_uri(), inputs.resolved_registry_uri())
    try:
        version: str | None = str(registry.resolve(inputs.model_uri).version)
    except RegistryError:  # a runs:/ or logged-model URI: no registered version to report
        version = None
    fs = inputs.store_config()
    out = storage.native(
        inputs.output or inputs.table_path("predictions", f"{inputs.as_of}.parquet")
    )
    with engine_for(inputs.engine) as engine:
        if engine.name == "duckdb":
            engine.connection.execute("SET enable_progress_bar = false")  # a task's log
        store = get_feature_store(fs, engine=engine)
        orders = storage.read_parquet_frame(engine, inputs.orders_path)
        customers = customers_at(orders, inputs.as_of)
        if fs.backend == "databricks":
            rows, churn_rate = score_on_spark(store, inputs.model_uri, customers, out)
        else:
            rows, churn_rate = score_with_lookup(
                store, inputs.model_uri, customers, out, inputs.feature_table
            )
    return BatchInferenceOutputs(
        predictions=str(out), rows=rows, churn_rate=churn_rate, model_version=version
    )
