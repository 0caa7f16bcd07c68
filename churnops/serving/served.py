"""`ServedModel`: one registered model version loaded with stock `mlflow.pyfunc.load_model`,
and the lean path from request rows to its input frame and back to JSON-ready predictions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnops.data.features import FEATURE_COLUMNS
from churnops.serving.config import ServedEntityConfig
from churnops.serving.lookup import RequestError

_NUMPY = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


@dataclass
class ServedModel:
    """A loaded pyfunc with its input columns (from its signature, else the 18 features)."""

    name: str
    model_name: str
    version: str
    uri: str  # the exact `models:/<name>/<version>` loaded
    pyfunc: Any
    columns: list[str]
    dtypes: list[str]  # numpy dtype per column, "object" for strings and others
    required: list[str]
    # The pyfunc's own predict function, called on the frame we build to its exact schema (see
    # `_direct_predict`); None: the stock `pyfunc.predict` with MLflow's schema enforcement.
    direct: Any = None

    @classmethod
    def load(cls, entity: ServedEntityConfig, client: Any) -> ServedModel:
        """Resolve an alias to its version, then load `models:/<name>/<version>`."""
        import mlflow

        version = entity.entity_version
        if entity.alias is not None:
            version = client.get_model_version_by_alias(entity.entity_name, entity.alias).version
        uri = f"models:/{entity.entity_name}/{version}"
        pyfunc = mlflow.pyfunc.load_model(uri)
        columns, dtypes, required = _input_columns(pyfunc)
        return cls(
            entity.name,
            entity.entity_name,
            str(version),
            uri,
            pyfunc,
            columns,
            dtypes,
            required,
            _direct_predict(pyfunc, dtypes),
        )

    def check_types(self, rows: list[dict[str, Any]]) -> None:
        """Refuse a request value the model cannot take (a string for a number), naming it."""
        numeric = self._numeric
        for i, row in enumerate(rows):
            for col, v in row.items():
                if (
                    col in numeric
                    and v is not None
                    and (isinstance(v, str) or not isinstance(v, int | float))
                ):
                    raise RequestError(f"row {i}.{col}: expected a number or null, got {v!r}")

    @property
    def _required(self) -> frozenset[str]:
        cols = self.__dict__.get("_required_cols")
        if cols is None:
            cols = self.__dict__["_required_cols"] = frozenset(self.required)
        return cols

    @property
    def _numeric(self) -> frozenset[str]:
        cols = self.__dict__.get("_numeric_cols")
        if cols is None:
            cols = frozenset(
                c for c, d in zip(self.columns, self.dtypes, strict=True) if d != "object"
            )
            self.__dict__["_numeric_cols"] = cols
        return cols

    def frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """The model's input frame; a missing column or a wrong type is a `RequestError`."""
        required = self._required
        for i, row in enumerate(rows):
            if not row.keys() >= required:
                missing = [c for c in self.required if c not in row]
                raise RequestError(f"row {i}: missing columns {missing}")
        if all(d == "float64" for d in self.dtypes):
            # One 2-D array is several times cheaper than a frame built column by column.
            try:
                values = np.array([[r.get(c) for c in self.columns] for r in rows], dtype="float64")
            except (TypeError, ValueError):
                self._raise_bad_value(rows)
            return pd.DataFrame(values, columns=self.columns, copy=False)
        data = {}
        for col, dtype in zip(self.columns, self.dtypes, strict=True):
            col_values = [r.get(col) for r in rows]
            try:
                data[col] = np.array(col_values, dtype=dtype if dtype != "object" else object)
            except (TypeError, ValueError):
                raise RequestError(
                    f"column {col!r}: expected {dtype} values, got {col_values[:3]}"
                ) from None
        return pd.DataFrame(data)

    def _raise_bad_value(self, rows: list[dict[str, Any]]) -> None:
        for i, r in enumerate(rows):
            for c in self.columns:
                v = r.get(c)
                if v is not None and (isinstance(v, str) or not isinstance(v, int | float)):
                    raise RequestError(f"row {i}.{c}: expected a number or null, got {v!r}")
        raise RequestError("rows: values that are not numbers")

    def predict(self, rows: list[dict[str, Any]]) -> list[Any]:
        """JSON-ready predictions, one per row (records when the model returns a frame)."""
        frame = self.frame(rows)
        out = self.direct(frame) if self.direct is not None else self.pyfunc.predict(frame)
        return to_json_ready(out)


def to_json_ready(out: Any) -> list[Any]:
    """DataFrame -> list of records; Series / ndarray -> list; dict of columns -> records."""
    if isinstance(out, pd.DataFrame):
        return out.to_dict("records")
    if isinstance(out, pd.Series | np.ndarray):
        return out.tolist()
    if isinstance(out, dict):
        return pd.DataFrame(out).to_dict("records")
    return list(out)


def _direct_predict(pyfunc: Any, dtypes: list[str]) -> Any:
    """The model implementation's predict, when skipping MLflow's schema enforcement is exact.

    `frame` builds every column of the signature, in its order, with its numpy dtype; enforcing
    that schema again returns the same frame, at a third of a single-row request's cost. Models
    whose signature comes from type hints, or that take params, keep the stock path.
    """
    meta = pyfunc.metadata
    fn = getattr(pyfunc, "_predict_fn", None)
    if (
        fn is None
        or meta.get_input_schema() is None
        or meta.get_params_schema() is not None
        or meta._is_signature_from_type_hint()
        or meta._is_type_hint_from_example()
        or any(d not in ("float64", "int64") for d in dtypes)
    ):
        return None
    return fn


def _input_columns(pyfunc: Any) -> tuple[list[str], list[str], list[str]]:
    schema = pyfunc.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        cols = list(FEATURE_COLUMNS)
        return cols, ["float64"] * len(cols), cols
    columns, dtypes, required = [], [], []
    for spec in schema.inputs:
        columns.append(spec.name)
        type_name = getattr(getattr(spec, "type", None), "name", "")
        dtypes.append(_NUMPY.get(type_name, "object"))
        if spec.required:
            required.append(spec.name)
    return columns, dtypes, required
