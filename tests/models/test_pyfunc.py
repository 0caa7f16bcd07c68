"""The one pyfunc: every family round-trips through MLflow, the threshold is a per-call param,
key-only input is completed from the online store, and stock `mlflow models serve` answers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from churnops.models.feature_spec import FeatureSpec, FeatureSpecError, TableLookupSpec
from churnops.models.pyfunc import ChurnPyfuncModel, load_feature_spec, log_pyfunc_model

COLUMNS = ["recency", "orders", "spent"]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with an integer count column (as the features have) and a label they predict."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "recency": rng.uniform(0, 300, n),
            "orders": rng.integers(1, 20, n).astype(np.int64),
            "spent": rng.gamma(2.0, 50.0, n),
        }
    )
    frame.loc[::17, "spent"] = np.nan  # gaps, as single-order customers have
    logit = 0.02 * frame["recency"] - 0.3 * frame["orders"] + rng.normal(0, 1, n)
    return frame, (logit > 0).to_numpy().astype(np.int64)


def _fitted(family: str, x: np.ndarray, y: np.ndarray):
    from churnops.models import baselines

    if family == "random_forest":
        return baselines.RandomForestChurnModel(20, 5, n_jobs=1).fit(x, y)
    if family == "logistic_regression":
        return baselines.LogisticChurnModel().fit(x, y)
    if family == "xgboost":
        return baselines.XGBoostChurnModel(n_estimators=20, device="cpu", n_jobs=1).fit(x, y)
    import torch

    from churnops.models.net import TabularChurnNet
    from churnops.models.preprocessing import FeaturePreprocessor

    torch.manual_seed(0)
    net = TabularChurnNet(FeaturePreprocessor.fit(x), list(range(x.shape[1])), hidden_sizes=[8])
    return net.eval()


def _expected(model, x: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)[:, 1]
    import torch

    with torch.no_grad():
        return torch.sigmoid(model(torch.as_tensor(x, dtype=torch.float32))).numpy()


@pytest.mark.parametrize("family", ["random_forest", "logistic_regression", "xgboost", "mlp"])
def test_every_family_round_trips(mlflow_tmp, data, family):
    frame, y = data
    x = frame.to_numpy(np.float32)
    model = _fitted(family, x, y)
    with mlflow.start_run():
        info = log_pyfunc_model(model, FeatureSpec(COLUMNS), input_example=frame.head(3),
                                registered_model_name=f"pyfunc_{family}")  # fmt: skip
    loaded = mlflow.pyfunc.load_model(f"models:/pyfunc_{family}/1")
    out = loaded.predict(frame)
    assert list(out.columns) == ["probability", "prediction"]
    np.testing.assert_allclose(out["probability"], _expected(model, x), rtol=1e-5, atol=1e-6)
    assert (out["prediction"] == (out["probability"] >= 0.5)).all()
    sig = loaded.metadata.signature
    assert [s.name for s in sig.inputs.inputs] == COLUMNS
    assert sig.inputs.inputs[1].to_dict()["type"] == "any"  # ints, floats, blanks: see below
    assert sig.params.params[0].name == "threshold"
    expected_flavor = {"mlp": "pytorch", "xgboost": "xgboost"}.get(family, "sklearn")
    assert load_feature_spec(info.model_uri).flavor == expected_flavor


def test_numbers_are_taken_as_users_send_them(mlflow_tmp, data, tmp_path):
    # Integer-valued columns as ints or floats, a column with a gap the 5-row example never
    # showed, a blank written as one space and "1,889.5": read as training reads a CSV.
    frame, y = data
    x = frame.to_numpy(np.float64)
    model = _fitted("logistic_regression", x.astype(np.float32), y)
    with mlflow.start_run():
        info = log_pyfunc_model(model, FeatureSpec(COLUMNS), input_example=frame.head(5))
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    expected = loaded.predict(frame)["probability"].to_numpy()

    as_floats = frame.astype({"orders": np.float64})
    as_floats.loc[3, "orders"] = np.nan  # a gap: pandas holds the column as float64
    want = frame.assign(orders=frame["orders"].astype(float))
    want.loc[3, "orders"] = np.nan
    np.testing.assert_allclose(
        loaded.predict(as_floats)["probability"], loaded.predict(want)["probability"]
    )
    csv = tmp_path / "rows.csv"
    text = frame.head(6).assign(spent=lambda f: f["spent"].map(lambda v: f"{v:,.6f}"))
    text.loc[[0, 2], "spent"] = " "  # blanks as the public telecom table writes them
    text.to_csv(csv, index=False)
    read = pd.read_csv(csv)  # orders: int64; spent: text
    assert read["orders"].dtype == np.int64 and read["spent"].dtype == object
    got = loaded.predict(read)["probability"].to_numpy()
    blanked = frame.head(6).copy()
    blanked.loc[[0, 2], "spent"] = np.nan
    np.testing.assert_allclose(got, loaded.predict(blanked)["probability"], rtol=1e-5)
    np.testing.assert_allclose(got[[1, 3]], expected[[1, 3]], rtol=1e-5)
    with pytest.raises(Exception, match=r"'spent'.*not numbers.*'many'"):
        loaded.predict(frame.head(2).astype({"spent": object}).assign(spent=["many", "1"]))


def test_threshold_is_a_per_call_param(mlflow_tmp, data):
    frame, y = data
    model = _fitted("logistic_regression", frame.to_numpy(np.float32), y)
    with mlflow.start_run():
        info = log_pyfunc_model(model, FeatureSpec(COLUMNS), threshold=0.7,
                                input_example=frame.head(2))  # fmt: skip
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    p = loaded.predict(frame)["probability"]
    assert (loaded.predict(frame)["prediction"] == (p >= 0.7)).all()  # the logged default
    assert (loaded.predict(frame, params={"threshold": 0.0})["prediction"] == 1).all()
    assert (loaded.predict(frame, params={"threshold": 1.0})["prediction"] == (p >= 1.0)).all()
    with pytest.raises(ValueError, match=r"threshold=1\.5: expected a number between 0 and 1"):
        loaded.predict(frame, params={"threshold": 1.5})
    with pytest.raises(ValueError, match="threshold"):
        ChurnPyfuncModel(threshold=-0.1)


def test_key_only_input_is_looked_up_online(mlflow_tmp, data, tmp_path, duckdb_engine):
    from churnops.data.feature_store import LocalFeatureStore
    from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore

    frame, y = data
    keyed = frame.head(5).assign(customer_id=[f"c{i}" for i in range(5)])
    store = LocalFeatureStore(tmp_path / "fs", engine=duckdb_engine)
    store.create_table("ml.churn.features", "customer_id",
                       df=pa.Table.from_pandas(keyed, preserve_index=False))  # fmt: skip
    online_path = tmp_path / "online.db"
    online = SQLiteOnlineStore(online_path)
    store.publish_table("ml.churn.features", online)
    online.close()

    model = _fitted("random_forest", frame.to_numpy(np.float32), y)
    spec = FeatureSpec(
        COLUMNS,
        lookups=[TableLookupSpec("ml.churn.features", ["customer_id"], {c: c for c in COLUMNS},
                                 default_values={"orders": 1})],
    )  # fmt: skip
    with mlflow.start_run():
        info = log_pyfunc_model(model, spec, input_example=keyed.head(2)[["customer_id", *COLUMNS]],
                                online={"kind": "sqlite", "path": str(online_path)})  # fmt: skip
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    full = loaded.predict(keyed[COLUMNS])
    by_key = loaded.predict(pd.DataFrame({"customer_id": [f"c{i}" for i in range(5)]}))
    np.testing.assert_allclose(by_key["probability"], full["probability"])

    # A feature sent with the request wins over the stored one.
    override = pd.DataFrame({"customer_id": ["c0"], "recency": [299.0]})
    direct = keyed.head(1)[COLUMNS].assign(recency=299.0)
    assert loaded.predict(override)["probability"][0] == pytest.approx(
        model.predict_proba(direct.to_numpy(np.float32))[0, 1]
    )
    # An unknown key takes the lookup's defaults (orders=1), missing ones are NaN.
    unknown = loaded.predict(pd.DataFrame({"customer_id": ["nobody"]}))
    nan_row = np.array([[np.nan, 1, np.nan]], np.float32)
    assert unknown["probability"][0] == pytest.approx(model.predict_proba(nan_row)[0, 1])
    with pytest.raises(Exception, match="customer_id"):
        loaded.predict(pd.DataFrame({"recency": [1.0]}))


def test_spec_errors_are_named():
    with pytest.raises(FeatureSpecError, match="feature_columns"):
        FeatureSpec([])
    lookup = TableLookupSpec("a.b.c", ["k"], {"x": "x"})
    with pytest.raises(FeatureSpecError, match=r"\['x'\] are produced twice"):
        FeatureSpec(["x"], lookups=[lookup, TableLookupSpec("a.b.d", ["k"], {"x": "x"})])
    with pytest.raises(TypeError, match="predict_proba"):
        log_pyfunc_model(object(), FeatureSpec(["x"]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_stock_mlflow_models_serve_answers_over_http(mlflow_tmp, data, tmp_path):
    frame, y = data
    model = _fitted("random_forest", frame.to_numpy(np.float32), y)
    with mlflow.start_run():
        log_pyfunc_model(model, FeatureSpec(COLUMNS), input_example=frame.head(2),
                         registered_model_name="pyfunc_served")  # fmt: skip
    port = _free_port()
    bin_dir = os.path.dirname(sys.executable)  # the server execs uvicorn from PATH
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_tmp, "MLFLOW_REGISTRY_URI": mlflow_tmp,
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    cli = os.path.join(bin_dir, "mlflow")
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [cli, "models", "serve", "-m", "models:/pyfunc_served/1", "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start: {(tmp_path / 'serve.log').read_text()}")
                time.sleep(1)
        rows = frame.head(4).replace({np.nan: None})
        body = {"dataframe_split": {"columns": COLUMNS, "data": rows.values.tolist()},
                "params": {"threshold": 0.0}}  # fmt: skip
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
        expected = model.predict_proba(frame.head(4).to_numpy(np.float32))[:, 1]
        assert [p["probability"] for p in predictions] == pytest.approx(expected.tolist())
        assert [p["prediction"] for p in predictions] == [1, 1, 1, 1]  # threshold 0 via params
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_a_net_with_categories_serves_raw_strings(tmp_path):
    """The pyfunc carries the encoder: a request with the raw category strings is scored."""
    from churnops.models.pyfunc import as_predictor
    from churnops.trainers.config import load_train_config
    from churnops.trainers.estimators import NetChurnModel

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {"plan": rng.choice(["basic", "pro"], n), "spent": rng.gamma(2.0, 50.0, n)}
    )
    y = ((frame["plan"] == "basic") ^ (rng.random(n) < 0.1)).to_numpy().astype(np.int64)
    cfg = load_train_config(
        [
            f"workdir={tmp_path}", "logger=none", "trainer.progress_bar=false",
            "trainer.max_epochs=3", "features.columns=[plan, spent]",
            "features.categorical=[plan]",
        ]
    )  # fmt: skip
    model = NetChurnModel(cfg).fit(frame.to_numpy(dtype=object), y)
    predictor, flavor = as_predictor(model)
    assert flavor == "pytorch" and predictor.encoder is model.encoder
    import pickle

    served = pickle.loads(pickle.dumps(predictor))
    p = served.predict_proba(pd.DataFrame({"plan": ["basic", "pro", "never-seen"], "spent": 50.0}))
    assert np.allclose(
        p,
        model.predict_proba(
            np.array([["basic", 50.0], ["pro", 50.0], ["never-seen", 50.0]], dtype=object)
        ),
    )
    assert p[0, 1] > p[1, 1]  # the category carries the signal


def test_key_only_input_with_a_string_category_is_looked_up(mlflow_tmp, tmp_path, duckdb_engine):
    # The stored category comes back as its raw label, which the model's encoder codes.
    from churnops.data.feature_store import LocalFeatureStore
    from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore
    from churnops.models.baselines import LogisticChurnModel
    from churnops.models.encoding import TableEncoder

    rng = np.random.default_rng(4)
    n = 200
    frame = pd.DataFrame(
        {"plan": rng.choice(["basic", "pro"], n), "spent": rng.gamma(2.0, 50.0, n)}
    )
    y = ((frame["plan"] == "basic") ^ (rng.random(n) < 0.1)).to_numpy().astype(np.int64)
    model = LogisticChurnModel(encoder=TableEncoder(["plan", "spent"], ["plan"])).fit(frame, y)
    keyed = frame.head(6).assign(customer_id=[f"c{i}" for i in range(6)])
    store = LocalFeatureStore(tmp_path / "fs", engine=duckdb_engine)
    store.create_table("ml.churn.plans", "customer_id",
                       df=pa.Table.from_pandas(keyed, preserve_index=False))  # fmt: skip
    online_path = tmp_path / "online.db"
    online = SQLiteOnlineStore(online_path)
    store.publish_table("ml.churn.plans", online)
    online.close()
    outputs = {"plan": "plan", "spent": "spent"}
    spec = FeatureSpec(
        ["plan", "spent"], lookups=[TableLookupSpec("ml.churn.plans", ["customer_id"], outputs)]
    )
    with mlflow.start_run():
        info = log_pyfunc_model(model, spec, input_example=keyed.head(2),
                                online={"kind": "sqlite", "path": str(online_path)})  # fmt: skip
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    by_key = loaded.predict(pd.DataFrame({"customer_id": keyed.customer_id}))
    full = loaded.predict(keyed[["plan", "spent"]])
    np.testing.assert_array_equal(by_key["probability"], full["probability"])


def test_a_model_that_cannot_score_its_example_is_refused_at_log_time(mlflow_tmp):
    # A stock pipeline fitted on strings would be handed numbers by the pyfunc: refused now.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"plan": ["basic", "pro"] * 20, "spent": np.arange(40.0)})
    y = np.arange(40) % 2
    pipe = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    pipe.fit(frame, y)
    with mlflow.start_run(), pytest.raises(ValueError, match="cannot score its input_example"):
        log_pyfunc_model(pipe, FeatureSpec(["plan", "spent"]), input_example=frame.head(2))


def test_predict_function_answers_as_mlflow_predict_does(mlflow_tmp, data):
    # Batch scoring and the replay call a churnops model directly: same answers, same refusals.
    from sklearn.linear_model import LogisticRegression

    from churnops.models.pyfunc import predict_function

    frame, y = data
    model = _fitted("logistic_regression", frame.to_numpy(np.float32), y)
    with mlflow.start_run():
        info = log_pyfunc_model(model, FeatureSpec(COLUMNS), input_example=frame.head(2))
        stock = mlflow.sklearn.log_model(
            LogisticRegression().fit(frame.fillna(0).to_numpy(), y), name="stock",
            input_example=frame.head(2).fillna(0),
        )  # fmt: skip
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    predict = predict_function(loaded)
    mixed = frame.assign(orders=frame["orders"].astype(float))
    mixed.loc[3, "orders"] = np.nan
    for rows, params in ((frame, None), (mixed, None), (frame, {"threshold": 0.9})):
        pd.testing.assert_frame_equal(predict(rows, params), loaded.predict(rows, params=params))
    with pytest.raises(Exception, match=r"'spent'.*not numbers.*'many'"):
        predict(frame.head(2).astype({"spent": object}).assign(spent=["many", "1"]))
    with pytest.raises(ValueError, match=r"threshold=1\.5"):
        predict(frame, {"threshold": 1.5})
    stock_model = mlflow.pyfunc.load_model(stock.model_uri)  # not churnops: through MLflow
    filled = frame.fillna(0)
    stock_answer = predict_function(stock_model)(filled)
    np.testing.assert_array_equal(stock_answer, stock_model.predict(filled))
