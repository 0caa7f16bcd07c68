"""The feature store's API: the Databricks Feature Engineering client's calls and argument names.

`FeatureStore` is the protocol every backend implements (`LocalFeatureStore` on delta-rs,
`DatabricksFeatureStore` over the official client); `FeatureLookup`, `FeatureFunction` and
`TrainingSet` are the objects user code builds, with the client's argument names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

NAME_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FeatureStoreError(ValueError):
    """A feature-store call with bad input: the message names the table, field and value."""


class FeatureTableNotFoundError(FeatureStoreError, LookupError):
    """The named feature table does not exist."""


def split_table_name(name: str) -> tuple[str, str, str]:
    """Split `catalog.schema.table`, checking each part is a plain identifier."""
    parts = name.split(".") if isinstance(name, str) else []
    if len(parts) != 3 or not all(NAME_PART.match(p) for p in parts):
        raise FeatureStoreError(
            f"name={name!r}: expected a three-level name catalog.schema.table, each part letters, "
            "digits or underscores (e.g. 'ml.churn.customer_features')"
        )
    return parts[0], parts[1], parts[2]


def as_list(value: str | Sequence[str] | None) -> list[str]:
    """`"a"` -> `["a"]`, `None` -> `[]`, a sequence -> a list (the client accepts all three)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class FeatureTable:
    """A feature table's metadata, as `get_table` returns it.

    Attributes:
        name: the three-level name.
        primary_keys: the entity keys (without the timeseries column).
        timeseries_column: the feature timestamp for point-in-time lookups, or None.
        features: every column that is neither a key nor the timeseries column.
        version: the Delta version this metadata was read at.
    """

    name: str
    path: str
    primary_keys: list[str]
    timeseries_column: str | None
    partition_columns: list[str]
    description: str | None
    tags: dict[str, str]
    created_by: str
    created_at: str
    features: list[str]
    schema: dict[str, str]
    version: int
    updated_at: str | None = None

    @property
    def key_columns(self) -> list[str]:
        """The merge key: primary keys plus the timeseries column when there is one."""
        return self.primary_keys + ([self.timeseries_column] if self.timeseries_column else [])


@dataclass(frozen=True)
class FeatureLookup:
    """Features to join from one table into a training or scoring DataFrame.

    Args mirror `databricks.feature_engineering.FeatureLookup`:
        table_name: the feature table.
        lookup_key: the DataFrame column(s) matched, in order, against the table's primary keys.
        feature_names: which features to take (default: all of them).
        rename_outputs: feature name -> output column name.
        timestamp_lookup_key: the DataFrame column holding each row's time; makes the lookup
            point-in-time (latest feature row at or before that time).
        lookback_window: how far back a feature row may be to count (needs timestamp_lookup_key).
        default_values: output name (after renaming) -> value used when no feature row matches.
    """

    table_name: str
    lookup_key: str | list[str]
    feature_names: str | list[str] | None = None
    rename_outputs: dict[str, str] | None = None
    timestamp_lookup_key: str | None = None
    lookback_window: timedelta | None = None
    default_values: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        split_table_name(self.table_name)
        if not as_list(self.lookup_key):
            raise FeatureStoreError(
                f"FeatureLookup({self.table_name}).lookup_key={self.lookup_key!r}: "
                "expected one or more column names"
            )
        if self.lookback_window is not None:
            if not isinstance(self.lookback_window, timedelta) or self.lookback_window < timedelta(
                0
            ):
                raise FeatureStoreError(
                    f"FeatureLookup({self.table_name}).lookback_window={self.lookback_window!r}: "
                    "expected a non-negative datetime.timedelta"
                )
            if self.timestamp_lookup_key is None:
                raise FeatureStoreError(
                    f"FeatureLookup({self.table_name}).lookback_window needs timestamp_lookup_key"
                )

        renames = self.rename_outputs or {}
        outputs = [renames.get(f, f) for f in as_list(self.feature_names)]
        for key in self.default_values or {}:
            # As on Databricks: defaults are keyed by the output (renamed) name.
            if key in renames:
                raise FeatureStoreError(
                    f"FeatureLookup({self.table_name}).default_values: {key!r} is renamed to "
                    f"{renames[key]!r}; key its default by the renamed name"
                )
            if outputs and key not in outputs:
                raise FeatureStoreError(
                    f"FeatureLookup({self.table_name}).default_values: {key!r} is not among the "
                    f"looked-up features {outputs}"
                )

    @property
    def lookup_keys(self) -> list[str]:
        return as_list(self.lookup_key)


