"""Numpy kernels for the fitted sklearn steps linear churn models are made of.

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


def compile_sklearn(estimator: Any, method: str, n_features: int) -> Kernel | None:
    """`estimator.<method>` as a numpy kernel on a float64 matrix, or None.

    Supported: a `Pipeline` of `SimpleImputer` (NaN as missing, no indicator), `StandardScaler`
    and `FunctionTransformer` steps ending in a binary `LogisticRegression` (`predict` or
    `predict_proba`), or that estimator alone.
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
    final = _final_kernel(steps[-1], method)
    if final is None:
        return None

    def run(x: np.ndarray) -> Any:
        for transform in transforms:
            x = transform(x)
        return final(x)

    reference = getattr(estimator, method)
    return run if _answers_like(run, reference, n_features) else None


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


def _final_kernel(step: Any, method: str) -> Kernel | None:
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression

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


def _answers_like(kernel: Kernel, reference: Kernel, n_features: int) -> bool:
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
