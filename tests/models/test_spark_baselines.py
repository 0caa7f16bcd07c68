"""Spark ML's logistic regression as a model family: fitted by Spark, served without it."""

import pickle

import numpy as np
import pytest

from churnops.models.spark_baselines import SparkLogisticChurnModel, design_frame

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_served_predictions_equal_the_spark_models(spark_engine):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1500, 4))
    x[::7, 2] = np.nan  # a column with gaps: imputed, with a missing indicator
    logit = 1.5 * x[:, 0] - x[:, 1] + 0.3 * np.nan_to_num(x[:, 2])
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    model = SparkLogisticChurnModel(c=1.0, max_iter=100).fit(x[:1000], y[:1000])
    held_out = x[1000:]
    design = model._design(model._encode(held_out))
    frame = model.spark_model.transform(design_frame(spark_engine.session, design))
    expected = np.array([row.probability[1] for row in frame.select("probability").collect()])
    served = pickle.loads(pickle.dumps(model))  # what the pyfunc holds: no Spark object
    assert served.spark_model is None
    np.testing.assert_allclose(served.predict_proba(held_out)[:, 1], expected, rtol=1e-9)
    # The weights are sklearn's for the same objective (L2, C=1), to the solvers' tolerance.
    from sklearn.linear_model import LogisticRegression

    reference = LogisticRegression(C=1.0, max_iter=1000).fit(
        model._design(model._encode(x[:1000])), y[:1000]
    )
    np.testing.assert_allclose(model.model.coef_, reference.coef_, atol=1e-3)
