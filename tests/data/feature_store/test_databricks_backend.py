"""The feature store backend chosen by config: the factory, the config's strictness, and the
bundle's Databricks tasks selecting the databricks backend (local runs stay local)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from churnops.config import load_config
from churnops.data.feature_store import (
    FeatureStoreConfig,
    LocalFeatureStore,
    OnlineStoreConfig,
    get_feature_store,
    get_online_store,
)
from churnops.data.feature_store.config import CONFIG_DIR
from churnops.data.feature_store.databricks import (
    DatabricksFeatureStore,
    DatabricksOnlineTables,
    DatabricksTrainingSet,
)
from churnops.pipelines.databricks.bundle import write_bundle
from churnops.pipelines.databricks.task_values import INPUT_PREFIX, inputs_from_text
from churnops.pipelines.spec import load_job_spec
from churnops.pipelines.tasks.features import FeatureEngineeringInputs

DATABRICKS = {
    "backend": "databricks", "engine": "spark", "online": {"kind": "databricks"},
    "catalog_schema": "main.churnops", "features_table": "main.churnops.f",
    "timeseries_table": "main.churnops.ts",
}  # fmt: skip


def test_the_factory_builds_the_backend_the_config_names(tmp_path: Path) -> None:
    local = get_feature_store(FeatureStoreConfig(root=str(tmp_path / "fs")))
    assert isinstance(local, LocalFeatureStore)
    session = object()  # a SparkEngine's session: the store must use it, not start its own
    remote = get_feature_store(
        FeatureStoreConfig.model_validate(DATABRICKS), engine=SimpleNamespace(session=session)
    )
    assert isinstance(remote, DatabricksFeatureStore)
    assert remote.spark is session and remote.schema == "main.churnops"


def test_the_shipped_databricks_config_loads() -> None:
    cfg = load_config(FeatureStoreConfig, CONFIG_DIR / "feature_store" / "databricks.yaml")
    assert (cfg.backend, cfg.engine.name, cfg.online.kind) == ("databricks", "spark", "databricks")
    assert cfg.timeseries_table.startswith("main.churnops.")
    assert isinstance(get_online_store(cfg.online), DatabricksOnlineTables)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"engine": "duckdb"}, "engine.name='duckdb': backend 'databricks' needs 'spark'"),
        ({"online": {"kind": "sqlite"}}, "online.kind='sqlite': backend 'databricks' needs"),
        ({"timeseries_table": "churnops.cdnow.ts"}, "timeseries_table='churnops.cdnow.ts'"),
        ({"backend": "dbx"}, "backend"),
        ({"catalog": "main"}, "catalog"),  # an unknown key, not a silent default
    ],
)
def test_the_config_refuses_parts_that_do_not_fit(change: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FeatureStoreConfig.model_validate({**DATABRICKS, **change})


def test_databricks_online_tables_need_the_databricks_backend() -> None:
    with pytest.raises(ValidationError, match=re.escape("online.kind='databricks': needs backend")):
        FeatureStoreConfig(online=OnlineStoreConfig(kind="databricks"))


def test_the_features_task_refuses_an_engine_its_store_does_not_use() -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape("engine.name='duckdb': feature_store.engine.name is 'spark'"),
    ):
        FeatureEngineeringInputs(feature_store=FeatureStoreConfig.model_validate(DATABRICKS))


def test_the_online_table_spec_follows_the_feature_table() -> None:
    from churnops.data.feature_store.base import FeatureTable

    table = FeatureTable(
        name="main.churnops.ts", path="", primary_keys=["customer_id"],
        timeseries_column="snapshot_date", partition_columns=[], description=None, tags={},
        created_by="", created_at="", features=["x"], schema={}, version=-1,
    )  # fmt: skip
    online = DatabricksOnlineTables().online_table(table)  # the databricks-sdk class itself
    assert online.name == "main.churnops.ts_online"
    spec = online.as_dict()["spec"]
    assert spec["source_table_full_name"] == "main.churnops.ts"
    assert spec["primary_key_columns"] == ["customer_id"]
    assert spec["timeseries_key"] == "snapshot_date" and "run_triggered" in spec


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    write_bundle(None, out)
    return out


def _feature_inputs(bundle: Path, job: str) -> FeatureEngineeringInputs:
    """The exported job's feature_engineering inputs, parsed as its notebook parses them."""
    spec = yaml.safe_load((bundle / f"resources/{job}.job.yml").read_text())
    tasks = {t["task_key"]: t for t in spec["resources"]["jobs"][job]["tasks"]}
    params = tasks["feature_engineering"]["notebook_task"]["base_parameters"]
    texts = {k[len(INPUT_PREFIX) :]: v for k, v in params.items() if k.startswith(INPUT_PREFIX)}
    texts = {k: v for k, v in texts.items() if "{{" not in v}  # job-parameter references
    return FeatureEngineeringInputs.model_validate(
        inputs_from_text(FeatureEngineeringInputs, texts)
    )


