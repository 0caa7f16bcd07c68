"""The one training-set builder. From orders: monthly feature table in the feature store ->
labels at a cutoff -> point-in-time `create_training_set` -> Parquet. From a customer table (one
row per customer): read, typed and cleaned -> a feature table keyed by the id -> Parquet. Train,
the tuner, the benchmarks and the pipeline's feature task all build their training sets here,
and a model is logged with the lookups that find its features again by customer id."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from churnops.data import storage
from churnops.data.engines import EngineConfig, engine_for
from churnops.data.engines.api import dataframe_api
from churnops.data.feature_store.base import FeatureLookup
from churnops.data.feature_store.config import FeatureStoreConfig, get_feature_store
from churnops.data.feature_store.local import LocalFeatureStore
from churnops.data.feature_store.timeseries import (
    ENTITY_KEY,
    month_ends,
    order_span,
    snapshot_frame,
    write_snapshots,
)
from churnops.data.features import FEATURE_COLUMNS, compute_labels
from churnops.data.features.customer_table import CSV_SUFFIXES, infer_table_kind
from churnops.data.sources import prepare_orders
from churnops.data.sources.customers import CustomerTableReport
from churnops.models.feature_spec import TableLookupSpec
from churnops.trainers.config import DataConfig, TrainConfig

TIMESTAMP_KEY = "cutoff"  # the labels' column the point-in-time lookup matches snapshots to


@dataclass
class TrainingSetBuild:
    """What a build wrote: the Parquet, the feature table version it read, and its shape."""

    path: Path | str  # a Path, or an object-store URI
    orders_path: Path | str
    feature_store_root: Path | str
    feature_table: str
    feature_table_version: int
    snapshots: list[date]
    rows: int
    churn_rate: float
    as_of: date
    horizon_days: int
    seconds: float


def snapshot_cutoffs(first: date, as_of: date, until: date | None = None) -> list[date]:
    """`as_of`, plus every month end from the first order's month to `until` when given.

    `as_of` is always a snapshot, so a cutoff inside a month sees features as of that very day
    rather than the month end before it.
    """
    if as_of < first:
        raise ValueError(f"data.as_of={as_of}: before the first order ({first}); no customers yet")
    cutoffs = {as_of} | (set(month_ends(first, until)) if until and until >= first else set())
    return sorted(cutoffs)


def build_training_set(
    path: str | Path,
    data: DataConfig,
    feature_store_root: str | Path,
    feature_table: str = "churnops.cdnow.customer_features_monthly",
    engine: EngineConfig | str = "duckdb",
    monthly_history: bool = False,
    store_config: FeatureStoreConfig | None = None,
) -> TrainingSetBuild:
    """Build the training set for `data.source` at `data.as_of` / `data.horizon_days` at `path`.

    The orders are cleaned to `<path stem>-orders.parquet`; customer features at `as_of` (and
    at every month end through the last order, with `monthly_history`) are merged into the Delta
    feature table `feature_table` under `feature_store_root`; labels (`customer_id`, `cutoff`,
    `churn` int64) are joined to the latest snapshot at or before their cutoff with
    `create_training_set`; the result is written atomically as Parquet sorted by `customer_id`.

    Args:
        path: the training-set Parquet to write.
        data: source, `as_of`, `horizon_days`, label column.
        feature_store_root: where the feature store's Delta tables live.
        feature_table: the monthly (time-series) feature table to write and look up.
        engine: the engine setting (`EngineConfig`) or its name, "duckdb" or "spark".
        monthly_history: also snapshot every month end through the last order (the pipeline
            does, so the table holds a monthly history and its newest rows can be published
            for serving); by default only `as_of` is computed.
        store_config: the feature store backend (default: local, rooted at
            `feature_store_root`); `backend: databricks` writes Unity Catalog feature tables and
            builds the set with the client's `create_training_set`.

    Returns:
        A `TrainingSetBuild`.
    """
    start = time.perf_counter()
    path = storage.native(path)  # a Path, or an object-store URI (s3://...) as text
    orders_path = storage.sibling(path, f"{Path(str(path)).stem}-orders.parquet")
    prepare_orders(data.source, orders_path)
    with engine_for(engine) as runner:
        cfg = (store_config or FeatureStoreConfig()).model_copy(
            update={"root": str(feature_store_root)}
        )
        store = get_feature_store(cfg, engine=runner)
        orders = storage.read_parquet_frame(runner, orders_path)
        first, last = order_span(orders)
        if first is None:
            raise ValueError(f"data.source: {data.source.kind} has no orders")
        cutoffs = snapshot_cutoffs(first, data.as_of, last if monthly_history else None)
        table = write_snapshots(
            store, feature_table, snapshot_frame(orders, cutoffs),  # streamed into the store
            description=f"customer features at {len(cutoffs)} cutoffs, {cutoffs[0]}..{cutoffs[-1]}",
        )  # fmt: skip
        labels = compute_labels(orders, data.as_of, data.horizon_days)
        F, _ = dataframe_api(labels)
        # One label dtype everywhere (int64), whatever the engine's `int` is.
        labels = labels.select(
            ENTITY_KEY, TIMESTAMP_KEY, F.col("churn").cast("bigint").alias(data.label_column)
        )
        training_set = store.create_training_set(
            labels, order_feature_lookups(feature_table), label=data.label_column
        )
        rows = training_set.write_parquet(path, sort_by=[ENTITY_KEY])
    # The label column alone, not the set: the builder never holds the whole set in memory.
    churn = storage.read_parquet(path, columns=[data.label_column])[data.label_column].to_numpy()
    return TrainingSetBuild(
        path=path,
        orders_path=orders_path,
        feature_store_root=storage.native(feature_store_root),
        feature_table=feature_table,
        feature_table_version=table.version,
        snapshots=cutoffs,
        rows=rows,
        churn_rate=float(churn.mean()) if len(churn) else float("nan"),
        as_of=data.as_of,
        horizon_days=data.horizon_days,
        seconds=time.perf_counter() - start,
    )


def order_feature_lookups(table: str, columns: list[str] | None = None) -> list[FeatureLookup]:
    """The lookups of the order features: by customer id, point-in-time on the label cutoff."""
    return [
        FeatureLookup(
            table,
            lookup_key=ENTITY_KEY,
            feature_names=list(columns or FEATURE_COLUMNS),
            timestamp_lookup_key=TIMESTAMP_KEY,
        )
    ]


def store_model_logger(
    store_config: FeatureStoreConfig, training_set: str | Path, label: str
) -> Callable[..., Any]:
    """A `log_model` for `train`: the model logged through the feature store, with the training
    set's keys (`customer_id`, `cutoff`) looked up in `store_config.timeseries_table` -- on
    Databricks the client's `fe.log_model`, so a serving endpoint looks the features up."""

    def log_model(model: Any, spec: Any, input_example: Any = None) -> Any:
        import mlflow.pyfunc

        from churnops.scoring.client import ScoringClient

        with engine_for(store_config.engine) as runner:
            store = get_feature_store(store_config, engine=runner)
            keys = storage.read_parquet_frame(runner, training_set).select(
                ENTITY_KEY, TIMESTAMP_KEY, label
            )
            lookups = order_feature_lookups(store_config.timeseries_table, spec.feature_columns)
            logged = store.create_training_set(keys, lookups, label=label)
            return ScoringClient(store).log_model(
                model, "model", mlflow.pyfunc, logged, feature_columns=spec.feature_columns
            )

    return log_model


