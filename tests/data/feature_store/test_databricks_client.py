"""DatabricksFeatureStore against the REAL `databricks-feature-engineering` client (no workspace).

Run by `scripts/databricks-fe-env` in `.venv-databricks-fe` (the client pins protobuf below the
main venv's), or anywhere the client is installed; skipped elsewhere. Every call the adapter and
`ScoringClient` make goes to a client whose methods are the real class's, looked up by name and
bound with `inspect.signature(...).bind(...)`: a renamed method or keyword fails here. What runs
without a workspace runs for real: the client's `FeatureLookup` / `FeatureFunction` objects, the
churnops pyfunc package handed to `log_model`, and databricks-sdk's online-table classes. The
calls' effects on a workspace (tables written, models logged, online tables synced) are not
checked: there is no workspace here.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest

fe = pytest.importorskip(
    "databricks.feature_engineering",
    reason="databricks-feature-engineering is not installed (make test-databricks-fe builds "
    "its env)",
)

from churnops.data.feature_store import FeatureFunction, FeatureLookup  # noqa: E402
from churnops.data.feature_store.base import FeatureTable  # noqa: E402
from churnops.data.feature_store.databricks import (  # noqa: E402
    DatabricksFeatureStore,
    DatabricksOnlineTables,
    DatabricksTrainingSet,
    from_client_table,
)

CLIENT = fe.FeatureEngineeringClient
TABLE = "main.churnops.customer_features_monthly"


class SignatureCheckedClient:
    """Each method is the real client's, looked up by name; a call is bound to its signature
    (raising as Python would on a wrong keyword) and recorded, and answers `answers[name]`."""

    def __init__(self, answers: dict[str, Any] | None = None):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers = answers or {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(CLIENT, name)  # AttributeError: the client has no such method

        def call(*args: Any, **kwargs: Any) -> Any:
            inspect.signature(method).bind(None, *args, **kwargs)  # None stands in for self
            self.calls.append((name, kwargs))
            return self.answers.get(name)

        return call


def client_table(name: str = TABLE) -> Any:
    """The client's own FeatureTable entity, as `get_table` / `create_table` return it."""
    from databricks.ml_features.entities.feature_table import FeatureTable as ClientTable

    params = inspect.signature(ClientTable).parameters
    values = {
        "name": name, "table_id": "0001", "description": "monthly snapshots",
        "primary_keys": ["customer_id", "snapshot_date"], "partition_columns": [],
        "features": ["customer_id", "snapshot_date", "recency_days"],
        "creation_timestamp": 0, "online_stores": [], "notebook_producers": [],
        "job_producers": [], "table_data_sources": [], "path_data_sources": [],
        "custom_data_sources": [], "timestamp_keys": ["snapshot_date"], "tags": {"t": "1"},
    }  # fmt: skip
    return ClientTable(**{k: v for k, v in values.items() if k in params})


@pytest.fixture
def store() -> DatabricksFeatureStore:
    answers = {"create_table": client_table(), "get_table": client_table()}
    # spark: only `list_tables` and Arrow input use it; the calls below pass Spark-like frames.
    return DatabricksFeatureStore(client=SignatureCheckedClient(answers), spark=object())


def test_table_calls_bind_to_the_real_client(store: DatabricksFeatureStore) -> None:
    table = store.create_table(
        TABLE, "customer_id", df="DF", timeseries_column="snapshot_date",
        partition_columns=None, description="d", tags={"t": "1"},
    )  # fmt: skip
    store.write_table(TABLE, "DF", mode="merge")
    store.write_table(TABLE, "DF", mode="overwrite")
    store.read_table(TABLE)
    store.read_table(TABLE, as_of_delta_timestamp="2024-01-01")
    store.get_table(TABLE)
    store.drop_table(TABLE)
    names = [name for name, _ in store.client.calls]
    assert names == [
        "create_table", "write_table", "write_table", "read_table", "read_table", "get_table",
        "drop_table",
    ]  # fmt: skip
    # The client's own entity reads back as ours: the time key is split from the primary keys.
    assert (table.primary_keys, table.timeseries_column) == (["customer_id"], "snapshot_date")
    assert table.features == ["recency_days"] and table.tags == {"t": "1"}


def test_read_table_keywords_are_the_ones_the_client_reads() -> None:
    # `read_table(name, **kwargs)` binds anything; its compute client pops the one keyword it
    # takes and refuses the rest, so the adapter must pass exactly that one.
    from databricks.ml_features._compute_client._compute_client import ComputeClient

    source = inspect.getsource(ComputeClient.read_table)
    assert 'kwargs.pop("as_of_delta_timestamp"' in source and "check_kwargs_empty" in source


