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


def test_numeric_embeddings_and_members_have_the_configured_shapes():
    net = _net(ensemble_size=4, numeric_embedding_dim=6, n_frequencies=5, hidden_sizes=[16])
    x = torch.rand(7, 3)
    numeric = net.preprocessor(x[:, net.numeric_index])
    assert net.numeric_embeddings(numeric).shape == (7, 3, 6)  # one embedding per column
    assert net.numeric_embeddings.periodic.weight.shape == (3, 5)
    assert net.member_logits(x).shape == (7, 4)  # one logit per row and member
    assert net.architecture()["ensemble_size"] == 4


def test_the_net_answers_the_logit_of_its_members_mean_probability():
    net = _net(ensemble_size=5).eval()
    x = torch.rand(9, 3)
    members = net.member_logits(x)
    assert not torch.allclose(members[:, 0], members[:, 1])  # the members differ
    mean_p = torch.sigmoid(members.double()).mean(dim=1)
    assert torch.allclose(torch.sigmoid(net(x).double()), mean_p, atol=1e-6)
    one = _net(ensemble_size=1).eval()
    assert torch.equal(one(x), one.member_logits(x)[:, 0])


def test_pool_member_logits_is_stable_for_large_logits():
    from churnops.models.net import pool_member_logits

    pooled = pool_member_logits(torch.tensor([[80.0, 90.0], [-80.0, -90.0]]))
    assert torch.isfinite(pooled).all() and pooled[0] > 70 and pooled[1] < -70


def test_the_same_seed_builds_the_same_net():
    torch.manual_seed(3)
    a = _net().eval()
    torch.manual_seed(3)
    b = _net().eval()
    x = torch.rand(6, 3)
    assert torch.equal(a(x), b(x))
    torch.manual_seed(4)
    assert not torch.equal(_net().eval()(x), a(x))


def test_a_net_rebuilt_from_its_columns_takes_any_trained_architecture():
    """What serving does: a net built with default settings loads weights of another shape."""
    trained = _net(
        hidden_sizes=[16, 8], norm="layer", ensemble_size=3, numeric_embedding_dim=4,
        n_frequencies=6,
    ).eval()  # fmt: skip
    trained.temperature.fill_(1.5)
    fresh = _net()
    fresh.load_state_dict(trained.state_dict())
    fresh.eval()
    x = torch.rand(4, 3)
    assert torch.equal(fresh(x), trained(x))
    assert fresh.architecture() == trained.architecture()
    plain = _net(numeric_embedding="none", norm="batch", hidden_sizes=[]).eval()
    fresh.load_state_dict(plain.state_dict())
    assert fresh.eval().architecture()["numeric_embedding"] == "none"
    assert torch.equal(fresh(x), plain(x))


def test_a_state_dict_of_something_else_is_refused_by_name():
    with pytest.raises(ValueError, match="ensemble head"):
        _net().load_state_dict({"mlp.0.weight": torch.zeros(2, 2)})


def test_the_additive_term_adds_one_linear_function_of_the_mlp_input_to_every_member():
    torch.manual_seed(0)
    net = _net(ensemble_size=3, hidden_sizes=[8]).eval()
    x = torch.rand(5, 3)
    with_term = net.member_logits(x)
    mlp_input, additive_input = net.inputs(x)
    assert additive_input.shape[1] == mlp_input.shape[1] + 3  # + each column's scaled value
    term = net.additive(additive_input)
    with torch.no_grad():
        net.additive.weight.zero_()
        net.additive.bias.zero_()
    assert torch.allclose(with_term, net.member_logits(x) + term, atol=1e-6)  # the same for all k
    assert _net(additive=False).additive is None
    plain = _net(numeric_embedding="none")  # the MLP already sees the scaled values: not twice
    assert torch.equal(*plain.inputs(x)) and plain.additive.in_features == 3


def test_a_net_trained_without_the_additive_term_still_serves():
    """Weights from before the term existed: the rebuilt net drops it and answers the same."""
    old = _net(additive=False, hidden_sizes=[16]).eval()
    fresh = _net()
    fresh.load_state_dict(old.state_dict())
    fresh.eval()
    assert fresh.additive is None and not fresh.architecture()["additive"]
    x = torch.rand(4, 3)
    assert torch.equal(fresh(x), old(x))
    back = _net(additive=False)
    back.load_state_dict(_net().state_dict())  # and the other way round
    assert back.additive is not None
