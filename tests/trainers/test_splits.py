import numpy as np

from churnops.trainers.splits import cv_folds, split_train_test


def test_holdout_is_stratified_disjoint_and_seeded():
    y = np.array([1] * 740 + [0] * 260)
    train, test = split_train_test(y, 0.2, seed=42)
    assert len(test) == 200 and len(train) == 800
    assert not set(train) & set(test)
    assert abs(y[test].mean() - 0.74) < 0.01
    again, _ = split_train_test(y, 0.2, seed=42)
    other, _ = split_train_test(y, 0.2, seed=43)
    assert np.array_equal(train, again)
    assert not np.array_equal(train, other)


def test_cv_folds_cover_every_row_once():
    y = np.array([1, 0] * 50)
    held = np.concatenate([h for _, h in cv_folds(y, 5, seed=0)])
    assert sorted(held.tolist()) == list(range(100))
    assert len(list(cv_folds(y, 5, seed=0))) == 5
