import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from churnops.models.baselines import (
    LogisticChurnModel,
    RandomForestChurnModel,
    RecencyChurnModel,
    XGBoostChurnModel,
    resolve_xgboost_device,
)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(1)
    x = rng.exponential(10, size=(1500, 5)).astype(np.float32)
    y = (x[:, 0] + rng.normal(0, 3, 1500) > 8).astype(np.int64)
    x[rng.random(1500) < 0.2, 3] = np.nan  # gaps, as single-order customers have
    return x[:1000], y[:1000], x[1000:], y[1000:]


@pytest.mark.parametrize(
    "model",
    [
        lambda: RandomForestChurnModel(n_jobs=1),
        lambda: LogisticChurnModel(),
        lambda: XGBoostChurnModel(n_estimators=50, n_jobs=1),
        lambda: RecencyChurnModel(recency_index=0),
    ],
    ids=["random_forest", "logistic_regression", "xgboost", "recency"],
)
def test_same_interface_and_learns(problem, model):
    x, y, x_test, y_test = problem
    fitted = model().fit(x, y)
    proba = fitted.predict_proba(x_test)
    assert proba.shape == (len(x_test), 2)
    assert np.allclose(proba.sum(1), 1)
    assert roc_auc_score(y_test, proba[:, 1]) > 0.8


def test_random_forest_keeps_the_seed_settings():
    model = RandomForestChurnModel().model
    assert (model.n_estimators, model.max_depth) == (100, 10)


def test_xgboost_uses_hist_and_cuda_only_when_there():
    import torch

    model = XGBoostChurnModel()
    assert model.model.get_params()["tree_method"] == "hist"
    assert model.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_xgboost_device("cpu") == "cpu"


@pytest.fixture(scope="module")
def categorical_problem():
    """The churn signal is in a string category alone, with unknown and missing values."""
    rng = np.random.default_rng(2)
    n = 1500
    plan = rng.choice(["basic", "plus", "pro", "team"], n)
    risk = {"basic": 2.0, "plus": -1.0, "pro": 1.5, "team": -2.0}  # not monotone in any order
    y = (np.vectorize(risk.get)(plan) + rng.normal(0, 1, n) > 0).astype(np.int64)
    x = np.empty((n, 2), dtype=object)
    x[:, 0], x[:, 1] = plan, rng.exponential(5, n)
    x[::50, 0] = None
    x_test = x[1000:].copy()
    x_test[:5, 0] = "enterprise"  # never seen in training
    return x[:1000], y[:1000], x_test, y[1000:]


@pytest.mark.parametrize(
    "make",
    [
        lambda enc: RandomForestChurnModel(n_jobs=1, encoder=enc),
        lambda enc: LogisticChurnModel(encoder=enc),
        lambda enc: XGBoostChurnModel(n_estimators=50, n_jobs=1, encoder=enc),
    ],
    ids=["random_forest", "logistic_regression", "xgboost"],
)
def test_baselines_learn_string_categories(categorical_problem, make):
    from churnops.models.encoding import TableEncoder

    x, y, x_test, y_test = categorical_problem
    model = make(TableEncoder(["plan", "usage"], categorical=["plan"])).fit(x, y)
    assert roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]) > 0.8
    assert model.encoder.vocabularies["plan"] == sorted(
        model.encoder.vocabularies["plan"], key=lambda v: -np.sum(x[:, 0] == v)
    )


def test_logistic_regression_one_hot_encodes_and_honours_transform_none(categorical_problem):
    from churnops.models.encoding import TableEncoder

    x, y, _, _ = categorical_problem
    model = LogisticChurnModel(
        encoder=TableEncoder(["plan", "usage"], categorical=["plan"], transforms={"usage": "none"})
    ).fit(x, y)
    # usage raw (no log, no scaling) + plan's 4 levels + missing + unknown buckets.
    assert model.model.coef_.shape == (1, 1 + 4 + 2)
    assert model.numeric.mean.tolist() == [0.0] and model.numeric.std.tolist() == [1.0]
    logged = LogisticChurnModel(
        encoder=TableEncoder(["plan", "usage"], categorical=["plan"], transforms={"usage": "log1p"})
    ).fit(x, y)
    assert logged.numeric.log_mask.tolist() == [True]


def test_the_baselines_import_without_torch():
    # A baseline's logged environment lists no torch: its classes must not need it.
    import subprocess
    import sys

    code = "import sys, churnops.models.baselines; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