def test_lookups_are_built_as_the_clients_objects(store: DatabricksFeatureStore) -> None:
    lookup = FeatureLookup(
        TABLE, "customer_id", feature_names=["recency_days"],
        rename_outputs={"recency_days": "recency"}, timestamp_lookup_key="cutoff",
        lookback_window=timedelta(days=62), default_values={"recency": 0.0},
    )  # fmt: skip
    function = FeatureFunction(
        udf_name="main.churnops.ratio", input_bindings={"a": "recency"}, output_name="r"
    )
    built = store.create_training_set("LABELS", [lookup, function], label="churn")
    assert isinstance(built, DatabricksTrainingSet)  # its client_set goes to fe.log_model
    ((name, kwargs),) = store.client.calls
    assert name == "create_training_set" and kwargs["label"] == "churn"
    client_lookup, client_function = kwargs["feature_lookups"]
    assert isinstance(client_lookup, fe.FeatureLookup)
    assert isinstance(client_function, fe.FeatureFunction)
    assert client_lookup.table_name == TABLE and client_lookup.lookup_key == "customer_id"
    assert client_lookup.timestamp_lookup_key == "cutoff"
    assert client_lookup.lookback_window == timedelta(days=62)
    assert client_function.udf_name == "main.churnops.ratio"
    assert client_function.output_name == "r"


def test_publish_to_a_client_online_store_spec_binds(store: DatabricksFeatureStore) -> None:
    from databricks.feature_engineering.online_store_spec import AmazonDynamoDBSpec

    spec = AmazonDynamoDBSpec(region="us-west-2")  # built offline; publishing needs a workspace
    result = store.publish_table(TABLE, spec)
    assert store.client.calls == [
        ("publish_table", {"name": TABLE, "online_store": spec, "mode": "merge"})
    ]
    assert result.online_store == "AmazonDynamoDBSpec"


class SignatureCheckedWorkspace:
    """`online_tables` and `pipelines` of databricks-sdk's WorkspaceClient, bound as above;
    `get` answers NotFound until the table is created."""

    def __init__(self) -> None:
        from databricks.sdk.service.catalog import OnlineTablesAPI
        from databricks.sdk.service.pipelines import PipelinesAPI

        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.created: dict[str, Any] = {}
        self.online_tables = self._api(OnlineTablesAPI, "online_tables")
        self.pipelines = self._api(PipelinesAPI, "pipelines")

    def _api(self, cls: type, prefix: str) -> Any:
        from databricks.sdk.errors import NotFound

        def method(name: str) -> Any:
            real = getattr(cls, name)

            def call(*args: Any, **kwargs: Any) -> Any:
                bound = inspect.signature(real).bind(None, *args, **kwargs)
                self.calls.append((f"{prefix}.{name}", dict(bound.arguments)))
                if name == "create":
                    table = bound.arguments["table"]
                    table.spec.pipeline_id = "p-1"  # what the workspace fills in
                    self.created[table.name] = table
                    return table
                if name == "get":
                    if bound.arguments["name"] not in self.created:
                        raise NotFound("no such online table")
                    return self.created[bound.arguments["name"]]
                return None

            return call

        class Api:
            def __getattr__(self, name: str) -> Any:
                return method(name)  # looked up on the real API class when called

        return Api()


def test_publish_to_online_tables_creates_then_syncs(store: DatabricksFeatureStore) -> None:
    workspace = SignatureCheckedWorkspace()
    online = DatabricksOnlineTables(workspace=workspace)
    first = store.publish_table(TABLE, online)
    store.publish_table(TABLE, online)
    assert first.online_store == f"{TABLE}_online"
    assert [c[0] for c in workspace.calls] == [
        "online_tables.get", "online_tables.create", "online_tables.get",
        "pipelines.start_update",
    ]  # fmt: skip
    assert workspace.calls[-1][1]["pipeline_id"] == "p-1"
    spec = workspace.created[f"{TABLE}_online"].spec
    assert spec.primary_key_columns == ["customer_id"] and spec.timeseries_key == "snapshot_date"


