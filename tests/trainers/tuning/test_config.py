"""Search spaces from configs: strict, with errors that name the parameter and the problem."""

from __future__ import annotations

import pytest

from churnops.config import ConfigError
from churnops.trainers.tuning import load_tune_config
from churnops.trainers.tuning.space import apply_params, hyperopt_space, ray_space


def test_shipped_configs_load():
    rf = load_tune_config("random_forest")
    assert rf.space["model.random_forest.n_estimators"].values == [50, 100, 200]
    assert rf.space["model.random_forest.max_depth"].values == [5, 10, 15, 20]
    assert rf.space["estimator.min_samples_split"].values == [2, 5, 10]
    assert rf.backend == "ray" and rf.search == "optuna" and not rf.use_asha
    mlp = load_tune_config("mlp")
    assert mlp.use_asha and set(mlp.space) >= {"model.mlp.lr", "model.mlp.dropout"}
    assert load_tune_config("xgboost").space["model.xgboost.max_depth"].kind == "randint"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("backend=spark", "backend='spark'"),
        ("num_samples=0", "num_samples=0"),
        ("nope=1", "unknown key 'nope'"),
    ],
)
def test_bad_configs_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=message):
        load_tune_config("random_forest", [override])


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ({"choice": [1], "uniform": [0, 1]}, "space.model.x.y.*exactly one of"),
        ({"uniform": [2, 1]}, "low 2.0 must be below high 1.0"),
        ({"choice": []}, "one or more values"),
        ({"loguniform": [0, 1]}, "must be positive"),
    ],
)
def test_bad_spaces_name_the_parameter(tmp_path, param, message):
    import yaml

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"space": {"model.x.y": param}}))
    with pytest.raises(ConfigError, match=message):
        load_tune_config(path)
    path.write_text(yaml.safe_dump({"space": {"foo": {"choice": [1]}}}))
    with pytest.raises(ConfigError, match=r"space\.foo: expected a train-config path"):
        load_tune_config(path)


def test_unknown_config_name():
    with pytest.raises(ConfigError, match="expected one of"):
        load_tune_config("nope")


def test_apply_params_and_spaces():
    from churnops.trainers.config import load_train_config

    base = load_train_config(["model=mlp"]).model_dump(mode="json")
    cfg = load_tune_config("mlp")
    assert set(ray_space(cfg.space)) == set(cfg.space) == set(hyperopt_space(cfg.space))
    train_cfg, estimator = apply_params(
        base, {"model.mlp.hidden_sizes": "json:[256, 128]", "model.mlp.lr": 0.001}
    )
    assert train_cfg.model.mlp.hidden_sizes == [256, 128] and train_cfg.model.mlp.lr == 0.001
    assert estimator == {}
    _, estimator = apply_params(base, {"estimator.min_samples_split": 5})
    assert estimator == {"min_samples_split": 5}
    with pytest.raises(ConfigError, match=r"model\.mlp\.nope"):
        apply_params(base, {"model.mlp.nope": 1})