def default_training_set(workdir: str | Path, data: DataConfig) -> Path:
    """Where `train` keeps the training set it builds for `data` when `data.path` is null.

    The name carries the cutoff, the horizon and a digest of the source config, so a changed
    source is never answered by a stale file.
    """
    source = hashlib.sha256(data.source.model_dump_json().encode()).hexdigest()[:8]
    name = f"training_set-{data.name}-{data.as_of}-h{data.horizon_days}-{source}.parquet"
    return Path(workdir) / name


def ensure_training_set(
    workdir: str | Path, data: DataConfig, engine: EngineConfig | str = "duckdb"
) -> Path:
    """`data.path` (a path, or an object-store URI: then a local copy of it), or the training
    set for `data` built once under `workdir`."""
    if data.path:  # an object store's training set is read from a local copy, made once
        return storage.local_copy(data.path, Path(workdir) / "cache" / "training_sets")
    path = default_training_set(workdir, data)
    if not path.exists():
        table = orders_feature_table(data)
        build_training_set(path, data, Path(workdir) / "feature_store", table, engine=engine)
    return path


@dataclass
class TrainingData:
    """A training set ready to fit on: its Parquet, the config with its feature columns resolved,
    and how a model trained on it finds its features again by key."""

    path: Path
    cfg: TrainConfig
    lookups: list[TableLookupSpec] = field(default_factory=list)
    feature_store_root: Path | None = None  # where `lookups` read (score-batch --root)
    report: CustomerTableReport | None = None  # a customer table's: rejects, types, gaps


def table_slug(name: str) -> str:
    """`name` as one part of a feature table's name (letters, digits, underscores)."""
    return re.sub(r"[^0-9a-zA-Z_]+", "_", name).strip("_").lower() or "data"


def orders_feature_table(data: DataConfig) -> str:
    """The monthly feature table a training set built from orders reads."""
    return f"churnops.{table_slug(str(data.name))}.customer_features_monthly"