@pytest.fixture(scope="module")
def spark() -> Any:
    """A local session of the runtime's pyspark (4.0.0): what the client's score_batch returns
    is a Spark DataFrame, and churnops reshapes it on Spark."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]").appName("churnops-fe-test")
        .config("spark.sql.shuffle.partitions", "1").config("spark.ui.enabled", "false")
        .getOrCreate()
    )  # fmt: skip
    yield session
    session.stop()


def client_scored(spark: Any) -> Any:
    """The client's score_batch output as documented: the input columns, the looked-up
    features, and one column `prediction` of the requested `result_type` (a struct here)."""
    from churnops.scoring.client import RESULT_TYPE

    return spark.createDataFrame(
        [(1, "1997-12-31", 3.0, (0.8, 1)), (2, "1997-12-31", 1.0, (0.1, 0))],
        f"customer_id bigint, cutoff string, total_orders double, prediction {RESULT_TYPE}",
    )


def test_log_model_and_score_batch_bind_to_the_real_client(tmp_path, monkeypatch, spark) -> None:
    import mlflow.pyfunc

    # mlflow-skinny has no SQL store: a file store under tmp_path holds the run.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from churnops.scoring.client import RESULT_TYPE, ScoringClient

    rng = np.random.default_rng(0)
    model = LogisticRegression().fit(rng.normal(size=(40, 2)), np.arange(40) % 2)
    client = SignatureCheckedClient({"score_batch": client_scored(spark)})
    scoring = ScoringClient(DatabricksFeatureStore(client=client, spark=object()))
    training_set = DatabricksTrainingSet(client_set="CLIENT_TRAINING_SET")
    logged = scoring.log_model(
        model, "model", mlflow.pyfunc, training_set, "main.churnops.churnops_churn",
        feature_columns=["a", "b"],
    )  # fmt: skip
    # The client returns nothing; the URI is the run it logged into, which train registers.
    assert logged.model_uri.startswith("runs:/") and logged.model_uri.endswith("/model")
    scored = scoring.score_batch("models:/main.churnops.churnops_churn/1", "DF")
    (log, log_kwargs), (score, score_kwargs) = client.calls
    assert (log, score) == ("log_model", "score_batch")
    assert log_kwargs["training_set"] == "CLIENT_TRAINING_SET"  # the client's, not our wrapper
    assert score_kwargs["result_type"] == RESULT_TYPE
    # The client's struct becomes the two columns churnops writes everywhere.
    assert scored.columns == ["customer_id", "cutoff", "total_orders", "probability", "prediction"]
    assert [tuple(r) for r in scored.select("probability", "prediction").collect()] == [
        (0.8, 1), (0.1, 0),
    ]  # fmt: skip
    # fe.log_model hands the rest to flavor.save_model(path, mlflow_model=..., python_model=model,
    # **kwargs): those keywords must bind to mlflow.pyfunc.save_model too.
    rest = {
        k: v
        for k, v in log_kwargs.items()
        if k not in inspect.signature(CLIENT.log_model).parameters
    }
    assert set(rest) == {"artifacts", "pip_requirements"}
    inspect.signature(mlflow.pyfunc.save_model).bind(
        "path", mlflow_model=None, python_model=log_kwargs["model"], **rest
    )
    assert set(rest["artifacts"]) == {"predictor", "feature_spec", "churnops_wheel"}


def test_the_clients_table_entity_reads_back() -> None:
    table = from_client_table(client_table())
    assert isinstance(table, FeatureTable) and table.name == TABLE
    assert table.key_columns == ["customer_id", "snapshot_date"]


def test_batch_scoring_on_the_databricks_store_binds_and_writes_with_spark(spark, tmp_path) -> None:
    # The batch_inference task's Databricks path: the customers go to the client's score_batch
    # (bound to the real signature), and Spark writes what comes back, sorted, as Parquet.
    import pyarrow.parquet as pq

    from churnops.scoring.client import RESULT_TYPE
    from churnops.scoring.customers import score_on_spark

    client = SignatureCheckedClient({"score_batch": client_scored(spark).orderBy("total_orders")})
    store = DatabricksFeatureStore(client=client, spark=spark)
    customers = spark.createDataFrame([(2, "1997-12-31"), (1, "1997-12-31")],
                                      "customer_id bigint, cutoff string")  # fmt: skip
    out = tmp_path / "predictions" / "1997-12-31.parquet"
    rows, churn_rate = score_on_spark(store, "models:/main.churnops.churnops_churn@champion",
                                      customers, out)  # fmt: skip
    ((name, kwargs),) = client.calls
    assert name == "score_batch" and kwargs["df"] is customers
    assert kwargs["result_type"] == RESULT_TYPE
    assert (rows, churn_rate) == (2, 0.5)
    written = pq.read_table(out)  # a Parquet folder, as Spark writes it
    assert written.column("customer_id").to_pylist() == [1, 2]
    assert written.column_names[-2:] == ["probability", "prediction"]
