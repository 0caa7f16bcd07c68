"""Spark-fitted model families (Spark ML logistic regression, SparkXGBClassifier): fitted by
Spark, served without it, predicting what the Spark model predicts."""

import pickle

import numpy as np
import pytest

from churnops.models.spark_baselines import (
    SparkLogisticChurnModel,
    SparkXGBoostChurnModel,
    design_frame,
)
from tests.fixtures.clusters import run_cli, spark_overrides

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1500, 4))
    x[::7, 2] = np.nan  # a column with gaps
    logit = 1.5 * x[:, 0] - x[:, 1] + 0.3 * np.nan_to_num(x[:, 2])
    return x, (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(np.int64)


def _spark_probabilities(spark_engine, spark_model, design):
    frame = spark_model.transform(design_frame(spark_engine.session, design))
    return np.array([row.probability[1] for row in frame.select("probability").collect()])


def test_spark_xgboost_serves_the_spark_models_booster(spark_engine):
    x, y = _data()
    model = SparkXGBoostChurnModel(n_estimators=20, max_depth=3, learning_rate=0.1)
    model.fit(x[:1000], y[:1000])
    held_out = x[1000:]
    expected = _spark_probabilities(spark_engine, model.spark_model, model._encode(held_out))
    served = pickle.loads(pickle.dumps(model))  # what the pyfunc holds: no Spark object
    assert served.spark_model is None
    np.testing.assert_allclose(served.predict_proba(held_out)[:, 1], expected, rtol=1e-6)


def test_served_predictions_equal_the_spark_models(spark_engine):
    x, y = _data()
    model = SparkLogisticChurnModel(c=1.0, max_iter=100).fit(x[:1000], y[:1000])
    held_out = x[1000:]
    design = model._design(model._encode(held_out))
    expected = _spark_probabilities(spark_engine, model.spark_model, design)
    served = pickle.loads(pickle.dumps(model))  # what the pyfunc holds: no Spark object
    assert served.spark_model is None
    np.testing.assert_allclose(served.predict_proba(held_out)[:, 1], expected, rtol=1e-9)
    # The weights are sklearn's for the same objective (L2, C=1), to the solvers' tolerance.
    from sklearn.linear_model import LogisticRegression

    reference = LogisticRegression(C=1.0, max_iter=1000).fit(
        model._design(model._encode(x[:1000])), y[:1000]
    )
    np.testing.assert_allclose(model.model.coef_, reference.coef_, atol=1e-3)


def test_spark_xgboost_trains_on_the_cluster(
    spark_cluster,
    tmp_path,
    cdnow_training_set_path,
):
    app = "churnops-test-spark-xgboost"
    proc = run_cli(
        "train", "model=spark_xgboost", "model.xgboost.n_estimators=20", "launcher.num_workers=2",
        f"data.path={cdnow_training_set_path}", f"workdir={tmp_path}",
        *spark_overrides(spark_cluster, app),
        env=spark_cluster.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = spark_cluster.app(app)
    assert info is not None and info["state"] == "FINISHED"
    # XGBoost's two training tasks (a barrier stage) ran on the two 1-core workers.
    assert len({worker for worker, _ in spark_cluster.executors(info["id"])}) == 2
