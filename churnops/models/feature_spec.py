"""The feature spec packaged with every model: which features it reads and where they come from.

A model's input is its `feature_columns`, in order. The spec says how to get them from a frame
that carries only keys: which feature tables to look up by which keys (point-in-time by the
timestamp key when there is one), which on-demand functions to apply, and the Delta versions the
training set was built from. Saved as JSON beside the model; `mlflow.pyfunc`, batch scoring and
serving all read the same file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

SPEC_FILE = "feature_spec.json"


class FeatureSpecError(ValueError):
    """A feature spec that does not fit the model or the data: the message names the field."""


@dataclass(frozen=True)
class TableLookupSpec:
    """One feature table read by key (the serialisable form of a `FeatureLookup`).

    Attributes:
        table_name: the feature table.
        lookup_keys: input columns matched, in order, against the table's primary keys.
        outputs: feature name in the table -> column name the model reads.
        timestamp_lookup_key: input column with each row's time (point-in-time), or None.
        lookback_seconds: oldest feature row allowed, relative to the row's time, or None.
        default_values: output column -> value when no feature row matches.
        table_version: the Delta version the training set read (lineage).
    """

    table_name: str
    lookup_keys: list[str]
    outputs: dict[str, str]
    timestamp_lookup_key: str | None = None
    lookback_seconds: float | None = None
    default_values: dict[str, Any] = field(default_factory=dict)
    table_version: int | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """One on-demand feature: a registered function applied to columns of each row."""

    udf_name: str
    input_bindings: dict[str, str]
    output_name: str


@dataclass(frozen=True)
class FeatureSpec:
    """What a packaged model reads and how missing features are filled.

    Attributes:
        feature_columns: the model's input columns, in the order the predictor expects.
        lookups: feature tables to read by key for columns the input lacks.
        functions: on-demand features computed per row after the lookups.
        label: the training label (documentation only).
        flavor: the model family's framework ("sklearn", "xgboost", "pytorch").
    """

    feature_columns: list[str]
    lookups: list[TableLookupSpec] = field(default_factory=list)
    functions: list[FunctionSpec] = field(default_factory=list)
    label: str | None = None
    flavor: str | None = None

    def __post_init__(self) -> None:
        if not self.feature_columns:
            raise FeatureSpecError("feature_columns: expected one or more column names, got none")
        produced = [o for lk in self.lookups for o in lk.outputs.values()]
        produced += [f.output_name for f in self.functions]
        dupes = sorted({c for c in produced if produced.count(c) > 1})
        if dupes:
            raise FeatureSpecError(f"feature spec: column(s) {dupes} are produced twice")

    @property
    def key_columns(self) -> list[str]:
        """The lookup keys, then the timestamp key: what a key-only input must carry."""
        keys: list[str] = []
        for lk in self.lookups:
            for k in lk.lookup_keys:
                if k not in keys:
                    keys.append(k)
        ts = self.timestamp_key
        return keys + ([ts] if ts and ts not in keys else [])

    @property
    def timestamp_key(self) -> str | None:
        """The timestamp lookup key (the first lookup's that has one), or None."""
        return next(
            (lk.timestamp_lookup_key for lk in self.lookups if lk.timestamp_lookup_key), None
        )

    @property
    def table_versions(self) -> dict[str, int | None]:
        return {lk.table_name: lk.table_version for lk in self.lookups}

    # ---- to and from the feature store's objects ----------------------------------------

    @classmethod
    def from_training_set(
        cls,
        training_set: Any,
        feature_columns: list[str] | None = None,
        flavor: str | None = None,
    ) -> FeatureSpec:
        """The spec of a feature store training set (its lookups, functions and versions).

        Args:
            training_set: the result of `FeatureStore.create_training_set`, already loaded (so
                it knows the table versions it read).
            feature_columns: the model's input order; default: every lookup output then every
                function output, in the training set's order.
            flavor: the model's framework, recorded for readers.
        """
        from churnops.data.feature_store.base import FeatureFunction, FeatureLookup, as_list

        versions = getattr(training_set, "table_versions", {}) or {}
        store = getattr(training_set, "store", None)
        lookups, functions = [], []
        for item in training_set.feature_lookups:
            if isinstance(item, FeatureLookup):
                names = as_list(item.feature_names)
                if not names and store is not None:
                    names = store.get_table(item.table_name).features
                if not names:
                    raise FeatureSpecError(
                        f"FeatureLookup({item.table_name}).feature_names: needed to package the "
                        "model when the store cannot list the table's features"
                    )
                renames = item.rename_outputs or {}
                window = item.lookback_window
                lookups.append(
                    TableLookupSpec(
                        table_name=item.table_name,
                        lookup_keys=item.lookup_keys,
                        outputs={n: renames.get(n, n) for n in names},
                        timestamp_lookup_key=item.timestamp_lookup_key,
                        lookback_seconds=window.total_seconds() if window is not None else None,
                        default_values=dict(item.default_values or {}),
                        table_version=versions.get(item.table_name),
                    )
                )
            elif isinstance(item, FeatureFunction):
                functions.append(
                    FunctionSpec(item.udf_name, dict(item.input_bindings), item.output)
                )
        produced = [o for lk in lookups for o in lk.outputs.values()]
        produced += [f.output_name for f in functions]
        columns = list(feature_columns) if feature_columns is not None else produced
        labels = as_list(training_set.label)
        return cls(columns, lookups, functions, labels[0] if labels else None, flavor)

    def feature_lookups(self, skip: set[str] | frozenset[str] = frozenset()) -> list[Any]:
        """`FeatureLookup` / `FeatureFunction` objects for the outputs not in `skip`.

        Batch scoring passes the input's own columns as `skip`: features present in the input
        override looked-up ones, as on Databricks.
        """
        from churnops.data.feature_store.base import FeatureFunction, FeatureLookup

        out: list[Any] = []
        for lk in self.lookups:
            wanted = {n: o for n, o in lk.outputs.items() if o not in skip}
            if not wanted:
                continue
            renames = {n: o for n, o in wanted.items() if n != o}
            defaults = {k: v for k, v in lk.default_values.items() if k in wanted.values()}
            window = timedelta(seconds=lk.lookback_seconds) if lk.lookback_seconds else None
            out.append(
                FeatureLookup(
                    table_name=lk.table_name,
                    lookup_key=list(lk.lookup_keys),
                    feature_names=list(wanted),
                    rename_outputs=renames or None,
                    timestamp_lookup_key=lk.timestamp_lookup_key,
                    lookback_window=window,
                    default_values=defaults or None,
                )
            )
        for fn in self.functions:
            if fn.output_name not in skip:
                out.append(FeatureFunction(fn.udf_name, dict(fn.input_bindings), fn.output_name))
        return out

    # ---- files ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        try:
            return cls(
                feature_columns=list(data["feature_columns"]),
                lookups=[TableLookupSpec(**lk) for lk in data.get("lookups", [])],
                functions=[FunctionSpec(**fn) for fn in data.get("functions", [])],
                label=data.get("label"),
                flavor=data.get("flavor"),
            )
        except (KeyError, TypeError) as exc:
            raise FeatureSpecError(f"feature spec: malformed ({exc})") from None

    def save(self, folder: str | Path) -> Path:
        """Write `feature_spec.json` into `folder`; returns its path."""
        path = Path(folder) / SPEC_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        """Read a spec from a `feature_spec.json` file (or the folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / SPEC_FILE
        if not path.is_file():
            raise FeatureSpecError(f"feature spec: no {SPEC_FILE} at {path}")
        return cls.from_dict(json.loads(path.read_text()))
