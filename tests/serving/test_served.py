"""The served model's fast path answers exactly what the stock pyfunc answers, and falls back to
the pyfunc where it cannot."""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from churnops.data.features import FEATURE_COLUMNS
from churnops.serving.config import ServedEntityConfig
from churnops.serving.errors import RequestError
from churnops.serving.served import ServedModel, _unrolled_pipeline, to_json_ready


def _load(entity_name: str, version: str) -> ServedModel:
    entity = ServedEntityConfig(name="m", entity_name=entity_name, entity_version=version)
    return ServedModel.load(entity, MlflowClient())


def _rows(world, n: int = 60) -> tuple[list[dict], object]:
    frame = world.features[list(FEATURE_COLUMNS)].astype("float64").head(n).copy()
    frame.iloc[::7, 3] = np.nan  # gaps the imputers fill
    rows = [
        {c: (None if isinstance(v, float) and math.isnan(v) else v) for c, v in r.items()}
        for r in frame.to_dict("records")
    ]
    return rows, frame


@pytest.mark.parametrize(
    ("entity_name", "version"),
    [("churn", "1"), ("churn_pyfunc", "1")],
    ids=["sklearn-flavour", "churnops-pyfunc"],
)
def test_fast_path_answers_what_the_pyfunc_answers(serving_world, entity_name, version):
    model = _load(entity_name, version)
    assert model.scorer is not None
    rows, frame = _rows(serving_world)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{entity_name}/{version}")
    assert model.predict(rows) == to_json_ready(pyfunc.predict(frame))  # to the last bit
    for i in range(3):  # one row alone, as a single-row request sends it
        assert model.predict([rows[i]]) == to_json_ready(pyfunc.predict(frame.iloc[[i]]))


@pytest.mark.parametrize("family", ["random_forest", "xgboost", "mlp"])
def test_every_family_served_answers_what_stock_load_model_answers(serving_world, family):
    # The server reaches through the pyfunc to a leaner call on the same loaded predictor
    # (`compile_predictor`); the answers must be those of the stock `mlflow.pyfunc` predict.
    from churnops.models import baselines
    from churnops.models.feature_spec import FeatureSpec
    from churnops.models.pyfunc import log_pyfunc_model

    rows, frame = _rows(serving_world)
    x = serving_world.features[list(FEATURE_COLUMNS)].to_numpy("float32", na_value=np.nan)
    y = serving_world.features["churn"].to_numpy()
    if family == "random_forest":
        model = baselines.RandomForestChurnModel(n_estimators=10, max_depth=6, n_jobs=1)
    elif family == "xgboost":
        model = baselines.XGBoostChurnModel(n_estimators=20, device="cpu", n_jobs=1)
    else:
        import torch

        from churnops.models.net import TabularChurnNet
        from churnops.models.preprocessing import FeaturePreprocessor

        torch.manual_seed(0)
        model = TabularChurnNet(FeaturePreprocessor.fit(x), numeric_index=list(range(x.shape[1])))
    if family != "mlp":
        model.fit(x, y)
    name = f"churn_family_{family}"
    with mlflow.start_run():
        log_pyfunc_model(
            model.eval() if family == "mlp" else model,
            FeatureSpec(list(FEATURE_COLUMNS)),
            name="model",
            input_example=frame.head(3),
            registered_model_name=name,
        )
    served = _load(name, "1")
    assert served.scorer is not None
    stock = mlflow.pyfunc.load_model(f"models:/{name}/1")
    assert served.predict(rows) == to_json_ready(stock.predict(frame))
    for i in range(3):
        assert served.predict([rows[i]]) == to_json_ready(stock.predict(frame.iloc[[i]]))


def test_custom_pyfunc_keeps_the_frame_path(serving_world):
    model = _load("churn", "2")  # a user's PythonModel: nothing to reach through
    assert model.scorer is None
    rows, frame = _rows(serving_world, 5)
    stock = mlflow.pyfunc.load_model("models:/churn/2").predict(frame)
    assert model.predict(rows) == to_json_ready(stock)


def test_fast_path_names_a_bad_value(serving_world):
    model = _load("churn", "1")
    rows, _ = _rows(serving_world, 2)
    rows[1] = {**rows[1], "total_orders": [1]}
    with pytest.raises(RequestError, match=r"row 1\.total_orders: expected a number or null"):
        model.predict(rows)
    missing = {k: v for k, v in rows[0].items() if k != "total_spent"}
    with pytest.raises(RequestError, match=r"row 0: missing columns \['total_spent'\]"):
        model.predict([missing])