def prepare_training_data(cfg: TrainConfig, engine: EngineConfig | str = "duckdb") -> TrainingData:
    """The training set `cfg.data` names, with `cfg.features.columns` resolved.

    - `data.path` null: built from the orders source through the feature store (the 18 order
      features, looked up by customer id and cutoff).
    - a training set churnops built from orders (it holds the 18 features): used as it is.
    - any other table (CSV, Parquet, Delta): a customer table, read with `data.delimiter`,
      `label_values` and `invalid_values`; its columns are typed as `churnops features
      customers` shows; the features go to a table keyed by the id in the feature store under
      workdir, so a model trained on it scores by customer id.
    """
    data, features = cfg.data, cfg.features
    root = Path(cfg.workdir) / "feature_store"
    if data.path is None:
        path = ensure_training_set(cfg.workdir, data, engine)
        table = orders_feature_table(data)
        columns = features.columns or list(FEATURE_COLUMNS)
        lookup = TableLookupSpec(
            table, [ENTITY_KEY], {c: c for c in columns}, timestamp_lookup_key=TIMESTAMP_KEY,
            table_version=_table_version(root, table),
        )  # fmt: skip
        return TrainingData(path, _with_columns(cfg, columns), [lookup], root)
    # An object store's table is read from a local copy, made once per version of it.
    cache = Path(cfg.workdir) / "cache" / "training_sets"
    path = storage.local_copy(data.path, cache).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"data.path={str(path)!r}: no file or table there")
    if path.suffix.lower() not in CSV_SUFFIXES and _holds(path, list(FEATURE_COLUMNS)):
        return TrainingData(path, _with_columns(cfg, features.columns or list(FEATURE_COLUMNS)))
    return _customer_training_set(cfg, path, root)


def _with_columns(
    cfg: TrainConfig, columns: list[str], categorical: list[str] | None = None
) -> TrainConfig:
    update: dict[str, Any] = {"columns": list(columns)}
    if categorical is not None:
        update["categorical"] = categorical
    features = cfg.features.model_validate({**cfg.features.model_dump(), **update})
    return cfg.model_copy(update={"features": features})


def _holds(path: Path, columns: list[str]) -> bool:
    """Whether the Parquet file / folder or Delta table at `path` has every one of `columns`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if (path / "_delta_log").is_dir():
            from deltalake import DeltaTable

            names = pa.schema(DeltaTable(str(path)).schema().to_arrow()).names
        else:
            schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
            names = schema.names
    except (pa.ArrowInvalid, OSError):
        return False  # not Parquet: the customer-table reader says what it is
    return set(columns) <= set(names)


def _table_version(root: Path, table: str) -> int | None:
    store = LocalFeatureStore(root)
    return store.get_table(table).version if table in store.list_tables() else None


def _customer_training_set(cfg: TrainConfig, path: Path, root: Path) -> TrainingData:
    """Read the customer table at `path`, keep its features in the feature store keyed by the
    id, and write the training set (id, features, 0/1 label) beside them."""
    from churnops.data.sources.customers import (
        DEFAULT_LABEL_VALUES,
        CustomerTableConfig,
        read_customer_table,
    )
    from churnops.data.sources.validation import SourceError

    data, features = cfg.data, cfg.features
    table_cfg = CustomerTableConfig(
        kind=infer_table_kind(path), path=str(path), id_column=data.id_column,
        label_column=data.label_column,
        label_values=data.label_values or dict(DEFAULT_LABEL_VALUES),
        features=features.columns, categorical=features.categorical,
        invalid_values=data.invalid_values, delimiter=data.delimiter,
    )  # fmt: skip
    try:
        read = read_customer_table(table_cfg)
    except SourceError as exc:
        raise SourceError(f"data.path={str(path)!r}: {exc}") from None
    columns = read.feature_columns
    chosen = set(features.categorical) | set(read.categorical)
    resolved = _with_columns(cfg, columns, [c for c in columns if c in chosen])
    slug = table_slug(str(data.name))
    out = Path(cfg.workdir) / f"training_set-{slug}-customers.parquet"
    storage.write_parquet_atomic(read.table, out)
    key = read.report.id_column
    outputs = {c: c for c in columns if c != key}
    if read.report.id_made or not outputs:  # row numbers are no key to score customers by
        return TrainingData(out, resolved, report=read.report)
    name = f"churnops.{slug}.customer_table"
    version = _store_customer_features(root, name, key, read.table.drop([data.label_column]))
    lookup = TableLookupSpec(name, [key], outputs, table_version=version)
    return TrainingData(out, resolved, [lookup], root, read.report)


def _store_customer_features(root: Path, name: str, key: str, table: Any) -> int:
    """The customer features as feature table `name` (primary key `key`), replacing its rows;
    returns the Delta version written."""
    store = LocalFeatureStore(root)
    if name in store.list_tables():
        if store.get_table(name).primary_keys == [key]:
            return store.write_table(name, table, mode="overwrite")
        store.drop_table(name)  # the id column changed: a new table
    return store.create_table(
        name, primary_keys=key, df=table,
        description="a customer table's features, one row per customer (churnops train)",
        tags={"entity": "customer", "source": "churnops.data.sources.customers"},
    ).version  # fmt: skip