def _task_inputs(bundle: Path, job: str, task_key: str, model: type) -> Any:
    """The exported task's inputs as its notebook gets them: each widget's job-parameter
    references filled as text with the exported job's defaults, then parsed back."""
    spec = yaml.safe_load((bundle / f"resources/{job}.job.yml").read_text())["resources"]["jobs"]
    defaults = {p["name"]: p["default"] for p in spec[job]["parameters"]}
    (task,) = [t for t in spec[job]["tasks"] if t["task_key"] == task_key]
    texts = {
        k[len(INPUT_PREFIX) :]: re.sub(
            r"\{\{job\.parameters\.(\w+)\}\}", lambda m: defaults[m.group(1)], v
        )
        for k, v in task["notebook_task"]["base_parameters"].items()
        if k.startswith(INPUT_PREFIX)
    }
    return model.model_validate(inputs_from_text(model, texts))


def test_the_training_jobs_features_task_selects_the_databricks_backend(bundle: Path) -> None:
    job = "training"
    inputs = _feature_inputs(bundle, job)
    fs = inputs.feature_store
    assert fs is not None and fs.backend == "databricks" and fs.online.kind == "databricks"
    assert inputs.engine.name == "spark" and inputs.feature_table == fs.timeseries_table
    assert inputs.feature_table.startswith("main.churnops.")
    # The same job run locally keeps the local store: the spec itself names no backend.
    assert "feature_store" not in load_job_spec(job).task("feature_engineering").parameters


def test_the_training_jobs_model_is_logged_through_the_databricks_store(bundle: Path) -> None:
    from churnops.pipelines.tasks.training import ModelTrainingInputs

    spec = yaml.safe_load((bundle / "resources/training.job.yml").read_text())
    tasks = {t["task_key"]: t for t in spec["resources"]["jobs"]["training"]["tasks"]}
    params = tasks["model_training"]["notebook_task"]["base_parameters"]
    texts = {k[len(INPUT_PREFIX) :]: v for k, v in params.items() if k.startswith(INPUT_PREFIX)}
    fs = inputs_from_text(ModelTrainingInputs, texts)["feature_store"]
    store = FeatureStoreConfig.model_validate(fs)
    assert store.backend == "databricks"
    assert store.timeseries_table == _feature_inputs(bundle, "training").feature_table
    assert "feature_store" not in load_job_spec("training").task("model_training").parameters


def test_the_batch_job_scores_from_the_databricks_store_on_spark(bundle: Path) -> None:
    from churnops.pipelines.tasks.batch import BatchInferenceInputs

    inputs = _task_inputs(bundle, "batch_inference", "batch_inference", BatchInferenceInputs)
    fs = inputs.feature_store
    assert fs is not None and fs.backend == "databricks" and inputs.engine.name == "spark"
    assert inputs.store_config() == fs  # no local root: Unity Catalog holds the tables
    # The table the training job's features task writes and its model looks up.
    assert inputs.feature_table == fs.timeseries_table
    assert inputs.feature_table == _feature_inputs(bundle, "training").feature_table
    assert inputs.feature_store_root is None and inputs.orders_path.startswith("/Volumes/")
    assert inputs.model_uri == "models:/main.churnops.churnops_churn@champion"
    local = load_job_spec("batch_inference").task("batch_inference").parameters
    assert "feature_store" not in local and "feature_store_root" not in local


def test_the_monitoring_job_registers_the_table_the_monitor_watches(bundle: Path) -> None:
    from churnops.data.storage import join
    from churnops.pipelines.databricks.bundle import load_bundle_config
    from churnops.pipelines.databricks.unity_catalog import external_table_sql
    from churnops.pipelines.tasks.monitoring import MonitorRefreshInputs

    inputs = _task_inputs(bundle, "monitoring", "monitor_refresh", MonitorRefreshInputs)
    (monitor,) = load_bundle_config().monitors
    assert inputs.predictions_table == monitor.table_name == "main.churnops.churn_predictions"
    location = join(inputs.table_path("monitoring"), "predictions")  # where unpack writes it
    assert location.startswith("s3://")  # an external location, not the workdir's Volume
    assert external_table_sql(inputs.predictions_table, location) == (
        "CREATE TABLE IF NOT EXISTS `main`.`churnops`.`churn_predictions` USING DELTA "
        f"LOCATION '{location}'"
    )
    local = load_job_spec("monitoring").task("monitor_refresh").parameters
    assert "predictions_table" not in local  # a local run registers nothing


def test_the_demo_job_keeps_the_local_store_on_spark(bundle: Path) -> None:
    # Its serving_check and batch_inference read churnops' own online store and local tables.
    inputs = _feature_inputs(bundle, "demo")
    assert inputs.feature_store is None and inputs.engine.name == "spark"


