"""The one MLflow pyfunc for every model family: what the registry, serving and batch scoring load.

`ChurnPyfuncModel` carries the fitted predictor (the net's weights with its preprocessing
buffers, or the pickled sklearn / XGBoost baseline), the `FeatureSpec`, and a decision threshold
that a caller may override per call (`params={"threshold": 0.3}`). It answers a pandas frame
with `probability` (P(churn)) and `prediction` (0/1). Input may carry every feature, or only the
keys: missing features are read from the online store the model was logged with (or the one
`CHURNOPS_ONLINE_STORE` names), and columns present in the input win over looked-up ones.
"""

from __future__ import annotations

import importlib.metadata
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from churnops.models.feature_spec import FeatureSpec, FeatureSpecError

PREDICTOR_FILE = "predictor.pkl"
ONLINE_ENV = "CHURNOPS_ONLINE_STORE"  # sqlite path or redis:// URL, overrides the logged store


# ---- the predictor: every family behind predict_proba(x) -----------------------------------


class NetPredictor:
    """The tabular net rebuilt from its weights; the preprocessing buffers come with them.

    The architecture is read off the net itself, so only plain tensors and numbers are stored.
    """

    def __init__(self, arch: dict[str, Any], state_dict: dict[str, Any], encoder: Any = None):
        self.arch = arch
        self.state_dict = state_dict
        self.encoder = encoder  # the fitted TableEncoder: raw rows (strings too) -> codes
        self._net: Any = None

    @classmethod
    def from_net(cls, net: Any, encoder: Any = None) -> NetPredictor:
        from torch import nn

        linears = [m for m in net.mlp if isinstance(m, nn.Linear)]
        norm = "none"
        if any(isinstance(m, nn.BatchNorm1d) for m in net.mlp):
            norm = "batch"
        elif any(isinstance(m, nn.LayerNorm) for m in net.mlp):
            norm = "layer"
        arch = {
            "n_features": int(net.preprocessor.n_features),
            "missing_columns": net.preprocessor.missing_columns.tolist(),
            "numeric_index": net.numeric_index.tolist(),
            "categorical_index": net.categorical_index.tolist(),
            "cardinalities": net.cardinalities.tolist(),
            "embedding_dim": net.embeddings[0].embedding_dim if len(net.embeddings) else 8,
            "hidden_sizes": [m.out_features for m in linears[:-1]],
            "norm": norm,
        }
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        return cls(arch, state, encoder)

    @property
    def net(self) -> Any:
        if self._net is None:
            from churnops.models.net import TabularChurnNet
            from churnops.models.preprocessing import FeaturePreprocessor

            a = self.arch
            net = TabularChurnNet(
                FeaturePreprocessor(a["n_features"], a["missing_columns"]),
                numeric_index=a["numeric_index"],
                categorical_index=a["categorical_index"],
                cardinalities=a["cardinalities"],
                embedding_dim=a["embedding_dim"],
                hidden_sizes=a["hidden_sizes"],
                norm=a["norm"],
            )
            net.load_state_dict(self.state_dict)
            self._net = net.eval()
        return self._net

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        import torch

        from churnops.models.net import forward_in_blocks

        if self.encoder is not None:
            x = self.encoder.transform(x)
        # inference_mode: no autograd bookkeeping at all (no_grad still tracks versions).
        with torch.inference_mode():
            xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
            p = torch.sigmoid(forward_in_blocks(self.net, xt)).numpy()
        return np.column_stack([1 - p, p])

    def __getstate__(self) -> dict[str, Any]:
        return {"arch": self.arch, "state_dict": self.state_dict, "encoder": self.encoder,
                "_net": None}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"encoder": None, **state})  # predictors pickled before encoders


def as_predictor(model: Any) -> tuple[Any, str]:
    """(picklable predictor, flavor) for a fitted model of any family.

    Accepts a `NetChurnModel` (or anything with a fitted `.net`), a bare `TabularChurnNet`, or
    any object with `predict_proba(x) -> [N, 2]` (the sklearn and XGBoost baselines).
    """
    net = getattr(model, "net", None)
    if net is None and type(model).__name__ == "TabularChurnNet":
        net = model
    if net is not None:
        return NetPredictor.from_net(net, getattr(model, "encoder", None)), "pytorch"
    if not callable(getattr(model, "predict_proba", None)):
        raise TypeError(
            f"model: expected a fitted churn model with predict_proba(x), got "
            f"{type(model).__qualname__}"
        )
    inner = type(getattr(model, "model", model)).__module__
    return model, "xgboost" if inner.startswith("xgboost") else "sklearn"


# ---- the pyfunc ---------------------------------------------------------------------------


