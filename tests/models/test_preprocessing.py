import numpy as np
import pytest
import torch

from churnops.models.preprocessing import FeaturePreprocessor


def _train_rows(n=500, seed=0):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(2, n).astype(float) ** 2  # non-negative, skewed
    centred = rng.normal(0, 1, n)  # symmetric, can be negative
    gappy = rng.exponential(30, n)
    gappy[rng.random(n) < 0.3] = np.nan
    return np.column_stack([counts, centred, gappy]).astype(np.float32)


def test_fit_uses_only_the_rows_it_is_given():
    x = _train_rows()
    pre = FeaturePreprocessor.fit(x)
    shifted = FeaturePreprocessor.fit(x + 100)
    assert not torch.allclose(pre.mean, shifted.mean)
    assert pre.log_mask.tolist() == [True, False, True]  # skewed non-negative columns only


def test_transformed_train_rows_are_standardised_and_flag_gaps():
    x = _train_rows()
    pre = FeaturePreprocessor.fit(x)
    out = pre(torch.from_numpy(x))
    assert out.shape == (len(x), 3 + 1)  # one indicator: only column 2 had gaps
    assert torch.isfinite(out).all()
    assert torch.allclose(out[:, :3].mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(out[:, :3].std(0, unbiased=False), torch.ones(3), atol=1e-3)
    assert torch.equal(out[:, 3], torch.from_numpy(np.isnan(x[:, 2]).astype(np.float32)))


def test_statistics_travel_in_the_state_dict():
    x = _train_rows()
    pre = FeaturePreprocessor.fit(x)
    fresh = FeaturePreprocessor(3, [2])
    fresh.load_state_dict(pre.state_dict())
    rows = torch.from_numpy(x[:7])
    assert torch.equal(fresh(rows), pre(rows))


def test_bad_input_is_an_error_naming_it():
    with pytest.raises(ValueError, match="2-D"):
        FeaturePreprocessor.fit(np.zeros(5))
    with pytest.raises(ValueError, match="log1p"):
        FeaturePreprocessor.fit(np.ones((4, 2)), log1p="sometimes")
