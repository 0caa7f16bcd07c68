"""`DatabricksFeatureStore`: the same `FeatureStore` calls over the official Databricks client.

It needs `databricks-feature-engineering` (imported lazily, on Databricks runtimes it is
preinstalled) and a workspace. Our `FeatureLookup` / `FeatureFunction` objects are translated to
the client's, so user code written against churnops runs unchanged on Databricks. Online serving
is a Databricks online table synced from the feature table (`DatabricksOnlineTables`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from churnops.data.feature_store.base import (
    FeatureFunction,
    FeatureLookup,
    FeatureStoreError,
    FeatureTable,
    as_list,
    split_table_name,
)
from churnops.data.feature_store.publish import PublishResult

INSTALL_HINT = (
    "the databricks backend needs the official client: pip install databricks-feature-engineering "
    "(preinstalled on Databricks ML runtimes; it pins protobuf<7, so install it in its own env)"
)


def client_module() -> Any:
    """`databricks.feature_engineering`, or an error that says how to get it."""
    try:
        import databricks.feature_engineering as fe
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return fe


def to_client_lookup(item: FeatureLookup | FeatureFunction, fe: Any) -> Any:
    """Our lookup or function as the client's object (only the arguments that are set)."""
    if isinstance(item, FeatureFunction):
        return fe.FeatureFunction(
            udf_name=item.udf_name,
            input_bindings=dict(item.input_bindings),
            output_name=item.output_name,
        )
    kwargs: dict[str, Any] = {"table_name": item.table_name, "lookup_key": item.lookup_key}
    for arg in (
        "feature_names",
        "rename_outputs",
        "timestamp_lookup_key",
        "lookback_window",
        "default_values",
    ):
        value = getattr(item, arg)
        if value is not None:
            kwargs[arg] = value
    return fe.FeatureLookup(**kwargs)


def from_client_table(table: Any) -> FeatureTable:
    """The client's FeatureTable as ours (same fields, names as in `get_table`)."""
    timestamp_keys = list(getattr(table, "timestamp_keys", None) or [])
    keys = [k for k in table.primary_keys if k not in timestamp_keys]
    created = getattr(table, "creation_timestamp", None)
    features = [f for f in (table.features or []) if f not in keys + timestamp_keys]
    return FeatureTable(
        name=table.name,
        path=getattr(table, "table_id", "") or "",
        primary_keys=keys,
        timeseries_column=timestamp_keys[0] if timestamp_keys else None,
        partition_columns=list(table.partition_columns or []),
        description=table.description,
        tags=dict(getattr(table, "tags", None) or {}),
        created_by="",
        created_at=datetime.fromtimestamp(created / 1000).isoformat() if created else "",
        features=features,
        schema={},
        version=-1,  # the Unity Catalog table's version is not part of the client's metadata
    )


