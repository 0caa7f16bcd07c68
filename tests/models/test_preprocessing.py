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


def test_feature_preprocessor_honours_each_columns_transform():
    x = _train_rows()
    pre = FeaturePreprocessor.fit(x, transforms=["none", "standardize", "log1p"])
    assert pre.log_mask.tolist() == [False, False, True]
    out = pre(torch.from_numpy(x))
    filled = np.nan_to_num(x[:, 0], nan=float(np.nanmedian(x[:, 0])))
    assert torch.allclose(out[:, 0], torch.from_numpy(filled))  # none: the raw value
    assert torch.allclose(out[:, 1].mean(), torch.tensor(0.0), atol=1e-4)
    assert FeaturePreprocessor.fit(x, log1p="none").log_mask.tolist() == [False, False, False]


def _frame():
    import pandas as pd

    return pd.DataFrame(
        {
            "plan": ["gold", "silver", "gold", None, " ", "gold", "bronze"],
            "usage": [1.0, 2.0, None, 4.0, 5.0, "6", " "],
            "zip": [10115, 80331, 10115, 50667, 10115, 80331, 10115],
        }
    )


def test_table_encoder_learns_a_vocabulary_with_missing_and_unknown_buckets():
    from churnops.models.encoding import MISSING_CODE, UNKNOWN_CODE, TableEncoder

    frame = _frame()
    encoder = TableEncoder(["plan", "usage", "zip"], categorical=["plan", "zip"])
    encoder.fit(frame.iloc[:6])  # 'bronze' is only in the last row: unseen in training
    assert encoder.vocabularies == {"plan": ["gold", "silver"], "zip": ["10115", "80331", "50667"]}
    assert encoder.cardinalities == [4, 5]
    codes = encoder.transform(frame)
    assert codes[:, 0].tolist() == [2, 3, 2, MISSING_CODE, MISSING_CODE, 2, UNKNOWN_CODE]
    assert np.isnan(codes[2, 1]) and np.isnan(codes[6, 1]) and codes[5, 1] == 6.0
    assert codes[:, 2].tolist() == [2, 3, 2, 4, 2, 3, 2]
    # The same rows as a 2-D object array give the same codes (serving hands either).
    assert np.array_equal(encoder.transform(frame.to_numpy(dtype=object)), codes, equal_nan=True)


def test_table_encoder_errors_name_the_column_and_values():
    from churnops.models.encoding import TableEncoder

    with pytest.raises(ValueError, match=r"features\.categorical: \['gender'\] not among"):
        TableEncoder(["plan"], categorical=["gender"])
    with pytest.raises(ValueError, match=r"features\.transforms"):
        TableEncoder(["plan"], transforms={"usage": "log1p"})
    with pytest.raises(ValueError, match=r"'cube'"):
        TableEncoder(["usage"], transforms={"usage": "cube"})
    encoder = TableEncoder(["plan", "usage"])  # 'plan' is text but not declared categorical
    with pytest.raises(ValueError, match=r"'plan': 5 value\(s\) are not numbers.*categorical"):
        encoder.fit(_frame())
    with pytest.raises(RuntimeError, match="before fit"):
        encoder.transform(_frame())


def test_auto_transforms_resolve_on_the_training_rows():
    from churnops.models.encoding import TableEncoder

    x = _train_rows()
    encoder = TableEncoder(["counts", "centred", "gappy"], transforms={"gappy": "none"}).fit(x)
    assert encoder.numeric_transforms == {
        "counts": "log1p", "centred": "standardize", "gappy": "none",
    }  # fmt: skip
    assert np.array_equal(encoder.transform(x), x, equal_nan=True)  # numbers pass through
