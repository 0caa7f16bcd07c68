"""The numpy kernels answer what the fitted sklearn pipeline answers, to the last bit, and any
step they do not cover keeps the pipeline on sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from churnops.data.features import FEATURE_COLUMNS
from churnops.serving.kernels import (
    compile_forest,
    compile_predictor,
    compile_sklearn,
    compile_xgboost,
)


@pytest.fixture(scope="module")
def xy(serving_world):
    frame = serving_world.features
    x = frame[list(FEATURE_COLUMNS)].to_numpy("float64", na_value=np.nan)
    return np.asfortranarray(x), frame["churn"].to_numpy()


def _signed_log1p(x):
    return np.sign(x) * np.log1p(np.abs(x))


PIPELINES = {
    "mean-scaler-lr": lambda: make_pipeline(
        SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=300)
    ),
    "median-log1p-scaler-lr": lambda: make_pipeline(
        SimpleImputer(strategy="median"),
        FunctionTransformer(_signed_log1p),
        StandardScaler(),
        LogisticRegression(C=0.1, max_iter=300),
    ),
}


@pytest.mark.parametrize("name", sorted(PIPELINES))
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_kernel_answers_what_sklearn_answers(xy, name, method):
    x, y = xy
    pipe = PIPELINES[name]().fit(x, y)
    kernel = compile_sklearn(pipe, method, x.shape[1])
    assert kernel is not None
    expected = getattr(pipe, method)(x.copy(order="K"))
    got = kernel(x.copy(order="K"))
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    one = x[:1].copy()
    assert np.array_equal(kernel(one), getattr(pipe, method)(one.copy()))


def test_steps_without_a_kernel_stay_on_sklearn(xy):
    x, y = xy
    filled = np.nan_to_num(x, nan=-1.0)
    with_indicator = make_pipeline(SimpleImputer(add_indicator=True), LogisticRegression())
    assert compile_sklearn(with_indicator.fit(x, y), "predict", x.shape[1]) is None
    boosted = GradientBoostingClassifier(n_estimators=3, random_state=0).fit(filled, y)
    assert compile_sklearn(boosted, "predict_proba", x.shape[1]) is None
    minus_one = make_pipeline(SimpleImputer(missing_values=-1.0), LogisticRegression())
    assert compile_sklearn(minus_one.fit(filled, y), "predict", x.shape[1]) is None
    # Without an imputer sklearn refuses NaN and a kernel would not: the probe finds it.
    bare = make_pipeline(StandardScaler(), LogisticRegression()).fit(filled, y)
    assert compile_sklearn(bare, "predict", x.shape[1]) is None
    # log1p of a negative is NaN, which sklearn's last step refuses: no kernel either.
    log1p = make_pipeline(SimpleImputer(), FunctionTransformer(np.log1p), LogisticRegression())
    assert compile_sklearn(log1p.fit(np.abs(x), y), "predict", x.shape[1]) is None


@pytest.mark.parametrize("method", ["predict_proba", "predict"])
@pytest.mark.parametrize("gaps", ["filled", "nan"], ids=["fitted-without-nan", "fitted-with-nan"])
def test_forest_kernel_answers_bit_for_bit(xy, method, gaps):
    # The trees route NaN by what they saw in fitting: both ways are compared.
    x, y = xy
    x_fit = np.nan_to_num(x, nan=-1.0) if gaps == "filled" else x
    forest = RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0).fit(x_fit, y)
    kernel = compile_sklearn(forest, method, x.shape[1])
    assert kernel is not None
    for rows in (x, x[:1], x[::9]):
        got, expected = kernel(rows.copy(order="K")), getattr(forest, method)(rows.copy())
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_forest_kernel_refuses_what_it_does_not_cover(xy):
    x, y = xy
    multi = RandomForestClassifier(n_estimators=3, random_state=0)
    multi.fit(np.nan_to_num(x, nan=-1.0), np.stack([y, 1 - y], axis=1))
    assert compile_forest(multi) is None  # several outputs
    assert compile_forest(LogisticRegression()) is None


def _baseline(family: str):
    from churnops.models import baselines

    if family == "random_forest":
        return baselines.RandomForestChurnModel(n_estimators=10, max_depth=6, n_jobs=1)
    if family == "logistic_regression":
        return baselines.LogisticChurnModel()
    return baselines.XGBoostChurnModel(n_estimators=20, max_depth=3, device="cpu", n_jobs=1)


@pytest.mark.parametrize("family", ["random_forest", "logistic_regression", "xgboost"])
def test_predictor_kernel_answers_what_the_predictor_answers(xy, family):
    x, y = xy
    x = np.asfortranarray(x[:400].astype(np.float32))  # score_matrix's input, NaN gaps included
    predictor = _baseline(family).fit(x, y[:400])
    kernel = compile_predictor(predictor, x.shape[1])
    assert kernel is not None
    for rows in (x, x[:1], x[3:4], x[::9]):
        got, expected = kernel(rows.copy(order="K")), predictor.predict_proba(rows.copy())
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_xgboost_tree_kernel_answers_bit_for_bit(xy):
    import xgboost as xgb

    x, y = xy
    x = x[:400].astype(np.float32)  # NaN gaps included: the trees' default directions
    model = xgb.XGBClassifier(n_estimators=30, max_depth=4, n_jobs=1, device="cpu")
    model.fit(x, y[:400])
    kernel = compile_xgboost(model)
    assert kernel is not None
    for rows in (x, x[:256], x[:1], x[3:4], x[::9]):  # 256 rows and fewer: the tree walk
        got, expected = kernel(rows.copy()), model.predict_proba(rows.copy())
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
    # DART scales its trees at prediction: left to XGBoost.
    dart = xgb.XGBClassifier(n_estimators=5, booster="dart", n_jobs=1, device="cpu")
    assert compile_xgboost(dart.fit(x, y[:400])) is None


def test_predictor_kernel_leaves_what_it_does_not_cover(xy):
    from churnops.models.baselines import RecencyChurnModel, XGBoostChurnModel
    from churnops.models.encoding import TableEncoder

    x, y = xy
    x = x[:200].astype(np.float32)
    assert compile_predictor(RecencyChurnModel(0).fit(x, y[:200]), x.shape[1]) is None
    # A categorical column reaches XGBoost as a pandas category: its own predict_proba stays.
    columns = [f"x{i}" for i in range(x.shape[1])]
    encoder = TableEncoder(columns, categorical=["x0"])
    with_categories = XGBoostChurnModel(n_estimators=5, device="cpu", n_jobs=1, encoder=encoder)
    assert compile_predictor(with_categories.fit(x, y[:200]), x.shape[1]) is None


def _numpy_sigmoid(margin):
    # The kernel's sigmoid before: exp in float64 rounded to float32 (correctly rounded).
    exp = np.exp(np.minimum(-margin, np.float32(88.7)).astype(np.float64)).astype(np.float32)
    return np.float32(1.0) / (exp + np.float32(1.0) + np.float32(1e-16))


def _xgboost_transform(margins):
    """XGBoost's own sigmoid of each margin: one tree over all-zero rows plus `base_margin`."""
    import xgboost as xgb

    x = np.zeros((300, 3), dtype=np.float32)
    y = np.arange(300) % 2
    booster = xgb.XGBClassifier(n_estimators=1, n_jobs=1, device="cpu").fit(x, y).get_booster()
    rows = np.zeros((len(margins), 3), dtype=np.float32)
    kwargs = {"iteration_range": (0, 1), "base_margin": margins}
    return (
        booster.inplace_predict(rows, predict_type="margin", **kwargs),
        booster.inplace_predict(rows, **kwargs),
    )


