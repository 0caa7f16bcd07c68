"""`feature_engineering`: orders -> monthly Delta feature table -> training set -> online store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, model_validator

from churnops.config import StrictConfig
from churnops.data.datasets import cdnow_cutoff
from churnops.data.engines.config import EngineConfig
from churnops.data.feature_store.config import FeatureStoreConfig, OnlineStoreConfig
from churnops.data.sources import SourceConfig
from churnops.pipelines.tasks.base import RunInputs


class FeatureEngineeringInputs(RunInputs):
    source: SourceConfig = Field(default_factory=SourceConfig)
    as_of: date = Field(default_factory=cdnow_cutoff)  # the training cutoff
    horizon_days: int = Field(default=180, gt=0)
    engine: EngineConfig = Field(default_factory=EngineConfig)  # or a bare name: duckdb | spark
    feature_table: str = "churnops.cdnow.customer_features_monthly"
    online: OnlineStoreConfig | None = None  # None: SQLite at <workdir>/online/features.db
    publish: bool = True  # copy the latest snapshot per customer to the online store
    # None: the local store under <workdir>/feature_store; `backend: databricks` writes Unity
    # Catalog feature tables (and publishes to its `online` unless `online` above is set).
    feature_store: FeatureStoreConfig | None = None

    @model_validator(mode="after")
    def _engine_fits_store(self) -> FeatureEngineeringInputs:
        fs = self.feature_store
        if fs is not None and fs.engine.name != self.engine.name:
            raise ValueError(
                f"engine.name={self.engine.name!r}: feature_store.engine.name is {fs.engine.name!r}"
            )
        return self


class FeatureEngineeringOutputs(StrictConfig):
    training_set: str
    orders_path: str
    feature_store_root: str
    feature_table: str
    feature_table_version: int
    snapshots: int
    rows: int
    churn_rate: float
    online: dict | None  # the OnlineStoreConfig published to, as a dict
    published_rows: int
    seconds: float


def feature_engineering(inputs: FeatureEngineeringInputs) -> FeatureEngineeringOutputs:
    """Build the feature table (month ends through the last order, plus `as_of`), the
    point-in-time training set at `as_of`, and publish the latest features online."""
    from churnops.data.feature_store.config import get_feature_store, get_online_store
    from churnops.trainers.config import DataConfig
    from churnops.trainers.training_set import build_training_set

    inputs.use_storage()
    workdir = Path(inputs.workdir)
    root = inputs.table_path("feature_store")
    data = DataConfig(source=inputs.source, as_of=inputs.as_of, horizon_days=inputs.horizon_days)
    # The local store lives under the run's workdir, as it always has.
    given = inputs.feature_store or FeatureStoreConfig.model_validate({"engine": inputs.engine})
    fs = given.model_copy(update={"root": str(root)})
    built = build_training_set(
        inputs.table_path("training_set.parquet"), data, root, inputs.feature_table,
        engine=inputs.engine, monthly_history=True, store_config=fs,
    )  # fmt: skip
    online = inputs.online or (
        fs.online if inputs.feature_store else
        OnlineStoreConfig(path=str(workdir / "online" / "features.db"))
    )  # fmt: skip
    published = 0
    if inputs.publish:
        store = get_online_store(online)
        try:
            with get_feature_store(fs) as offline:
                result = offline.publish_table(inputs.feature_table, store)
            published = result.rows_written
        finally:
            store.close()
    return FeatureEngineeringOutputs(
        training_set=str(built.path),
        orders_path=str(built.orders_path),
        feature_store_root=str(root),
        feature_table=built.feature_table,
        feature_table_version=built.feature_table_version,
        snapshots=len(built.snapshots),
        rows=built.rows,
        churn_rate=built.churn_rate,
        online=online.model_dump() if inputs.publish else None,
        published_rows=published,
        seconds=built.seconds,
    )
