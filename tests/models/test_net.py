import numpy as np
import pytest
import torch

from churnops.models.net import TabularChurnNet
from churnops.models.preprocessing import FeaturePreprocessor


def _net(**kwargs):
    x = np.random.default_rng(0).exponential(1, (64, 3)).astype(np.float32)
    return TabularChurnNet(FeaturePreprocessor.fit(x), numeric_index=[0, 1, 2], **kwargs)


def test_one_logit_per_row_with_missing_values():
    net = _net().eval()
    x = torch.rand(10, 3)
    x[0, 1] = float("nan")
    out = net(x)
    assert out.shape == (10,)
    assert torch.isfinite(out).all()


def test_categorical_columns_go_through_embeddings():
    x = np.random.default_rng(0).exponential(1, (64, 2)).astype(np.float32)
    net = TabularChurnNet(
        FeaturePreprocessor.fit(x), numeric_index=[0, 2], categorical_index=[1], cardinalities=[4]
    ).eval()
    rows = torch.tensor([[1.0, 0.0, 2.0], [1.0, 3.0, 2.0], [1.0, 99.0, 2.0], [1.0, 1.0, 2.0]])
    out = net(rows)
    assert out[0] != out[1]  # the code changes the score
    assert out[2] == out[3]  # a code past the cardinality is the unknown bucket (1)
    assert out[1] != out[2]


def test_temperature_divides_the_logits_and_travels_in_the_state_dict():
    net = _net().eval()
    rows = torch.rand(5, 3)
    before = net(rows)
    net.temperature.fill_(2.0)
    assert torch.allclose(net(rows), before / 2)
    fresh = _net().eval()
    fresh.load_state_dict(net.state_dict())
    assert float(fresh.temperature) == 2.0


def test_fit_temperature_recovers_the_scale_of_overconfident_logits():
    from churnops.models.net import fit_temperature

    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, 20000)
    y = (rng.random(20000) < 1 / (1 + np.exp(-true_logits))).astype(int)
    assert fit_temperature(3 * true_logits, y) == pytest.approx(3, rel=0.1)
    with pytest.raises(ValueError, match="both classes"):
        fit_temperature(true_logits, np.zeros(20000))


def test_mismatched_categorical_spec_is_an_error():
    with pytest.raises(ValueError, match="cardinalities"):
        _net(categorical_index=[1], cardinalities=[])