# On-demand functions by name: the local stand-in for Unity Catalog Python UDFs.
_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def register_function(name: str, fn: Callable[..., Any] | None = None) -> Any:
    """Register a Python function for `FeatureFunction(udf_name=name)`; usable as a decorator.

    The function takes scalar keyword arguments (one row) and returns a scalar, like a Unity
    Catalog Python UDF, so training, batch scoring and serving all call the very same code.
    """

    def add(f: Callable[..., Any]) -> Callable[..., Any]:
        _FUNCTIONS[name.lower()] = f
        return f

    return add(fn) if fn is not None else add


def registered_function(name: str) -> Callable[..., Any]:
    """The function registered under `name`; an unknown name is an error listing the known ones."""
    try:
        return _FUNCTIONS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(_FUNCTIONS)) or "none"
        raise FeatureStoreError(
            f"FeatureFunction udf_name={name!r}: no function registered under that name "
            f"(registered: {known}); use churnops.data.feature_store.register_function"
        ) from None


@dataclass(frozen=True)
class FeatureFunction:
    """An on-demand feature: a registered function applied to columns of each row.

    Args mirror `databricks.feature_engineering.FeatureFunction`:
        udf_name: the registered function's name (a Unity Catalog function on Databricks).
        input_bindings: function parameter -> column (a lookup's output or a DataFrame column).
        output_name: the new column's name (default: the last part of udf_name).
    """

    udf_name: str
    input_bindings: dict[str, str] = field(default_factory=dict)
    output_name: str | None = None

    @property
    def output(self) -> str:
        return self.output_name or self.udf_name.split(".")[-1]

    def evaluate_row(self, row: Mapping[str, Any]) -> Any:
        """Compute the feature for one row (a mapping of column -> value): the serving path."""
        fn = registered_function(self.udf_name)
        missing = [c for c in self.input_bindings.values() if c not in row]
        if missing:
            raise FeatureStoreError(
                f"FeatureFunction {self.udf_name!r}: input column(s) {missing} are not in the row"
            )
        return fn(**{param: row[col] for param, col in self.input_bindings.items()})


class TrainingSet(Protocol):
    """The result of `create_training_set`: features joined onto the caller's DataFrame."""

    feature_lookups: list[FeatureLookup | FeatureFunction]
    label: str | list[str] | None

    def load_df(self) -> Any:
        """The training DataFrame, in the caller's engine."""
        ...

    def write_parquet(self, path: str | Path, sort_by: list[str] | None = None) -> int:
        """The set materialised as Parquet at `path` (sorted by `sort_by`); the rows written."""
        ...


class FeatureStore(Protocol):
    """The Feature Engineering client's data calls, with its argument names.

    Model packaging and batch scoring (the client's `log_model` / `score_batch`) sit a floor
    up, in `churnops.scoring.client.ScoringClient`, which composes a store with the pyfunc.
    """

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
        """Create a feature table, optionally writing `df` as its first version."""
        ...

    def write_table(self, name: str, df: Any, mode: str = "merge") -> None:
        """Upsert `df` into the table by its keys (`mode="merge"`)."""
        ...

    def read_table(
        self, name: str, version: int | None = None, as_of_delta_timestamp: datetime | None = None
    ) -> Any:
        """The table's rows, at the latest version or as of a version or time."""
        ...

    def get_table(self, name: str) -> FeatureTable:
        """The table's metadata."""
        ...

    def drop_table(self, name: str) -> None:
        """Delete the table and its data."""
        ...

    def create_training_set(
        self,
        df: Any,
        feature_lookups: Sequence[FeatureLookup | FeatureFunction],
        label: str | list[str] | None,
        exclude_columns: list[str] | None = None,
    ) -> TrainingSet:
        """Join the lookups' features (point-in-time where asked) onto `df`."""
        ...

    def publish_table(self, name: str, online_store: Any, mode: str = "incremental") -> Any:
        """Copy the latest row per key to an online store."""
        ...

    def close(self) -> None:
        """Release what the store created for itself (an engine it started); `with` calls it."""
        ...

    def __enter__(self) -> FeatureStore: ...

    def __exit__(self, *exc: object) -> None: ...