def test_xgboost_sigmoid_is_xgboosts_to_the_bit():
    # Why the tree kernel test failed on some runs: XGBoost's sigmoid calls the C library's
    # `expf`, which is not correctly rounded for about one margin in 1,500; numpy's exp was
    # two float32 steps off there. Which rows meet such a margin depends on the data.
    from churnops.serving.kernels import _xgboost_sigmoid

    base = (np.random.default_rng(7).normal(size=100_000) * 4).astype(np.float32)
    margin, expected = _xgboost_transform(base)
    assert not np.array_equal(_numpy_sigmoid(margin), expected)  # the cause, still there
    sigmoid = _xgboost_sigmoid()
    assert sigmoid is not None
    assert np.array_equal(sigmoid(margin), expected)


def test_xgboost_kernel_is_refused_at_load_when_its_sigmoid_differs(xy, monkeypatch):
    import xgboost as xgb

    from churnops.serving import kernels

    x, y = xy
    x = x[:400].astype(np.float32)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1, device="cpu")
    model.fit(x, y[:400])
    assert kernels.compile_xgboost(model) is not None
    monkeypatch.setattr(kernels, "_xgboost_sigmoid", lambda: _numpy_sigmoid)
    assert kernels.compile_xgboost(model) is None  # XGBoost's own predict_proba serves
