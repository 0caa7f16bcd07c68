"""Numpy kernels for the fitted sklearn steps churn models are made of: linear pipelines, forests,
and for churnops' own baseline predictors (`compile_predictor`).

sklearn checks its input on every call (frame detection, array-API dispatch, fitted checks): for
one row that is about 0.6 ms, most of a request's server time, and at a fixed request rate that
code is cold again for each request. For a pipeline made only of the steps below, the kernel does
the same arithmetic on the matrix, in the same order and dtypes; `compile_sklearn` keeps it only
if it answers bit for bit what sklearn answers on probe rows, so a step whose sklearn code
changes falls back to sklearn rather than drift. Anything else stays on sklearn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Kernel = Callable[[np.ndarray], Any]


def _flat_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows as one flat float32 array and each row's offset in it (a column vector), so that
    row r, column f is `flat[base[r] + f]` for the tree walks' `take`s (C order)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, width = x.shape
    return x.reshape(-1), (np.arange(n, dtype=np.intp) * width)[:, None]


def compile_sklearn(estimator: Any, method: str, n_features: int) -> Kernel | None:
    """`estimator.<method>` as a numpy kernel on a float64 matrix, or None.

    Supported: a `Pipeline` of `SimpleImputer` (NaN as missing, no indicator), `StandardScaler`
    and `FunctionTransformer` steps ending in a binary `LogisticRegression` or a
    `RandomForestClassifier` (`predict` or `predict_proba`), or that estimator alone.
    """
    from sklearn.pipeline import Pipeline

    steps = [s for _, s in estimator.steps] if type(estimator) is Pipeline else [estimator]
    transforms = []
    for step in steps[:-1]:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        kernel = _transform_kernel(step)
        if kernel is None:
            return None
        transforms.append(kernel)
    final = compile_estimator(steps[-1], method)
    if final is None:
        return None

    def run(x: np.ndarray) -> Any:
        for transform in transforms:
            x = transform(x)
        return final(x)

    reference = getattr(estimator, method)
    return run if answers_like(run, reference, n_features) else None


def _transform_kernel(step: Any) -> Kernel | None:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    kind = type(step)
    if kind is SimpleImputer:
        stats = step.statistics_
        fill_dtype = getattr(step, "_fill_dtype", stats.dtype)
        if (
            step.add_indicator
            or not _is_nan(step.missing_values)
            or stats.dtype.kind != "f"
            or (np.isnan(stats).any() and not step.keep_empty_features)
        ):
            return None
        fill = stats.astype(fill_dtype, copy=False)

        def impute(x: np.ndarray) -> np.ndarray:
            x = x.copy(order="K")  # sklearn imputes a copy, in the same layout
            missing = np.isnan(x)
            if missing.any():
                x[missing] = np.broadcast_to(fill.astype(x.dtype), x.shape)[missing]
            return x

        return impute
    if kind is StandardScaler:
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None

        def standardize(x: np.ndarray) -> np.ndarray:
            x = x.copy(order="K")
            if mean is not None:
                x -= mean.astype(x.dtype)
            if scale is not None:
                x /= scale.astype(x.dtype)
            return x

        return standardize
    if kind is FunctionTransformer:
        if step.validate:
            return None
        func, kw = step.func, step.kw_args or {}
        if func is None:
            return lambda x: x
        return lambda x: func(x, **kw)
    return None


def compile_estimator(step: Any, method: str) -> Kernel | None:
    """A fitted binary `LogisticRegression`'s or `RandomForestClassifier`'s `method` as a kernel
    (unchecked: `compile_sklearn` and `compile_predictor` check what they build from it)."""
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression

    forest = compile_forest(step)
    if forest is not None:
        if method == "predict_proba":
            return forest
        if method == "predict":  # sklearn's: the class of the highest mean probability
            return lambda x: step.classes_.take(np.argmax(forest(x), axis=1), axis=0)
        return None

    if type(step) is not LogisticRegression or step.coef_.shape[0] != 1:
        return None
    coef_t, intercept, classes = step.coef_.T, step.intercept_, step.classes_

    def decision(x: np.ndarray) -> np.ndarray:
        return (x @ coef_t + intercept).reshape(-1)

    if method == "predict":
        return lambda x: classes.take((decision(x) > 0).astype(np.intp), axis=0)
    if method == "predict_proba":

        def proba(x: np.ndarray) -> np.ndarray:
            p = decision(x)
            p = expit(p, out=p)
            return np.stack([1 - p, p], axis=1)

        return proba
    return None


def answers_like(kernel: Kernel, reference: Kernel, n_features: int) -> bool:
    """Whether `kernel` answers exactly what `reference` answers on probe matrices."""
    import warnings

    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 64):
        x = rng.normal(size=(n, n_features)) * 10.0 ** rng.integers(-2, 5, size=(n, n_features))
        x[rng.random((n, n_features)) < 0.2] = np.nan
        x = np.asfortranarray(x)
        try:
            with warnings.catch_warnings():  # probing at load time, one thread
                warnings.simplefilter("ignore")
                want = np.asarray(reference(x.copy(order="K")))
            got = np.asarray(kernel(x.copy(order="K")))
        except Exception:
            return False
        if want.dtype != got.dtype or not np.array_equal(want, got, equal_nan=True):
            return False
    return True


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def compile_forest(forest: Any) -> Kernel | None:
    """A fitted `RandomForestClassifier`'s `predict_proba` as a numpy kernel, or None.

    sklearn walks the trees one by one from Python (about 9 ms for one row and 100 trees);
    the kernel walks every tree at once, one level per step, and sums the trees' leaf values
    in sklearn's order, so it answers bit for bit (the caller checks with `answers_like`).
    """
    from sklearn.ensemble import RandomForestClassifier

    if type(forest) is not RandomForestClassifier or forest.n_outputs_ != 1:
        return None
    trees = [e.tree_ for e in forest.estimators_]
    n_trees, n_classes = len(trees), int(forest.n_classes_)
    # Every tree's nodes in one flat array, by global id (tree offset + node). A leaf points to
    # itself on both sides, so a row that reached its leaf stays there for the remaining levels.
    offsets = np.cumsum([0] + [t.node_count for t in trees])
    left = np.concatenate(
        [
            np.where(t.children_left == -1, np.arange(t.node_count), t.children_left) + o
            for t, o in zip(trees, offsets, strict=False)
        ]
    )
    right = np.concatenate(
        [
            np.where(t.children_right == -1, np.arange(t.node_count), t.children_right) + o
            for t, o in zip(trees, offsets, strict=False)
        ]
    )
    feature = np.concatenate([np.maximum(t.feature, 0) for t in trees]).astype(np.intp)
    threshold = np.concatenate([t.threshold for t in trees])
    nan_left = np.concatenate([t.missing_go_to_left.astype(bool) for t in trees])
    value = np.concatenate([t.value[:, 0, :n_classes] for t in trees])
    roots = offsets[:-1].astype(np.intp)
    depth = max(t.max_depth for t in trees)

    def predict_proba(x: np.ndarray) -> np.ndarray:
        # sklearn compares float32 inputs to float64 thresholds.
        flat, base = _flat_rows(x)
        node = np.broadcast_to(roots, (len(base), n_trees))
        for _ in range(depth):
            v = flat.take(base + feature.take(node))
            go_left = (v <= threshold.take(node)) | (np.isnan(v) & nan_left.take(node))
            node = np.where(go_left, left.take(node), right.take(node))
        # Trees x rows x classes, summed over the first axis: tree by tree, in sklearn's order,
        # so the same sums give the same bits.
        out = value.take(node.T, axis=0).sum(axis=0)
        out /= n_trees
        return out

    return predict_proba


def compile_predictor(predictor: Any, n_features: int) -> Kernel | None:
    """A churnops baseline predictor's `predict_proba` as a leaner call, checked bit for bit.

    Each runs the predictor's own encoding and the same arithmetic, without the estimator's
    per-call checks (sklearn's input validation, XGBoost's config context), which on a single
    row cost more than the model:

    - `RandomForestChurnModel`: the forest kernel after the same NaN -> -1 fill;
    - `LogisticChurnModel`: its design matrix, then the logistic kernel;
    - `XGBoostChurnModel` (binary, no categorical columns): its trees walked in numpy
      (`compile_xgboost`), else the booster's `inplace_predict`, which XGBoost's own
      `predict_proba` calls.

    None for anything else, or when the probe finds a difference.
    """
    from churnops.models.baselines import (
        LogisticChurnModel,
        RandomForestChurnModel,
        XGBoostChurnModel,
    )

    kind = type(predictor)
    kernel: Kernel | None = None
    if kind is RandomForestChurnModel:
        forest = compile_forest(predictor.model)
        if forest is not None:
            encode = predictor._encode

            def kernel(x: np.ndarray) -> np.ndarray:
                return forest(np.nan_to_num(encode(x), nan=-1.0))

    elif kind is LogisticChurnModel:
        linear = compile_estimator(predictor.model, "predict_proba")
        if linear is not None and predictor.encoder is not None:
            design, encode = predictor._design, predictor._encode

            def kernel(x: np.ndarray) -> np.ndarray:
                return linear(design(encode(x)))

    elif kind is XGBoostChurnModel:
        # The tree walk where it answers bit for bit, else XGBoost's own inplace_predict.
        for build in (_xgboost_tree_kernel, _xgboost_kernel):
            kernel = build(predictor)
            if kernel is not None and answers_like(kernel, predictor.predict_proba, n_features):
                return kernel
        return None
    if kernel is None:
        return None
    return kernel if answers_like(kernel, predictor.predict_proba, n_features) else None


def _xgboost_kernel(predictor: Any) -> Kernel | None:
    model = predictor.model
    encoder = predictor.encoder
    if encoder is None or encoder.categorical or model.objective != "binary:logistic":
        return None  # categories go in as a pandas frame; other objectives answer otherwise
    booster = model.get_booster()
    iterations = model._get_iteration_range(None)  # what predict_proba uses: best iteration
    missing, encode = model.missing, predictor._encode

    def predict_proba(x: np.ndarray) -> np.ndarray:
        p = booster.inplace_predict(
            encode(x),
            iteration_range=iterations,
            predict_type="value",
            missing=missing,
            validate_features=False,  # fitted on a matrix: no feature names to compare
        )
        return np.vstack((1.0 - p, p)).transpose()  # as XGBoost's binary predict_proba

    return predict_proba


def _xgboost_tree_kernel(predictor: Any) -> Kernel | None:
    model = predictor.model
    encoder = predictor.encoder
    if encoder is None or encoder.categorical:
        return None
    trees = compile_xgboost(model)
    if trees is None:
        return None
    encode = predictor._encode
    return lambda x: trees(encode(x))


def compile_xgboost(model: Any) -> Kernel | None:
    """A fitted binary `XGBClassifier`'s `predict_proba` on a matrix as a numpy kernel, or None.

    XGBoost's C++ predictor costs about 1 ms for one row when its code and trees are cold, as
    they are again for each request at a fixed rate: a few hundred trees, a pointer chase each.
    The kernel walks every tree at once, one level per step, as `compile_forest` does, then
    adds the leaves to the base margin one tree after another in float32 and applies the
    sigmoid as XGBoost does (`exp` rounded to float32), so it can answer bit for bit (the
    caller checks with `answers_like`). Numeric splits of a plain `gbtree` only.
    """
    import json

    if model.objective != "binary:logistic" or not _is_nan(float(model.missing)):
        return None
    booster = model.get_booster()
    learner = json.loads(booster.save_raw("json"))["learner"]
    gbm = learner["gradient_booster"]
    params = learner["learner_model_param"]
    if gbm.get("name") != "gbtree" or params.get("num_target", "1") != "1":
        return None
    begin, end = model._get_iteration_range(None)  # what predict_proba uses
    indptr = gbm["model"]["iteration_indptr"]
    end = end or len(indptr) - 1
    trees = gbm["model"]["trees"][indptr[begin] : indptr[end]]
    if not trees or any(any(t["split_type"]) for t in trees):
        return None  # categorical splits: not a numeric comparison
    offsets = np.cumsum([0] + [len(t["left_children"]) for t in trees])
    left, right = [], []
    for t, o in zip(trees, offsets, strict=False):
        own = np.arange(len(t["left_children"]))
        leaf = np.asarray(t["left_children"]) == -1
        # A leaf points to itself: a row that reached it stays there for the remaining levels.
        left.append(np.where(leaf, own, t["left_children"]) + o)
        right.append(np.where(leaf, own, t["right_children"]) + o)
    left_all = np.concatenate(left).astype(np.intp)
    right_all = np.concatenate(right).astype(np.intp)
    feature = np.concatenate([t["split_indices"] for t in trees]).astype(np.intp)
    # A split's threshold, or a leaf's value: XGBoost keeps both in split_conditions.
    condition = np.concatenate([t["split_conditions"] for t in trees]).astype(np.float32)
    default_left = np.concatenate([t["default_left"] for t in trees]).astype(bool)
    roots = offsets[:-1].astype(np.intp)
    depth = max(_tree_depth(t["left_children"], t["right_children"]) for t in trees)
    n_trees = len(trees)

    def leaves(x: np.ndarray) -> np.ndarray:
        flat, base = _flat_rows(x)  # XGBoost reads features as float32 too
        node = np.broadcast_to(roots, (len(base), n_trees))
        for _ in range(depth):
            v = flat.take(base + feature.take(node))
            go_left = np.where(np.isnan(v), default_left.take(node), v < condition.take(node))
            node = np.where(go_left, left_all.take(node), right_all.take(node))
        return condition.take(node)

    base_margin = _xgboost_base_margin(booster, (begin, begin + 1), leaves)
    sigmoid = _xgboost_sigmoid()
    if base_margin is None or sigmoid is None:
        return None
    if not _sigmoid_matches(booster, (begin, begin + 1), sigmoid):
        return None
    iterations = (begin, end)

    def predict_proba(x: np.ndarray) -> np.ndarray:
        if len(x) > XGBOOST_KERNEL_ROWS:  # a batch: XGBoost itself (fast there, and exact)
            p = booster.inplace_predict(
                x, iteration_range=iterations, missing=model.missing, validate_features=False
            )
            return np.vstack((1.0 - p, p)).transpose()
        values = leaves(x)
        column = np.full((len(values), 1), base_margin, dtype=np.float32)
        # Tree after tree in float32, as XGBoost accumulates: cumsum adds in order.
        margin = np.cumsum(np.hstack((column, values)), axis=1, dtype=np.float32)[:, -1]
        p = sigmoid(margin)
        return np.vstack((1.0 - p, p)).transpose()  # as XGBoost's binary predict_proba

    return predict_proba


XGBOOST_KERNEL_ROWS = 256  # more rows: `expf`, one call per row, costs more than XGBoost's walk


def _xgboost_sigmoid() -> Callable[[np.ndarray], np.ndarray] | None:
    """XGBoost's `common::Sigmoid` on float32 margins, or None without a C library `expf`.

    XGBoost calls the C library's float `expf`, which is not correctly rounded: for about one
    margin in 1,500 it differs by one step from numpy's `exp` (in either precision), so the
    probability differs by up to two float32 steps on whichever rows meet such a margin (what
    made the kernel test fail on some runs: the data, so the model's margins, vary). The same
    `expf`, called per element, answers what XGBoost answers.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("m")
    try:
        expf = ctypes.CDLL(name).expf if name else None
    except (OSError, AttributeError):
        expf = None
    if expf is None:
        return None
    expf.restype, expf.argtypes = ctypes.c_float, [ctypes.c_float]
    exp_each = np.frompyfunc(expf, 1, 1)

    def sigmoid(margin: np.ndarray) -> np.ndarray:
        exp = exp_each(np.minimum(-margin, np.float32(88.7))).astype(np.float32)
        return np.float32(1.0) / (exp + np.float32(1.0) + np.float32(1e-16))

    return sigmoid


def _sigmoid_matches(
    booster: Any, first_tree: tuple[int, int], sigmoid: Callable[[np.ndarray], np.ndarray]
) -> bool:
    """Whether `sigmoid` answers XGBoost's own transform on 20,000 margins (set through
    `base_margin`): enough to meet a dozen of the margins where `expf` rounding differs, so
    an `expf` other than XGBoost's is found at load time, not in a request."""
    base = (np.random.default_rng(0).normal(size=20_000) * 4).astype(np.float32)
    x = np.zeros((len(base), booster.num_features()), dtype=np.float32)
    kwargs = {"iteration_range": first_tree, "base_margin": base}
    margin = booster.inplace_predict(x, predict_type="margin", **kwargs)
    return bool(np.array_equal(sigmoid(margin), booster.inplace_predict(x, **kwargs)))


def _tree_depth(left: list[int], right: list[int]) -> int:
    depth, level = 0, [0]
    while True:
        level = [c for n in level if left[n] != -1 for c in (left[n], right[n])]
        if not level:
            return depth
        depth += 1


def _xgboost_base_margin(
    booster: Any, first_tree: tuple[int, int], leaves: Kernel
) -> np.float32 | None:
    """The margin XGBoost starts every row from, read off its first tree's answers.

    The saved model prints `base_score` rounded to 7 digits, which is not always the float32
    XGBoost adds; the first tree's margin less its leaf gives it back exactly (checked).
    """
    n_features = booster.num_features()
    x = np.random.default_rng(0).normal(size=(16, n_features)).astype(np.float32)
    margin = booster.inplace_predict(x, iteration_range=first_tree, predict_type="margin")
    leaf = leaves(x)[:, 0]
    base = np.float32(margin[0] - leaf[0])
    if not np.array_equal(base + leaf, margin):
        return None
    return base
