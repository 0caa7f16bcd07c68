"""`LocalTrainingSet`: feature lookups and on-demand functions applied to the caller's DataFrame."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from churnops.data.feature_store.base import (
    FeatureFunction,
    FeatureLookup,
    FeatureStoreError,
    as_list,
)
from churnops.data.feature_store.frames import arrow_to_frame, frame_kind, to_arrow
from churnops.data.feature_store.point_in_time import join_features


def apply_functions_arrow(table: pa.Table, functions: list[FeatureFunction]) -> pa.Table:
    """Add each function's output column, row by row with the same code serving uses."""
    for fn in functions:
        if fn.output in table.column_names:
            raise FeatureStoreError(
                f"FeatureFunction {fn.udf_name!r}: output column {fn.output!r} already exists"
            )
        missing = [c for c in fn.input_bindings.values() if c not in table.column_names]
        if missing:
            raise FeatureStoreError(
                f"FeatureFunction {fn.udf_name!r}: input column(s) {missing} are neither in the "
                "DataFrame nor produced by a lookup"
            )
        inputs = {p: table[c].to_pylist() for p, c in fn.input_bindings.items()}
        values = [
            fn.evaluate_row({fn.input_bindings[p]: inputs[p][i] for p in inputs})
            for i in range(table.num_rows)
        ]
        table = table.append_column(fn.output, pa.array(values))
    return table


@dataclass
class LocalTrainingSet:
    """Features joined onto `df` when `load_df()` is called, in `df`'s own engine.

    The result keeps `df`'s columns (less `exclude_columns`), then each lookup's features and each
    function's output, then the label column(s) last.
    """

    store: Any
    df: Any
    feature_lookups: list[FeatureLookup | FeatureFunction]
    label: str | list[str] | None
    exclude_columns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for label in as_list(self.label):
            if label not in self.df.columns:
                raise FeatureStoreError(
                    f"label={label!r} is not a column of df (columns: {list(self.df.columns)})"
                )
        self.table_versions: dict[str, int] = {}

    @property
    def lookups(self) -> list[FeatureLookup]:
        return [f for f in self.feature_lookups if isinstance(f, FeatureLookup)]

    @property
    def functions(self) -> list[FeatureFunction]:
        return [f for f in self.feature_lookups if isinstance(f, FeatureFunction)]

    def load_df(self) -> Any:
        """The training DataFrame (lazy on both engines until collected)."""
        out = self.df
        for lookup in self.lookups:
            out = self._join(out, lookup)
        if self.functions:
            out = arrow_to_frame(out, apply_functions_arrow(to_arrow(out), self.functions))
        labels = as_list(self.label)
        drop = set(self.exclude_columns) | set(labels)
        ordered = [c for c in out.columns if c not in drop] + labels
        return out.select(*ordered)

    def _join(self, df: Any, lookup: FeatureLookup) -> Any:
        table = self.store.get_table(lookup.table_name)
        self.table_versions[lookup.table_name] = table.version
        where = f"FeatureLookup({lookup.table_name})"
        if len(lookup.lookup_keys) != len(table.primary_keys):
            raise FeatureStoreError(
                f"{where}.lookup_key={lookup.lookup_key!r}: the table has primary keys "
                f"{table.primary_keys}; give one lookup column per key, in that order"
            )
        missing = [k for k in lookup.lookup_keys if k not in df.columns]
        ts_key = lookup.timestamp_lookup_key
        if ts_key is not None and ts_key not in df.columns:
            missing.append(ts_key)
        if missing:
            raise FeatureStoreError(f"{where}: column(s) {missing} are not in df")
        if ts_key is not None and table.timeseries_column is None:
            raise FeatureStoreError(
                f"{where}.timestamp_lookup_key={ts_key!r}: the table has no timeseries column"
            )
        names = as_list(lookup.feature_names) or table.features
        unknown = [n for n in names if n not in table.features]
        if unknown:
            raise FeatureStoreError(
                f"{where}.feature_names: {unknown} are not features of the table "
                f"(features: {table.features})"
            )
        renames = lookup.rename_outputs or {}
        outputs = {n: renames.get(n, n) for n in names}
        clash = [o for o in outputs.values() if o in df.columns]
        if clash:
            raise FeatureStoreError(
                f"{where}: output column(s) {clash} already exist in df; use rename_outputs"
            )
        defaults = dict(lookup.default_values or {})
        unknown = [k for k in defaults if k not in outputs.values()]
        if unknown:
            raise FeatureStoreError(
                f"{where}.default_values: {unknown} are not output columns of the lookup"
            )
        features = self.store.read_table(lookup.table_name, version=table.version, like=df)
        return join_features(
            df,
            features,
            lookup_keys=lookup.lookup_keys,
            table_keys=table.primary_keys,
            outputs=outputs,
            timestamp_lookup_key=ts_key,
            timeseries_column=table.timeseries_column,
            lookback_window=lookup.lookback_window,
            default_values=defaults,
        )

    def write_parquet(self, path: str | Path, sort_by: list[str] | None = None) -> int:
        """Materialise the training set to one Parquet file (written atomically), sorted by
        `sort_by` columns when given so reruns write identical files. Returns the rows written.

        On DuckDB the engine sorts (spilling past its memory limit) and writes the file itself,
        so the set never sits whole in Python; on Spark the set comes back through Arrow.
        """
        from churnops.data import storage

        df = self.load_df()
        if frame_kind(df) == "duckdb":
            from churnops.data.engines.duckdb import copy_to_parquet

            if not storage.is_local(path):  # DuckDB writes a local file, then it is uploaded
                with storage.staged_output(path) as local:
                    return copy_to_parquet(df, local, order_by=sort_by)
            return copy_to_parquet(df, path, order_by=sort_by)
        if sort_by:
            df = df.orderBy(*sort_by)
        table = to_arrow(df)
        storage.write_parquet_atomic(table, path)
        return table.num_rows