@pytest.mark.slow
def test_the_training_task_logs_through_the_store_it_is_given(tmp_path: Path) -> None:
    # The same seam on the local backend (Databricks' client is checked in its own env): the
    # model is logged with the store's training set, so it carries the lookups of the table.
    import mlflow

    from churnops.pipelines.tasks.features import feature_engineering
    from churnops.pipelines.tasks.training import ModelTrainingInputs, model_training

    run = {"workdir": str(tmp_path)}
    built = feature_engineering(
        FeatureEngineeringInputs(**run, source={"kind": "cdnow", "variant": "sample"})
    )
    store = FeatureStoreConfig(timeseries_table=built.feature_table)
    out = model_training(
        ModelTrainingInputs(
            **run, training_set=built.training_set, model="logistic_regression",
            overrides=["logger.log_plots=false"], feature_store=store,
        )
    )  # fmt: skip
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model("models:/churnops_churn/1").unwrap_python_model()
    (lookup,) = model.spec.lookups
    assert lookup.table_name == built.feature_table and lookup.timestamp_lookup_key == "cutoff"
    assert out.model_version == "1"  # registered as train registers every model


@pytest.mark.spark
def test_the_spark_side_of_the_adapter_on_a_real_session(spark_engine, tmp_path: Path) -> None:
    # What the adapter does with Spark itself (no client involved): Arrow in, the Unity Catalog
    # listing's row fields, the training set written as Parquet by Spark and read back sorted.
    import pyarrow as pa
    import pyarrow.parquet as pq

    spark = spark_engine.session
    handed: list = []

    class Client:
        def write_table(self, **kwargs):
            handed.append(kwargs["df"])

    store = DatabricksFeatureStore(client=Client(), spark=spark, schema="fe_test_schema")
    store.write_table("main.churnops.t", pa.table({"customer_id": [2, 1], "x": [0.5, 1.5]}))
    (df,) = handed
    assert type(df).__name__ == "DataFrame" and sorted(df.toPandas()["customer_id"]) == [1, 2]
    # Located under tmp_path: nothing lands in the session's warehouse folder.
    spark.sql(f"CREATE DATABASE IF NOT EXISTS fe_test_schema LOCATION '{tmp_path / 'db'}'")
    try:
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS fe_test_schema.t (a INT) USING parquet "
            f"LOCATION '{tmp_path / 'db' / 't'}'"
        )
        assert store.list_tables() == ["fe_test_schema.t"]
    finally:
        spark.sql("DROP DATABASE fe_test_schema CASCADE")
    labels = spark.createDataFrame([(3, 1), (1, 0), (2, 1)], ["customer_id", "churn"])
    out = tmp_path / "training_set.parquet"
    rows = DatabricksTrainingSet(SimpleNamespace(load_df=lambda: labels)).write_parquet(
        out, sort_by=["customer_id"]
    )
    assert rows == 3 and out.is_dir()  # a Parquet folder, as Spark writes it
    assert pq.read_table(out).column("customer_id").to_pylist() == [1, 2, 3]


@pytest.mark.spark
def test_batch_scoring_on_the_databricks_store_on_a_real_session(spark_engine, tmp_path) -> None:
    # The batch task's Databricks path on real Spark: the customers known at the day, the
    # client's score_batch (a stand-in returning the client's documented shape: a struct column
    # `prediction`), Spark writing the sorted rows; the client's real signature is bound in
    # test_databricks_client.py.
    import pyarrow.parquet as pq

    from churnops.scoring.client import RESULT_TYPE
    from churnops.scoring.customers import customers_at, score_on_spark

    spark = spark_engine.session
    seen: list = []

    class Client:
        def score_batch(self, model_uri, df, result_type):
            from pyspark.sql import functions as F

            seen.append((model_uri, result_type, sorted(df.columns)))
            odd = (F.col("customer_id") % 2).cast("bigint")
            result = F.struct((odd * 0.5 + 0.25).alias("probability"), odd.alias("prediction"))
            return df.withColumn("recency_days", F.lit(3)).withColumn("prediction", result)

    orders = spark.createDataFrame(
        [(3, "1997-01-05"), (1, "1997-02-01"), (2, "1997-03-01"), (1, "1997-03-02"),
         (4, "1998-01-01")],  # customer 4 first orders after the day: not known yet
        "customer_id bigint, order_date string",
    ).selectExpr("customer_id", "to_date(order_date) AS order_date")  # fmt: skip
    customers = customers_at(orders, date(1997, 12, 31))
    store = DatabricksFeatureStore(client=Client(), spark=spark)
    out = tmp_path / "predictions" / "1997-12-31.parquet"
    rows, churn_rate = score_on_spark(store, "models:/m@champion", customers, out)
    assert seen == [("models:/m@champion", RESULT_TYPE, ["customer_id", "cutoff"])]
    table = pq.read_table(out)
    assert (rows, table.num_rows) == (3, 3) and churn_rate == pytest.approx(2 / 3)
    assert table.column_names == ["customer_id", "cutoff", "recency_days", "probability",
                                  "prediction"]  # fmt: skip
    assert table.column("customer_id").to_pylist() == [1, 2, 3]
    assert {str(d) for d in table.column("cutoff").to_pylist()} == {"1997-12-31"}
