"""ScoringClient: on Databricks the official client logs the same churnops pyfunc (its
artifacts and requirements, churnops' wheel included) and scores with it; the stores hold
data operations only."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pytest

from churnops.data.feature_store import LocalFeatureStore
from churnops.data.feature_store.databricks import DatabricksFeatureStore
from churnops.models.baselines import LogisticChurnModel
from churnops.models.pyfunc import ChurnPyfuncModel
from churnops.scoring import ScoringClient
from churnops.scoring.client import RESULT_TYPE
from tests.data.feature_store.test_databricks import RecordingClient


def _model() -> LogisticChurnModel:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2)).astype("float32")
    return LogisticChurnModel().fit(x, (x[:, 0] > 0).astype(int))


class ScoringRecordingClient(RecordingClient):
    """Records the calls; `score_batch` answers as the client does: the rows with one struct
    column `prediction` of `RESULT_TYPE` (a real Spark frame)."""

    def __init__(self, session):
        super().__init__()
        self.session = session

    def score_batch(self, **kwargs):
        self.calls.append(("score_batch", kwargs))
        return self.session.createDataFrame(
            [("c1", (0.75, 1))], f"customer_id string, prediction {RESULT_TYPE}"
        )


@pytest.mark.spark
def test_databricks_logs_the_churnops_pyfunc_and_scores_through_the_client(spark_engine):
    client = ScoringRecordingClient(spark_engine.session)
    scoring = ScoringClient(DatabricksFeatureStore(client=client))
    scoring.log_model(
        _model(), "model", "mlflow.sklearn", "TS", "main.churn.m", feature_columns=["a", "b"]
    )
    scored = scoring.score_batch("models:/main.churn.m@champion", "DF")
    # The struct is split into the two columns every backend writes.
    assert scored.columns == ["customer_id", "probability", "prediction"]
    assert [tuple(r) for r in scored.collect()] == [("c1", 0.75, 1)]
    (log_name, log), (score_name, score) = client.calls
    assert log_name == "log_model" and log["flavor"] is mlflow.pyfunc
    assert isinstance(log["model"], ChurnPyfuncModel)
    assert (log["training_set"], log["registered_model_name"]) == ("TS", "main.churn.m")
    assert set(log["artifacts"]) == {"predictor", "feature_spec", "churnops_wheel"}
    assert any(r.startswith("artifacts/churnops-") for r in log["pip_requirements"])
    assert score_name == "score_batch" and score == {
        "model_uri": "models:/main.churn.m@champion", "df": "DF", "result_type": RESULT_TYPE
    }  # fmt: skip


def test_databricks_needs_the_feature_columns():
    scoring = ScoringClient(DatabricksFeatureStore(client=RecordingClient()))
    with pytest.raises(ValueError, match="feature_columns: required on Databricks"):
        scoring.log_model(_model(), "model", "mlflow.sklearn", "TS")


def test_stores_hold_data_operations_only(tmp_path):
    for store in (LocalFeatureStore(tmp_path), DatabricksFeatureStore(client=RecordingClient())):
        assert not hasattr(store, "log_model") and not hasattr(store, "score_batch")
