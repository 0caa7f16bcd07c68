"""The tuned XGBoost: a fixed search scored by inner CV on the fit rows alone."""

import numpy as np
import pytest

from churnops.models.tuned_xgboost import SEARCH_SPACE, TunedXGBoostChurnModel


def _table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    # depth matters: an interaction that a stump cannot fit
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    return x, y


def test_picks_by_inner_cv_and_refits_the_best_on_every_row():
    x, y = _table()
    space = (
        {"max_depth": 1, "learning_rate": 0.1, "n_estimators": 20},
        {"max_depth": 3, "learning_rate": 0.1, "n_estimators": 60, "min_child_weight": 1},
    )
    model = TunedXGBoostChurnModel(seed=0, n_jobs=1, device="cpu", space=space).fit(x, y)
    assert len(model.search_scores) == 2
    assert model.search_scores[1] > model.search_scores[0] + 0.1  # stumps cannot fit an XOR
    assert model.best_params == space[1]
    assert model.model.model.get_params()["max_depth"] == 3
    p = model.predict_proba(x)
    assert p.shape == (len(x), 2) and np.allclose(p.sum(axis=1), 1)


def test_the_same_seed_gives_the_same_search():
    x, y = _table(200, seed=1)
    space = SEARCH_SPACE[:2]
    a = TunedXGBoostChurnModel(seed=3, n_jobs=1, device="cpu", space=space).fit(x, y)
    b = TunedXGBoostChurnModel(seed=3, n_jobs=1, device="cpu", space=space).fit(x, y)
    assert a.search_scores == b.search_scores
    assert np.array_equal(a.predict_proba(x), b.predict_proba(x))


def test_the_documented_space_is_fixed_and_bad_settings_are_refused():
    assert len(SEARCH_SPACE) == 6 and len({tuple(sorted(c.items())) for c in SEARCH_SPACE}) == 6
    with pytest.raises(ValueError, match="inner_folds"):
        TunedXGBoostChurnModel(inner_folds=1)
    with pytest.raises(ValueError, match="space"):
        TunedXGBoostChurnModel(space=())
    with pytest.raises(RuntimeError, match="before fit"):
        TunedXGBoostChurnModel().predict_proba(np.zeros((1, 4)))