def test_pipeline_without_a_kernel_runs_its_steps_as_sklearn_does(serving_world):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    _, frame = _rows(serving_world)
    x = frame.to_numpy(dtype=np.float64)
    x[::7, 0] = np.nan  # gaps, so the imputer adds its missing-value indicator
    y = serving_world.features["churn"].head(len(x))
    pipe = make_pipeline(SimpleImputer(add_indicator=True), LogisticRegression()).fit(x, y)
    unrolled = _unrolled_pipeline(pipe, "predict_proba")
    assert unrolled is not None  # the missing-value indicator has no kernel
    assert np.array_equal(unrolled(x.copy()), pipe.predict_proba(x.copy()))


def test_estimators_score_on_the_calling_thread():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from churnops.serving.served import _one_thread_per_call

    x, y = np.random.default_rng(0).random((40, 3)), np.arange(40) % 2
    forest = RandomForestClassifier(n_estimators=5, n_jobs=-1, random_state=0)
    pipeline = make_pipeline(StandardScaler(), forest).fit(x, y)
    before = pipeline.predict_proba(x)
    _one_thread_per_call(pipeline)
    assert forest.n_jobs == 1
    np.testing.assert_allclose(pipeline.predict_proba(x), before)
    _one_thread_per_call(object())  # not an estimator: left alone


def test_integer_features_refuse_values_past_int64():
    # JSON numbers past int64 would overflow silently on the way into an integer column.
    model = ServedModel(
        "m", "churn", "1", "models:/churn/1", None, ["a", "b"], ["int64", "float64"], []
    )
    model.check_types([{"a": 2**63 - 1, "b": 1e300}])  # the edges fit
    with pytest.raises(RequestError, match=r"row 1\.a=9223372036854775808: out of range"):
        model.check_types([{"a": 1}, {"a": 2**63}])
    # As the stock pyfunc's schema enforcement: a float (JSON 1e20, 3.7) or a boolean is no
    # integer, whatever int64 it would be cast to.
    for value in (1e20, -1e30, 3.7, 3.0, True):
        with pytest.raises(RequestError, match=r"row 0\.a=.*: expected a whole number"):
            model.check_types([{"a": value}])


def test_a_float32_model_refuses_values_past_float32():
    model = ServedModel("m", "churn", "1", "models:/churn/1", None, ["a"], ["float64"], [])
    model.float32 = True
    model.check_types([{"a": 3e38}])
    with pytest.raises(RequestError, match=r"row 0\.a=1e\+300: out of range"):
        model.check_types([{"a": 1e300}])


def test_a_model_with_categories_is_served_from_raw_strings(serving_world, tmp_path):
    # A churnops model that learnt a string category takes the raw labels: the server hands
    # them over as the stock pyfunc does, and refuses a number where the signature has a string.
    import pandas as pd

    from churnops.models import baselines
    from churnops.models.encoding import TableEncoder
    from churnops.models.feature_spec import FeatureSpec
    from churnops.models.pyfunc import log_pyfunc_model

    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame(
        {"plan": rng.choice(["basic", "plus", "pro"], n), "spent": rng.gamma(2.0, 50.0, n)}
    )
    y = ((frame["plan"] == "basic") ^ (rng.random(n) < 0.1)).to_numpy().astype(np.int64)
    model = baselines.LogisticChurnModel(encoder=TableEncoder(["plan", "spent"], ["plan"]))
    model.fit(frame, y)
    with mlflow.start_run():
        log_pyfunc_model(
            model, FeatureSpec(["plan", "spent"]), name="model", input_example=frame.head(3),
            registered_model_name="churn_categories",
        )  # fmt: skip
    served = _load("churn_categories", "1")
    assert served.scorer is None  # the frame path: a float matrix cannot hold "basic"
    rows = [{"plan": p, "spent": s} for p, s in zip(frame.plan[:20], frame.spent[:20], strict=True)]
    rows.append({"plan": "never-seen", "spent": 10.0})
    stock = mlflow.pyfunc.load_model("models:/churn_categories/1")
    served.check_types(rows)
    assert served.predict(rows) == to_json_ready(stock.predict(pd.DataFrame(rows)))
    with pytest.raises(RequestError, match=r"row 0\.plan: expected a string or null, got 5"):
        served.check_types([{"plan": 5, "spent": 1.0}])
