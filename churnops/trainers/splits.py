"""The protocol's splits: a stratified hold-out with a fixed seed, and stratified k-fold CV."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split


def split_train_test(
    y: np.ndarray, test_size: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified hold-out: (train_index, test_index), the same for a given seed and labels."""
    index = np.arange(len(y))
    train, test = train_test_split(index, test_size=test_size, stratify=y, random_state=seed)
    return np.sort(train), np.sort(test)


def cv_folds(y: np.ndarray, k: int = 5, seed: int = 42) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold over `y`: yields (fit_index, held_out_index) k times."""
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    yield from folds.split(np.zeros(len(y)), y)
