"""`model.name` picks the family: each name builds its model from its own config section."""

import pytest

from churnops.trainers.config import TrainConfig, load_train_config
from churnops.trainers.estimators import MODEL_FAMILIES, build_model

CLASSES = {
    "mlp": "NetChurnModel",
    "random_forest": "RandomForestChurnModel",
    "logistic_regression": "LogisticChurnModel",
    "xgboost": "XGBoostChurnModel",
    "recency": "RecencyChurnModel",
    "spark_logistic_regression": "SparkLogisticChurnModel",
    "spark_xgboost": "SparkXGBoostChurnModel",
}


def test_every_model_name_has_a_family():
    assert set(MODEL_FAMILIES) == set(CLASSES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_model_name_builds_its_family_unfitted(name):
    cfg = load_train_config([f"model={name}", "model.random_forest.n_estimators=7",
                             "model.logistic_regression.c=0.5"])  # fmt: skip
    model = build_model(cfg)
    assert type(model).__name__ == CLASSES[name]
    if name == "random_forest":
        assert model.model.n_estimators == 7
    if name == "logistic_regression":
        assert model.model.C == 0.5


def test_an_unknown_model_name_names_the_field_and_the_choices():
    cfg = TrainConfig()
    cfg.model = cfg.model.model_construct(name="svm")
    with pytest.raises(ValueError, match=r"model\.name='svm': expected one of logistic_regression"):
        build_model(cfg)