class DatabricksFeatureStore:
    """The `FeatureStore` protocol on a Databricks workspace (Unity Catalog feature tables).

    Args:
        client: a `FeatureEngineeringClient`; created on first use when not given.
        spark: the SparkSession (Arrow tables become its DataFrames, `read_table(version=...)`
            reads through it); the active one by default.
        schema: the Unity Catalog schema (`catalog.schema`) whose tables `list_tables` names.
    """

    def __init__(self, client: Any = None, spark: Any = None, schema: str | None = None):
        self._client = client
        self._spark = spark
        self.schema = schema

    def close(self) -> None:
        """Nothing to release: the Spark session and the client belong to the workspace."""

    def __enter__(self) -> DatabricksFeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client_module().FeatureEngineeringClient()
        return self._client

    @property
    def spark(self) -> Any:
        return self._spark or _active_spark()

    def _frame(self, df: Any) -> Any:
        """`df` as a Spark DataFrame: the client writes Spark DataFrames only (Spark 4 takes an
        Arrow table as it is)."""
        import pyarrow as pa

        return self.spark.createDataFrame(df) if isinstance(df, pa.Table) else df

    def list_tables(self) -> list[str]:
        """The tables of `schema` (the client has no listing; Unity Catalog answers)."""
        if not self.schema:
            raise FeatureStoreError("list_tables on Databricks needs schema='catalog.schema'")
        rows = self.spark.sql(f"SHOW TABLES IN {self.schema}").collect()
        return [f"{self.schema}.{row.tableName}" for row in rows if not row.isTemporary]

    def _lookups(self, items: list[FeatureLookup | FeatureFunction]) -> list[Any]:
        fe = client_module()
        return [to_client_lookup(item, fe) for item in items]

    def create_table(
        self,
        name: str,
        primary_keys: str | list[str],
        df: Any = None,
        schema: Any = None,
        timeseries_column: str | None = None,
        partition_columns: str | list[str] | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> FeatureTable:
        split_table_name(name)
        keys = as_list(primary_keys)
        # On Databricks the timeseries column is also one of the primary keys.
        if timeseries_column and timeseries_column not in keys:
            keys = [*keys, timeseries_column]
        table = self.client.create_table(
            name=name,
            primary_keys=keys,
            df=None if df is None else self._frame(df),
            schema=schema,
            timeseries_column=timeseries_column,
            partition_columns=as_list(partition_columns) or None,
            description=description,
            tags=tags,
        )
        return from_client_table(table)

    def write_table(self, name: str, df: Any, mode: str = "merge") -> None:
        if mode not in ("merge", "overwrite"):
            raise FeatureStoreError(f"write_table mode={mode!r}: expected merge or overwrite")
        self.client.write_table(name=name, df=self._frame(df), mode=mode)

    def read_table(
        self, name: str, version: int | None = None, as_of_delta_timestamp: Any = None
    ) -> Any:
        if version is not None and as_of_delta_timestamp is not None:
            raise FeatureStoreError("give version or as_of_delta_timestamp, not both")
        if version is not None:
            # The client reads by timestamp only; Delta time travel by version goes through Spark.
            return self.spark.read.option("versionAsOf", int(version)).table(name)
        if as_of_delta_timestamp is not None:
            return self.client.read_table(
                name=name, as_of_delta_timestamp=str(as_of_delta_timestamp)
            )
        return self.client.read_table(name=name)

    def get_table(self, name: str) -> FeatureTable:
        return from_client_table(self.client.get_table(name=name))

    def drop_table(self, name: str) -> None:
        self.client.drop_table(name=name)

    def create_training_set(
        self,
        df: Any,
        feature_lookups: list[FeatureLookup | FeatureFunction],
        label: str | list[str] | None,
        exclude_columns: list[str] | None = None,
    ) -> DatabricksTrainingSet:
        """The client's TrainingSet, wrapped so it writes Parquet as the local one does."""
        return DatabricksTrainingSet(
            self.client.create_training_set(
                df=self._frame(df),
                feature_lookups=self._lookups(feature_lookups),
                label=label,
                exclude_columns=exclude_columns or [],
            )
        )

    def publish_table(self, name: str, online_store: Any, mode: str = "merge") -> PublishResult:
        """Serve `name` online: a `DatabricksOnlineTables` syncs a Databricks online table from
        it; any other `online_store` is the client's spec (DynamoDB, Cosmos DB) and goes to the
        client's `publish_table` (merge is the one mode it has)."""
        start = time.perf_counter()
        if isinstance(online_store, DatabricksOnlineTables):
            target = online_store.sync(self.get_table(name))
        else:
            self.client.publish_table(name=name, online_store=online_store, mode=mode)
            target = type(online_store).__name__
        # The sync runs on the platform after this returns: rows are not counted here.
        return PublishResult(name, target, mode, -1, -1, time.perf_counter() - start)


@dataclass
class DatabricksTrainingSet:
    """The client's TrainingSet (`client_set`, what `fe.log_model` takes) with `write_parquet`."""

    client_set: Any

    def load_df(self) -> Any:
        return self.client_set.load_df()

    def write_parquet(self, path: str | Path, sort_by: list[str] | None = None) -> int:
        """Write the set as a Parquet folder with Spark (on the cluster, never collected to the
        driver), sorted by `sort_by`; returns the rows written."""
        df = self.load_df()
        write_spark_parquet(df, path, sort_by)
        return int(df.sparkSession.read.parquet(str(path)).count())


def write_spark_parquet(df: Any, path: str | Path, sort_by: list[str] | None = None) -> None:
    """Write a Spark DataFrame as a Parquet folder at `path` (overwritten), sorted by
    `sort_by`: the executors write it, nothing is collected on the driver."""
    if sort_by:
        df = df.orderBy(*sort_by)
    df.write.mode("overwrite").parquet(str(path))


@dataclass
class DatabricksOnlineTables:
    """Online serving on Databricks: an online table `<feature table><suffix>` kept in sync with
    the feature table (created on first publish, refreshed by a triggered sync after that).

    Args:
        suffix: appended to the feature table's name to name the online table.
        workspace: a `databricks.sdk.WorkspaceClient`; created on first use when not given.
    """

    suffix: str = "_online"
    workspace: Any = None

    def online_table(self, table: FeatureTable) -> Any:
        """The SDK's `OnlineTable` for `table` (keys, timeseries key, triggered sync)."""
        from databricks.sdk.service.catalog import (
            OnlineTable,
            OnlineTableSpec,
            OnlineTableSpecTriggeredSchedulingPolicy,
        )

        return OnlineTable(
            name=f"{table.name}{self.suffix}",
            spec=OnlineTableSpec(
                source_table_full_name=table.name,
                primary_key_columns=list(table.primary_keys),
                timeseries_key=table.timeseries_column,
                run_triggered=OnlineTableSpecTriggeredSchedulingPolicy(),
            ),
        )

    def sync(self, table: FeatureTable) -> str:
        """Create the online table, or start a sync of the one that exists; returns its name."""
        from databricks.sdk.errors import NotFound

        if self.workspace is None:
            from databricks.sdk import WorkspaceClient

            self.workspace = WorkspaceClient()
        wanted = self.online_table(table)
        try:
            existing = self.workspace.online_tables.get(wanted.name)
        except NotFound:
            self.workspace.online_tables.create(table=wanted)
            return str(wanted.name)
        self.workspace.pipelines.start_update(existing.spec.pipeline_id)
        return str(wanted.name)

    def close(self) -> None:
        """Nothing to close (the online stores' `close`, for callers that close every store)."""


def _active_spark() -> Any:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise FeatureStoreError(
            "read_table(version=...) on Databricks needs an active SparkSession"
        )
    return spark