class ChurnPyfuncModel(PythonModel):
    """P(churn) and a 0/1 decision for each input row, for every model family.

    Args:
        threshold: the default decision threshold (`prediction = probability >= threshold`).
        online: where key-only requests' features are read: an `OnlineStoreConfig` as a dict
            (`{"kind": "sqlite", "path": ...}`), or None.
    """

    def __init__(self, threshold: float = 0.5, online: dict[str, Any] | None = None):
        check_threshold(threshold)
        self.threshold = float(threshold)
        self.online = online
        self.predictor: Any = None
        self.spec: FeatureSpec | None = None
        self._online_store: Any = None

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["predictor"], "rb") as f:
            self.predictor = pickle.load(f)
        self.spec = FeatureSpec.load(context.artifacts["feature_spec"])

    def __getstate__(self) -> dict[str, Any]:
        # Only settings are pickled into python_model.pkl; the predictor travels as an artifact.
        return {"threshold": self.threshold, "online": self.online}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.threshold = float(state["threshold"])
        self.online = state["online"]
        self.predictor, self.spec, self._online_store = None, None, None

    @property
    def feature_spec(self) -> FeatureSpec:
        """The loaded spec (set by `load_context`)."""
        if self.spec is None:
            raise RuntimeError("ChurnPyfuncModel: load it with mlflow.pyfunc.load_model first")
        return self.spec

    def predict(self, context, model_input, params=None):  # untyped: MLflow reads type hints
        """`probability` and `prediction` per row; `params={"threshold": t}` moves the cut."""
        threshold = self.threshold
        if params and params.get("threshold") is not None:
            threshold = float(params["threshold"])
            check_threshold(threshold)
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        frame = self.complete(frame)
        columns = self.feature_spec.feature_columns
        # A model that learnt categories takes the raw columns (strings) and encodes them itself.
        raw = getattr(getattr(self.predictor, "encoder", None), "categorical", None)
        x = frame[columns] if raw else _feature_matrix(frame, columns)
        p = self.predictor.predict_proba(x)[:, 1].astype(np.float64)
        return pd.DataFrame(
            {"probability": p, "prediction": (p >= threshold).astype(np.int64)}, index=frame.index
        )

    def score_matrix(
        self, x: np.ndarray, predict_proba: Any = None, threshold: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`predict`'s `probability` and `prediction` columns for a ready feature matrix.

        For callers that build the input themselves (the serving fast path): `x` holds every
        row's `feature_spec.feature_columns` as numbers, in that order; no frame, no lookup;
        `threshold` (checked by the caller) or the default one. `predict_proba` stands in for
        the predictor's own (a faster equivalent the caller has checked).
        """
        predict_proba = predict_proba or self.predictor.predict_proba
        # Column-major, as `predict`'s frame hands it over: in float32, BLAS summing a row in
        # another order on another layout shows in the last digits.
        p = predict_proba(np.asfortranarray(x, dtype=np.float32))[:, 1]
        p = p.astype(np.float64)
        cut = self.threshold if threshold is None else threshold
        return p, (p >= cut).astype(np.int64)

    # ---- key-only input ----------------------------------------------------------------

    def use_online_store(self, store: Any) -> None:
        """Read key-only input from `store` (an open `OnlineStore`, e.g. the server's own)."""
        self._online_store = store

    def complete(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add the features the input lacks: online lookups by key, then on-demand functions."""
        from churnops.models.online_lookup import RowLookup, lookups_of

        spec = self.feature_spec
        missing = [c for c in spec.feature_columns if c not in frame.columns]
        if not missing:
            return frame
        tables = [t for t in lookups_of(spec) if set(t.outputs.values()) - set(frame.columns)]
        if tables:
            rows = frame.to_dict("records")
            RowLookup(tables, self._store(), on_missing="defaults").complete(rows)
            looked_up = pd.DataFrame(rows, index=frame.index)
            frame = frame.copy()
            for t in tables:
                for out in t.outputs.values():
                    if out not in frame.columns:
                        values = looked_up[out].astype(object)
                        try:
                            frame[out] = pd.to_numeric(values)
                        except (TypeError, ValueError):  # a category: its raw labels
                            frame[out] = values
        if spec.functions:
            from churnops.data.feature_store.base import FeatureFunction

            frame = frame.copy()
            for fn in spec.functions:
                if fn.output_name in frame.columns:
                    continue
                feature = FeatureFunction(fn.udf_name, fn.input_bindings, fn.output_name)
                records = frame.to_dict("records")
                frame[fn.output_name] = [feature.evaluate_row(r) for r in records]
        still = [c for c in spec.feature_columns if c not in frame.columns]
        if still:
            raise FeatureSpecError(
                f"input lacks feature column(s) {still} and the model's feature spec has no "
                f"lookup for them; send them, or the keys {spec.key_columns or '(none)'}"
            )
        return frame

    def _store(self) -> Any:
        if self._online_store is None:
            from churnops.data.feature_store.config import OnlineStoreConfig, get_online_store

            target = os.environ.get(ONLINE_ENV)
            if target:
                cfg = (
                    OnlineStoreConfig(kind="redis", url=target)
                    if target.startswith("redis://")
                    else OnlineStoreConfig(kind="sqlite", path=target.removeprefix("sqlite:///"))
                )
            elif self.online:
                cfg = OnlineStoreConfig(**self.online)
            else:
                raise FeatureSpecError(
                    "input lacks features to look up, and the model has no online store: log it "
                    f"with online=..., or set {ONLINE_ENV} to a SQLite path or redis:// URL"
                )
            self._online_store = get_online_store(cfg)
        return self._online_store


def predict_function(model: Any) -> Any:
    """`predict(frame, params)` of a loaded pyfunc, for callers that score many rows (batch
    scoring, the replay). A churnops model reads and checks its own inputs (ints or floats,
    blanks, missing columns named), so it is called directly: MLflow's per-value check of its
    "any"-typed numeric columns was 60% of batch scoring's CPU. Any other model goes through
    MLflow's predict, schema enforcement included."""
    import contextlib

    python_model = None
    with contextlib.suppress(Exception):  # not a python_function model: no python model
        python_model = model.unwrap_python_model()
    if isinstance(python_model, ChurnPyfuncModel):
        return lambda frame, params=None: python_model.predict(None, frame, params)
    return lambda frame, params=None: model.predict(frame, params=params)


def check_threshold(threshold: Any) -> None:
    """Refuse a decision threshold that is not a number in [0, 1], naming the value."""
    try:
        ok = 0.0 <= float(threshold) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"threshold={threshold!r}: expected a number between 0 and 1")


def _feature_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The numeric features as float32, read as training read them (blank -> NaN, "1,889.5")."""
    from churnops.models.encoding import parse_numbers

    try:
        return np.column_stack([parse_numbers(frame[c].to_numpy(), c) for c in columns]).astype(
            np.float32
        )
    except (TypeError, ValueError) as exc:
        raise FeatureSpecError(f"input features: expected numbers in {columns}: {exc}") from None


# ---- logging -----------------------------------------------------------------------------


def model_signature(
    spec: FeatureSpec, threshold: float = 0.5, example: pd.DataFrame | None = None
) -> Any:
    """Input: the keys (optional) and features (optional when the spec can look them up);
    output: `probability`, `prediction`; params: `threshold`.

    A categorical feature (text in `example`) is a `string`. A numeric one is `any`: MLflow's
    `long` refuses floats (a column with a gap, which pandas holds as float64) and its `double`
    refuses int64 (how `pd.read_csv` reads whole numbers), so the model takes ints, floats and
    text such as " " (missing) or "1,889.5", and reads them as its training read them.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
    from mlflow.types.schema import AnyType

    lookup_outputs = {o for lk in spec.lookups for o in lk.outputs.values()}
    lookup_outputs |= {f.output_name for f in spec.functions}
    cols: list[Any] = []
    kind: Any
    for key in spec.key_columns:
        kind = "datetime" if key == spec.timestamp_key else "string"
        cols.append(ColSpec(kind, key, required=False))
    for c in spec.feature_columns:
        if c not in spec.key_columns:
            kind = AnyType()
            if example is not None and c in example.columns:
                dtype = example[c].dtype
                if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
                    kind = "string"  # a categorical column: the model encodes the raw value
            cols.append(ColSpec(kind, c, required=c not in lookup_outputs))
    outputs = Schema([ColSpec("double", "probability"), ColSpec("long", "prediction")])
    params = ParamSchema([ParamSpec("threshold", "double", float(threshold))])
    return ModelSignature(inputs=Schema(cols), outputs=outputs, params=params)


def pip_requirements(flavor: str, churnops_requirement: str | None = None) -> list[str]:
    """Pinned requirements of the packaged model (given, so MLflow does not infer them).

    The libraries the pyfunc runs on (torch only for the net, xgboost only for XGBoost), and
    churnops itself: `churnops_requirement` (the wheel logged beside the model) or the pinned
    version.
    """
    names = ["mlflow", "numpy", "pandas", "scikit-learn", "cloudpickle"]
    # The net's layers come from the TabM authors' packages: a fresh environment needs them too.
    by_flavor = {"pytorch": ["torch", "tabm", "rtdl-num-embeddings"], "xgboost": ["xgboost"]}
    names += by_flavor.get(flavor, [])
    out = []
    for name in names:
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(name)
    from churnops import __version__

    out.append(churnops_requirement or f"churnops=={__version__}")
    return out


def pyfunc_package(
    model: Any,
    spec: FeatureSpec,
    folder: str | Path,
    *,
    threshold: float = 0.5,
    input_example: pd.DataFrame | None = None,
    online: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments that log `model` as the one `ChurnPyfuncModel`, whoever logs it.

    `mlflow.pyfunc.log_model(**package)` here, or the Databricks Feature Engineering client's
    `log_model(flavor=mlflow.pyfunc, **package)`: the same python model, artifacts (predictor,
    feature spec, churnops' own wheel), signature and requirements. Artifact files are written
    to `folder`, which must live until the model is logged.
    """
    from churnops.models.wheel import churnops_wheel

    predictor, flavor = as_predictor(model)
    if spec.flavor is None:
        spec = FeatureSpec(spec.feature_columns, spec.lookups, spec.functions, spec.label, flavor)
    predictor_path = Path(folder, PREDICTOR_FILE)
    predictor_path.write_bytes(pickle.dumps(predictor))
    spec_path = spec.save(folder)
    wheel = churnops_wheel()
    python_model = ChurnPyfuncModel(threshold=threshold, online=online)
    if input_example is not None:
        input_example = input_example.reset_index(drop=True)
        _check_example(python_model, predictor, spec, input_example)
    return {
        "python_model": python_model,
        "artifacts": {
            "predictor": str(predictor_path),
            "feature_spec": str(spec_path),
            "churnops_wheel": str(wheel),
        },
        "signature": model_signature(spec, threshold, input_example),
        "input_example": input_example,
        # Relative to the model folder, where MLflow's environment managers install it from.
        "pip_requirements": pip_requirements(flavor, f"artifacts/{wheel.name}"),
    }


def _check_example(
    python_model: ChurnPyfuncModel, predictor: Any, spec: FeatureSpec, example: pd.DataFrame
) -> None:
    """Score the example's feature columns as the logged model will: a model that cannot
    answer its own example (e.g. a pipeline fitted on strings it is then handed as numbers)
    is refused now, not at its first request."""
    columns = [c for c in spec.feature_columns if c in example.columns]
    if len(columns) < len(spec.feature_columns):
        return  # key-only rows: their features come from the online store at serving time
    trial = ChurnPyfuncModel(threshold=python_model.threshold)
    trial.predictor, trial.spec = predictor, spec
    try:
        trial.predict(None, example[columns])
    except Exception as exc:
        raise ValueError(
            f"model: it cannot score its input_example ({type(exc).__name__}: {exc}); "
            "a model logged so could not serve. Fit a churnops model (it encodes categories "
            "itself) or pass numeric features"
        ) from None


def log_pyfunc_model(
    model: Any,
    spec: FeatureSpec,
    *,
    name: str = "model",
    threshold: float = 0.5,
    input_example: pd.DataFrame | None = None,
    registered_model_name: str | None = None,
    online: dict[str, Any] | None = None,
) -> Any:
    """Log `model` as a `ChurnPyfuncModel` in the active MLflow run (one is started if none).

    Args:
        model: a fitted model of any family (see `as_predictor`).
        spec: its feature spec (`FeatureSpec(feature_columns)` when there are no lookups).
        name: the model's name within the run (MLflow 3's `name`, formerly artifact_path).
        threshold: the default decision threshold.
        input_example: a few input rows, saved with the model and checked against it.
        registered_model_name: also register a new version under this name.
        online: an `OnlineStoreConfig` dict for key-only requests.

    Returns:
        MLflow's `ModelInfo` (`.model_uri`, `.registered_model_version`, ...).
    """
    with tempfile.TemporaryDirectory() as tmp:
        package = pyfunc_package(
            model, spec, tmp, threshold=threshold, input_example=input_example, online=online
        )
        return mlflow.pyfunc.log_model(
            name=name, registered_model_name=registered_model_name, **package
        )


def load_feature_spec(model_uri: str) -> FeatureSpec:
    """The feature spec packaged with the model at `model_uri` (any MLflow model URI)."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        try:
            # The whole model folder: logged-model URIs (models:/m-...) take no sub-path.
            folder = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
        except Exception as exc:
            raise FeatureSpecError(f"model_uri={model_uri!r}: cannot be read ({exc})") from None
        path = Path(folder, "artifacts", "feature_spec.json")
        if not path.is_file():
            raise FeatureSpecError(
                f"model_uri={model_uri!r}: not a churnops model (no feature spec)"
            )
        return FeatureSpec.load(path)
