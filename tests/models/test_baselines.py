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
