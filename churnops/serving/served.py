"""`ServedModel`: one registered model version loaded with stock `mlflow.pyfunc.load_model`,
and the lean path from request rows to its input and back to JSON-ready predictions.

The artifact is always the pyfunc. Where its model family allows, the server reaches through it
to the fitted estimator and scores a float64 matrix in the signature's column order (`scorer`):
no pandas frame, no MLflow schema enforcement, sklearn's own checks trimmed. Elsewhere it builds
the frame and calls the pyfunc.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from churnops.data.features import FEATURE_COLUMNS
from churnops.serving.config import ServedEntityConfig
from churnops.serving.errors import RequestError
from churnops.serving.kernels import compile_predictor, compile_sklearn

_NUMPY = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}
_INT_RANGE = {"int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}
_FLOAT32_MAX = float(np.finfo(np.float32).max)

Scorer = Callable[..., list[Any]]  # (matrix[, threshold]) -> predictions


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
    # Scores a float64 matrix of `matrix_columns` (see `_scorer`); None: the frame path.
    scorer: Scorer | None = None
    matrix_columns: list[str] | None = None
    float32: bool = False  # the model computes in float32: larger numbers would be infinity

    @property
    def params_schema(self) -> Any:
        """The pyfunc's `ParamSchema` (per-call params it takes), or None."""
        return self.pyfunc.metadata.get_params_schema()

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` checked against the model params schema; a `RequestError` names a bad one."""
        if not params:
            return {}
        from mlflow.exceptions import MlflowException
        from mlflow.types import ParamSpec

        schema = self.params_schema
        specs = {p.name: p for p in schema.params} if schema is not None else {}
        unknown = sorted(set(params) - set(specs))
        if unknown:
            raise RequestError(
                f"params: unknown name(s) {unknown}; model {self.model_name} v{self.version} "
                f"takes {sorted(specs) or 'no params'}"
            )
        out = {}
        for name, value in params.items():
            try:
                if isinstance(value, bool) and specs[name].dtype.name != "boolean":
                    raise MlflowException(f"expected {specs[name].dtype.name}, got a boolean")
                out[name] = ParamSpec.validate_param_spec(value, specs[name])
            except MlflowException as exc:
                raise RequestError(f"params.{name}={value!r}: {exc.message}") from None
        if "threshold" in out and self._is_churnops:
            from churnops.models.pyfunc import check_threshold

            try:
                check_threshold(out["threshold"])
            except ValueError as exc:
                raise RequestError(f"params.{exc}") from None
        return out

    @cached_property
    def feature_spec(self) -> Any:
        """The churnops model's `FeatureSpec`, or None for other pyfuncs."""
        return self.pyfunc.unwrap_python_model().feature_spec if self._is_churnops else None

    def share_online_store(self, store: Any) -> None:
        """Let a churnops pyfunc read key-only input from the server's own store."""
        if self._is_churnops:
            self.pyfunc.unwrap_python_model().use_online_store(store)

    @cached_property
    def _is_churnops(self) -> bool:
        from churnops.models.pyfunc import ChurnPyfuncModel

        with contextlib.suppress(Exception):
            return isinstance(self.pyfunc.unwrap_python_model(), ChurnPyfuncModel)
        return False

    @classmethod
    def load(
        cls, entity: ServedEntityConfig, client: Any, version: str | None = None
    ) -> ServedModel:
        """Load `models:/<name>/<version>`: `version` as the caller resolved the alias, else
        the entity's version (or its alias, resolved here)."""
        import mlflow

        version = version or entity.entity_version
        if version is None:
            version = client.get_model_version_by_alias(entity.entity_name, entity.alias).version
        uri = f"models:/{entity.entity_name}/{version}"
        pyfunc = mlflow.pyfunc.load_model(uri)
        columns, dtypes, required = _input_columns(pyfunc)
        direct = _direct_predict(pyfunc, dtypes)
        scorer, matrix_columns = _scorer(pyfunc, columns, dtypes, direct)
        model = cls(
            entity.name,
            entity.entity_name,
            str(version),
            uri,
            pyfunc,
            columns,
            dtypes,
            required,
            direct,
            scorer,
            matrix_columns,
        )
        model.float32 = model._is_churnops  # its predictor takes a float32 matrix
        return model

    def renamed(self, name: str) -> ServedModel:
        """The same loaded model served under another entity name (a reload reuses it)."""
        return dataclasses.replace(self, name=name)

    def check_types(self, rows: list[dict[str, Any]]) -> None:
        """Refuse a request value the model cannot take, naming it, as the stock pyfunc's schema
        enforcement would: a string for a number, a number for a string, a fraction or a
        boolean for an integer, an integer out of its type's range."""
        numeric = self._numeric
        strings = self._strings
        ints = self._int_ranges
        limit = _FLOAT32_MAX if self.float32 else None
        for i, row in enumerate(rows):
            for col, v in row.items():
                if v is None:
                    continue
                if col in strings and not isinstance(v, str):
                    raise RequestError(f"row {i}.{col}: expected a string or null, got {v!r}")
                if col not in numeric:
                    continue
                bounds = ints.get(col)
                if _not_a_number(v) and not (bounds is not None and isinstance(v, bool)):
                    raise RequestError(f"row {i}.{col}: expected a number or null, got {v!r}")
                if bounds is not None and (isinstance(v, bool) or not isinstance(v, int)):
                    raise RequestError(
                        f"row {i}.{col}={v!r}: expected a whole number for an integer feature"
                    )
                if bounds is not None and not bounds[0] <= v <= bounds[1]:
                    raise RequestError(
                        f"row {i}.{col}={v}: out of range for an integer feature "
                        f"(expected {bounds[0]} to {bounds[1]})"
                    )
                if limit is not None and abs(v) > limit:
                    raise RequestError(
                        f"row {i}.{col}={v!r}: out of range, the model computes in float32 "
                        f"(expected at most {limit:.4g} in magnitude)"
                    )

    @cached_property
    def _strings(self) -> frozenset[str]:
        """Columns the signature types as strings."""
        schema = self.pyfunc.metadata.get_input_schema() if self.pyfunc is not None else None
        if schema is None or not schema.has_input_names():
            return frozenset()
        return frozenset(
            s.name
            for s in schema.inputs
            if getattr(getattr(s, "type", None), "name", "") == "string"
        )

    @cached_property
    def _int_ranges(self) -> dict[str, tuple[int, int]]:
        return {c: _INT_RANGE[d] for c, d in zip(self.columns, self.dtypes, strict=True)
                if d in _INT_RANGE}  # fmt: skip

    # Per-model constants the hot path reads on every request, computed once.
    @cached_property
    def _required(self) -> frozenset[str]:
        return frozenset(self.required)

    @cached_property
    def _numeric(self) -> frozenset[str]:
        return frozenset(c for c, d in zip(self.columns, self.dtypes, strict=True) if d != "object")

    @cached_property
    def _int_index(self) -> list[int]:
        """Positions in the matrix of the columns the frame path builds as integers."""
        kinds = dict(zip(self.columns, self.dtypes, strict=True))
        cols = self.matrix_columns or self.columns
        return [j for j, c in enumerate(cols) if kinds.get(c, "float64").startswith("int")]

    @cached_property
    def _matrix_set(self) -> frozenset[str]:
        return frozenset(self.matrix_columns or self.columns)

    def _check_required(self, rows: list[dict[str, Any]]) -> None:
        required = self._required
        for i, row in enumerate(rows):
            if not row.keys() >= required:
                missing = [c for c in self.required if c not in row]
                raise RequestError(f"row {i}: missing columns {missing}")

    def frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """The model's input frame; a missing column or a wrong type is a `RequestError`."""
        self._check_required(rows)
        if all(d == "float64" for d in self.dtypes):
            # One 2-D array is several times cheaper than a frame built column by column.
            return pd.DataFrame(self._floats(rows, self.columns), columns=self.columns, copy=False)
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

    def matrix(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """The scorer's input: `matrix_columns` as float64, integer columns cast as the frame's."""
        self._check_required(rows)
        cols = self.matrix_columns or self.columns
        x = self._floats(rows, cols)
        ints = self._int_index
        if ints:  # the frame path builds these as integers: nulls refused, fractions truncated
            sub = x[:, ints]
            if np.isnan(sub).any():
                j = ints[int(np.argwhere(np.isnan(sub))[0][1])]
                raise RequestError(f"column {cols[j]!r}: expected int64 values, got a null")
            x[:, ints] = sub.astype(np.int64)
        return x

    def _floats(self, rows: list[dict[str, Any]], cols: list[str]) -> np.ndarray:
        # Column-major, as a frame's values are: the model meets the layout the stock path gives
        # it, so BLAS sums each row in the same order and the answers match to the last bit.
        try:
            try:  # every column present (the matrix path's rows): one C call per row
                values = list(map(_row_getter(tuple(cols)), rows))
            except KeyError:
                values = [[r.get(c) for c in cols] for r in rows]
            return np.array(values, dtype="float64", order="F")
        except (TypeError, ValueError):
            self._raise_bad_value(rows, cols)
            raise  # unreachable: the line above raises

    @staticmethod
    def _raise_bad_value(rows: list[dict[str, Any]], cols: list[str]) -> None:
        for i, r in enumerate(rows):
            for c in cols:
                if _not_a_number(v := r.get(c)):
                    raise RequestError(f"row {i}.{c}: expected a number or null, got {v!r}")
        raise RequestError("rows: values that are not numbers")

    def predict(
        self, rows: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> list[Any]:
        """JSON-ready predictions, one per row (records when the model returns a frame).

        `params` (checked by `check_params`) go to the model: churnops' `threshold` on the
        matrix path, any params through the pyfunc's own predict.
        """
        if self.scorer is not None and self._has_matrix_columns(rows):
            if not params:
                return self.scorer(self.matrix(rows))
            if set(params) == {"threshold"} and self._is_churnops:
                return self.scorer(self.matrix(rows), params["threshold"])
        frame = self.frame(rows)
        if params:
            return to_json_ready(self.pyfunc.predict(frame, params=params))
        out = self.direct(frame) if self.direct is not None else self.pyfunc.predict(frame)
        return to_json_ready(out)

    def _has_matrix_columns(self, rows: list[dict[str, Any]]) -> bool:
        # A row without every feature goes to the pyfunc, which may look the rest up itself.
        wanted = self._matrix_set
        return all(r.keys() >= wanted for r in rows)


@functools.lru_cache(maxsize=64)
def _row_getter(cols: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row's values of `cols`, in order, as a tuple (KeyError where one is absent)."""
    getter = operator.itemgetter(*cols)
    return getter if len(cols) > 1 else (lambda row: (getter(row),))


def _not_a_number(v: Any) -> bool:
    """A request value a numeric column cannot take (null can: it is a missing value). A
    boolean is refused, as MLflow's schema enforcement refuses it for a double column."""
    return v is not None and (isinstance(v, str | bool) or not isinstance(v, int | float))


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


def _scorer(
    pyfunc: Any, columns: list[str], dtypes: list[str], direct: Any
) -> tuple[Scorer | None, list[str] | None]:
    """A matrix scorer that answers what the stock predict answers, or (None, None).

    - churnops' `ChurnPyfuncModel` (every model family): its predictor on the feature matrix
      in the feature spec's order, through `score_matrix`, with the default threshold.
    - MLflow's sklearn flavour, when the signature is all numbers (`direct` is set) and in the
      order the estimator was fitted on: its numpy kernel (`compile_sklearn`) where it has one,
      else the flavour's predict function on the matrix.
    """
    from churnops.models.pyfunc import ChurnPyfuncModel

    python_model = None
    with contextlib.suppress(Exception):  # not a python_function model: no python model
        python_model = pyfunc.unwrap_python_model()
    if isinstance(python_model, ChurnPyfuncModel) and python_model.predictor is not None:
        if getattr(getattr(python_model.predictor, "encoder", None), "categorical", None):
            # It learnt categories: it takes their raw labels (strings), which a float matrix
            # cannot hold. The frame path hands them over as the stock predict does.
            return None, None
        _one_thread_per_call(getattr(python_model.predictor, "model", None))
        if hasattr(python_model.predictor, "state_dict"):  # the net: torch's intra-op pool
            import torch

            # As for sklearn's n_jobs: a few rows cost less than waking torch's thread pool,
            # which on 2 cores fights the event loop (the server process's setting).
            torch.set_num_threads(1)
        score_matrix = python_model.score_matrix
        columns = list(python_model.feature_spec.feature_columns)
        fast = compile_predictor(python_model.predictor, len(columns))

        def score_churn(x: np.ndarray, threshold: float | None = None) -> list[Any]:
            with _lean_sklearn():
                p, decision = score_matrix(x, fast, threshold)
            return [
                {"probability": a, "prediction": b}
                for a, b in zip(p.tolist(), decision.tolist(), strict=True)
            ]

        return score_churn, columns

    estimator = _sklearn_estimator(pyfunc)
    if direct is None or estimator is None:
        return None, None
    fitted_on = getattr(estimator, "feature_names_in_", None)
    if fitted_on is not None and list(fitted_on) != list(columns):
        return None, None  # the frame path checks names; a matrix would not
    if fitted_on is not None:
        # Fitted on a frame, scored on its matrix in the same column order: nothing to warn of.
        warnings.filterwarnings(
            "ignore", message="X does not have valid feature names", category=UserWarning
        )

    _one_thread_per_call(estimator)
    method = getattr(direct, "__name__", "")
    kernel = compile_sklearn(estimator, method, len(columns))
    if kernel is not None:
        return (lambda x, *_: to_json_ready(kernel(x))), list(columns)
    predict = _unrolled_pipeline(estimator, method) or direct

    def score_sklearn(x: np.ndarray, *_: Any) -> list[Any]:
        with _lean_sklearn():
            return to_json_ready(predict(x))

    return score_sklearn, list(columns)


def _one_thread_per_call(estimator: Any) -> None:
    """Score on the calling thread: `n_jobs=1` on an sklearn or XGBoost estimator and its steps.

    A request holds a few rows, and handing them to a thread pool costs more than the work: on
    2 cores a 100-tree forest scores one row in 23 ms with `n_jobs=-1`, 8.7 ms with 1. The
    server gets its concurrency from batching requests instead.
    """
    get_params = getattr(estimator, "get_params", None)
    if get_params is None:
        return
    keys = [k for k in get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
    if keys:
        estimator.set_params(**dict.fromkeys(keys, 1))


def _unrolled_pipeline(estimator: Any, method: str) -> Callable[[Any], Any] | None:
    """A fitted sklearn `Pipeline`'s `method` as its steps, without the pipeline's own checks.

    `Pipeline.predict` checks that the pipeline is fitted on every call (a third of a single
    row's time) and then runs each step's `transform` and the final step's `predict`; this runs
    the same steps. None: not a plain pipeline, or metadata routing is on.
    """
    import sklearn
    from sklearn.pipeline import Pipeline

    if type(estimator) is not Pipeline or sklearn.get_config().get("enable_metadata_routing"):
        return None
    steps = [step for _, step in estimator.steps]
    final = getattr(steps[-1], method, None) if method.startswith("predict") else None
    if final is None:
        return None
    transforms = [s.transform for s in steps[:-1] if s is not None and s != "passthrough"]

    def run(x: Any) -> Any:
        for transform in transforms:
            x = transform(x)
        return final(x)

    return run


def _sklearn_estimator(pyfunc: Any) -> Any:
    try:
        from mlflow.sklearn import _SklearnModelWrapper
    except ImportError:  # pragma: no cover
        return None
    impl = getattr(pyfunc, "_model_impl", None)
    return impl.sklearn_model if isinstance(impl, _SklearnModelWrapper) else None


def _lean_sklearn() -> contextlib.AbstractContextManager:
    """sklearn without the finiteness scan and parameter validation (thread-local).

    The matrix is float64 from JSON numbers and stored features: it holds no infinity.
    """
    try:
        import sklearn
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


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
