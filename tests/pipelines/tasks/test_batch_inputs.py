"""batch_inference's inputs: which feature store it scores from, and what it refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from churnops.data.feature_store.config import FeatureStoreConfig
from churnops.pipelines.tasks.batch import BatchInferenceInputs

UC = {
    "backend": "databricks", "engine": "spark", "online": {"kind": "databricks"},
    "catalog_schema": "main.churnops", "features_table": "main.churnops.f",
    "timeseries_table": "main.churnops.ts",
}  # fmt: skip
REQUIRED = {"orders_path": "o.parquet", "as_of": "1997-12-31"}


def test_the_local_store_defaults_to_the_runs_feature_store(tmp_path) -> None:
    inputs = BatchInferenceInputs(**REQUIRED, workdir=str(tmp_path))
    fs = inputs.store_config()
    assert fs.backend == "local" and fs.root == f"{tmp_path}/feature_store"
    shared = BatchInferenceInputs(**REQUIRED, workdir=str(tmp_path), tables_root="s3://b/run")
    assert shared.store_config().root == "s3://b/run/feature_store"  # where features wrote it
    given = BatchInferenceInputs(**REQUIRED, feature_store_root=str(tmp_path / "fs"))
    assert given.store_config().root == str(tmp_path / "fs")


def test_the_databricks_store_is_taken_as_given() -> None:
    inputs = BatchInferenceInputs(
        **REQUIRED, engine="spark", feature_table="main.churnops.ts", feature_store=UC
    )
    assert inputs.store_config() == FeatureStoreConfig.model_validate(UC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"engine": "duckdb"}, "engine.name='duckdb': feature_store.engine.name is 'spark'"),
        ({"feature_store_root": "/Volumes/x/fs"},
         "feature_store_root='/Volumes/x/fs': the databricks backend reads Unity Catalog"),
        ({"feature_table": "churnops.cdnow.customer_features_monthly"},
         "feature_table='churnops.cdnow.customer_features_monthly': the databricks backend "
         "scores with the model's lookups of feature_store.timeseries_table 'main.churnops.ts'"),
    ],
)  # fmt: skip
def test_parts_that_do_not_fit_the_databricks_store_are_refused(change, message) -> None:
    inputs = {**REQUIRED, "engine": "spark", "feature_table": "main.churnops.ts",
              "feature_store": UC, **change}  # fmt: skip
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        BatchInferenceInputs.model_validate(inputs)
