"""log_model packages the training set's feature spec; score_batch joins features point-in-time
(keeping the input's own features) and scores on DuckDB and on Spark."""

from __future__ import annotations

from datetime import date

import mlflow
import numpy as np
import pyarrow as pa
import pytest

from churnops.data.feature_store import FeatureLookup, LocalFeatureStore
from churnops.data.feature_store.frames import to_arrow
from churnops.models.baselines import LogisticChurnModel
from churnops.models.pyfunc import load_feature_spec
from churnops.scoring import ScoringClient, log_model, score_batch
from tests.scoring.conftest import TABLE, labels

LOOKUP = FeatureLookup(TABLE, lookup_key="customer_id", timestamp_lookup_key="cutoff")


@pytest.fixture
def logged(ts_store, duckdb_engine, mlflow_tmp):
    """A logistic model fitted on the point-in-time training set, logged and registered."""
    ts = ts_store.create_training_set(duckdb_engine.from_arrow(labels()), [LOOKUP], label="churn")
    table = to_arrow(ts.load_df())
    x = np.column_stack([table["x"].to_numpy(), table["n"].to_numpy()]).astype(np.float32)
    model = LogisticChurnModel().fit(x, table["churn"].to_numpy())
    info = log_model(
        ts_store, model, "model", mlflow.sklearn, ts, registered_model_name="churn_scoring"
    )
    return model, info


def test_log_model_packages_spec_and_lineage(logged, ts_store):
    _, info = logged
    spec = load_feature_spec("models:/churn_scoring/1")
    assert spec.feature_columns == ["x", "n"]
    assert spec.key_columns == ["customer_id", "cutoff"]
    assert spec.flavor == "sklearn"
    assert spec.table_versions == {TABLE: ts_store.get_table(TABLE).version}
    run = mlflow.get_run(info.run_id)
    assert run.data.tags[f"feature_table.{TABLE}"] == str(ts_store.get_table(TABLE).version)
    assert info.registered_model_version == 1


def _keys(engine, rows):
    return engine.from_arrow(
        pa.table({"customer_id": [r[0] for r in rows], "cutoff": [r[1] for r in rows]})
    )


def _check_point_in_time(out, model):
    by = {(r["customer_id"], r["cutoff"]): r for r in out.to_pylist()}
    # a at 2020-03-01 sees its Feb snapshot (never March's); b before its first snapshot: null.
    assert by[("a", date(2020, 3, 1))]["x"] == pytest.approx(2.0200229)
    assert by[("a", date(2020, 3, 1))]["n"] == 2
    row = by[("a", date(2020, 3, 1))]
    expected = model.predict_proba(np.array([[row["x"], row["n"]]], np.float32))[0, 1]
    assert row["probability"] == pytest.approx(expected, rel=1e-6)
    assert row["prediction"] == int(expected >= 0.5)
    assert out.column_names[:2] == ["customer_id", "cutoff"]


def test_score_batch_duckdb_point_in_time(logged, ts_store, duckdb_engine):
    model, _ = logged
    df = _keys(duckdb_engine, [("a", date(2020, 3, 1)), ("d", date(2020, 3, 1))])
    out = to_arrow(score_batch(ts_store, "models:/churn_scoring/1", df))
    assert out.num_rows == 2
    assert {"probability", "prediction", "x", "n"} <= set(out.column_names)
    _check_point_in_time(out, model)


def test_score_batch_keeps_input_features_and_threshold_param(logged, ts_store, duckdb_engine):
    model, _ = logged
    df = duckdb_engine.from_arrow(
        pa.table({"customer_id": ["a"], "cutoff": [date(2020, 3, 1)], "x": [9.9]})
    )
    out = to_arrow(score_batch(ts_store, "models:/churn_scoring/1", df, params={"threshold": 0.0}))
    row = out.to_pylist()[0]
    assert row["x"] == 9.9  # the input's own value wins over the store's
    assert row["n"] == 2
    expected = model.predict_proba(np.array([[9.9, 2]], np.float32))[0, 1]
    assert row["probability"] == pytest.approx(expected, rel=1e-6)
    assert row["prediction"] == 1  # threshold 0: every row is churn


def test_score_batch_errors_name_the_problem(logged, ts_store, duckdb_engine):
    df = duckdb_engine.from_arrow(pa.table({"cutoff": [date(2020, 3, 1)]}))
    with pytest.raises(ValueError, match="customer_id"):
        score_batch(ts_store, "models:/churn_scoring/1", df)
    with pytest.raises(ValueError, match="churn_nope"):
        keys = _keys(duckdb_engine, [("a", date(2020, 3, 1))])
        score_batch(ts_store, "models:/churn_nope/1", keys)


@pytest.mark.spark
def test_score_batch_spark_matches_duckdb(logged, ts_store, spark_engine, duckdb_engine):
    model, _ = logged
    rows = [("a", date(2020, 3, 1)), ("b", date(2020, 3, 20)), ("c", date(2020, 2, 1))]
    store = LocalFeatureStore(ts_store.root, engine=spark_engine)
    spark_out = score_batch(store, "models:/churn_scoring/1", _keys(spark_engine, rows))
    assert type(spark_out).__module__.startswith("pyspark")
    out = to_arrow(spark_out).sort_by("customer_id")
    local = to_arrow(
        score_batch(ts_store, "models:/churn_scoring/1", _keys(duckdb_engine, rows))
    ).sort_by("customer_id")
    assert out["probability"].to_pylist() == pytest.approx(local["probability"].to_pylist())
    assert out["prediction"].to_pylist() == local["prediction"].to_pylist()
    _check_point_in_time(out, model)


def test_the_scoring_client_has_the_clients_log_model_and_score_batch(
    ts_store, duckdb_engine, mlflow_tmp
):
    """`ScoringClient(store).log_model(...)` / `.score_batch(...)`: the Databricks client's calls,
    over a store that itself holds data operations only."""
    ts = ts_store.create_training_set(duckdb_engine.from_arrow(labels()), [LOOKUP], label="churn")
    table = to_arrow(ts.load_df())
    x = np.column_stack([table["x"].to_numpy(), table["n"].to_numpy()]).astype(np.float32)
    model = LogisticChurnModel().fit(x, table["churn"].to_numpy())
    client = ScoringClient(ts_store)
    client.log_model(model, "model", mlflow.sklearn, ts, registered_model_name="churn_methods")
    scored = to_arrow(
        client.score_batch(
            "models:/churn_methods/1", _keys(duckdb_engine, [("a", date(2020, 3, 1))])
        )
    )
    row = scored.to_pylist()[0]
    assert row["x"] == pytest.approx(2.0200229)  # the February snapshot, point in time
    expected = model.predict_proba(np.array([[row["x"], row["n"]]], np.float32))[0, 1]
    assert row["probability"] == pytest.approx(expected, rel=1e-5)
