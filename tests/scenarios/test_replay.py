"""The CDNOW replay on the bundled sample: a real inference log, routed, shadowed and labelled."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from churnops.data.features import FEATURE_COLUMNS, compute_customer_features, compute_labels
from churnops.data.sources import SourceConfig
from churnops.monitoring.analysis.ab import analyze_ab, sample_ratio_mismatch
from churnops.monitoring.config import ABConfig
from churnops.scenarios.replay import ReplayConfig, replay
from churnops.serving.inference_log import SCHEMA, read_inference_log
from churnops.serving.routing import TrafficRouter

SMALL = ["total_orders", "total_spent", "days_since_last_order", "tenure_days", "orders_90d"]


@pytest.fixture
def sample_orders(tmp_path, duckdb_engine):
    from churnops.data.sources import prepare_orders

    path = tmp_path / "sample.parquet"
    prepare_orders(SourceConfig(kind="cdnow", variant="sample"), path)
    return duckdb_engine.read_parquet(path)


@pytest.fixture
def registered(mlflow_tmp, sample_orders, duckdb_engine):
    """Champion (5 features) and challenger (all 18), registered with their aliases."""
    from mlflow import MlflowClient
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from churnops.models.feature_spec import FeatureSpec
    from churnops.models.pyfunc import log_pyfunc_model

    cutoff = date(1997, 9, 30)
    x = duckdb_engine.to_arrow(compute_customer_features(sample_orders, cutoff)).to_pandas()
    y = duckdb_engine.to_arrow(compute_labels(sample_orders, cutoff, 90)).to_pandas()
    frame = x.merge(y[["customer_id", "churn"]], on="customer_id")
    for alias, cols in (("champion", SMALL), ("challenger", list(FEATURE_COLUMNS))):
        model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=500))
        model.fit(frame[cols].astype("float64"), frame["churn"])
        info = log_pyfunc_model(
            model,
            FeatureSpec(cols),
            registered_model_name="churn",
            input_example=frame[cols].head(2),
        )
        MlflowClient().set_registered_model_alias("churn", alias, info.registered_model_version)
    return mlflow_tmp


def config(tmp_path, **extra) -> ReplayConfig:
    return ReplayConfig(
        source=SourceConfig(kind="cdnow", variant="sample"),
        start=date(1998, 3, 31),
        end=date(1998, 6, 30),
        horizon_days=60,
        arms=[
            {"name": "champion", "model_uri": "models:/churn@champion", "traffic_percentage": 80},
            {
                "name": "challenger",
                "model_uri": "models:/churn@challenger",
                "traffic_percentage": 20,
            },
        ],
        shadow="challenger",
        rows_per_request=50,
        inference_log=str(tmp_path / "log"),
        labels=str(tmp_path / "labels"),
        predictions=str(tmp_path / "predictions"),
        **extra,
    )


@pytest.mark.slow  # registers two MLflow models and scores four months of the CDNOW sample
def test_replay_writes_a_routed_shadowed_log_and_labels_where_the_horizon_passed(
    tmp_path, registered, sample_orders, duckdb_engine
):
    import mlflow.pyfunc

    result = replay(config(tmp_path))
    assert result.cutoffs == [
        date(1998, 3, 31),
        date(1998, 4, 30),
        date(1998, 5, 31),
        date(1998, 6, 30),
    ]
    assert result.labelled_cutoffs == [date(1998, 3, 31), date(1998, 4, 30)]

    log = read_inference_log(tmp_path / "log")
    assert log.schema.equals(SCHEMA)
    assert log.num_rows == result.log_rows
    frame = log.to_pandas()
    assert set(frame["model_version"]) == {"1", "2"} and (frame["status_code"] == 200).all()

    # Unpacking the JSON as a monitor would gives back the predictions table, row for row.
    unpacked = []
    for row in frame.itertuples():
        preds = json.loads(row.response)["predictions"]
        for req, out in zip(json.loads(row.request), preds, strict=True):
            unpacked.append(
                (
                    row.databricks_request_id,
                    req["customer_id"],
                    row.is_shadow,
                    out["probability"],
                    req["total_spent"],
                )
            )
    preds = result.predictions.to_pandas()
    direct = list(
        zip(
            preds["request_id"],
            preds["customer_id"],
            preds["is_shadow"],
            preds["probability"],
            preds["total_spent"],
            strict=True,
        )
    )
    assert sorted(unpacked) == sorted(direct)
    assert result.predictions.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert result.predictions.schema.field("orders_90d").type == pa.float64()

    # Every customer known at a month end is scored live once, on its sticky arm.
    router = TrafficRouter([("champion", 80), ("challenger", 20)])
    live = preds[~preds["is_shadow"]]
    for cutoff in result.cutoffs:
        month = live[live["date"] == cutoff]
        known = duckdb_engine.to_arrow(compute_customer_features(sample_orders, cutoff))
        assert sorted(month["customer_id"]) == sorted(known["customer_id"].to_pylist())
    assert (live["served_entity_name"] == live["customer_id"].map(router.choose)).all()
    counts = live.groupby("served_entity_name")["customer_id"].nunique().to_dict()
    assert sample_ratio_mismatch(counts, {"champion": 80, "challenger": 20})[1] > 0.001
    # The challenger shadow-scores exactly the champion's customers.
    shadow = preds[preds["is_shadow"]]
    assert (shadow["served_entity_name"] == "challenger").all()
    champ = live[live["served_entity_name"] == "champion"]
    assert sorted(zip(shadow["customer_id"], shadow["date"], strict=True)) == sorted(
        zip(champ["customer_id"], champ["date"], strict=True)
    )

    # The logged probabilities are the registered model's on features as of that month end.
    cutoff = date(1998, 5, 31)
    feats = duckdb_engine.to_arrow(compute_customer_features(sample_orders, cutoff)).to_pandas()
    model = mlflow.pyfunc.load_model("models:/churn@challenger")
    expect = pd.Series(
        np.asarray(model.predict(feats[list(FEATURE_COLUMNS)])["probability"]),
        index=feats["customer_id"],
    )
    got = preds[(preds["date"] == cutoff) & (preds["served_entity_name"] == "challenger")]
    np.testing.assert_allclose(got["probability"], expect[got["customer_id"]], rtol=1e-12)

    # Labels only where the horizon has passed, equal to the label definition.
    labels = result.labels.to_pandas()
    assert result.labels.schema.field("churn").type == pa.int64()
    assert sorted(set(labels["cutoff"])) == result.labelled_cutoffs
    april = duckdb_engine.to_arrow(compute_labels(sample_orders, date(1998, 4, 30), 60))
    got_april = labels[labels["cutoff"] == date(1998, 4, 30)].sort_values("customer_id")
    want = april.to_pandas().sort_values("customer_id")
    assert got_april["churn"].tolist() == want["churn"].tolist()

    # The cohort ages: recency drifts upward month after month, no injection needed.
    recency = live.groupby("date")["days_since_last_order"].mean()
    assert recency.is_monotonic_increasing

    # The A/B analysis reads it as it is: paired by the shadow, labelled months only.
    cfg = ABConfig(
        control="champion",
        treatment="challenger",
        n_bootstrap=200,
        expected_split={"champion": 80, "challenger": 20},
        max_label_age_days=0,
    )
    report = analyze_ab(preds, labels, cfg)
    assert report.paired and not report.srm["alarm"]
    labelled_champ = champ[champ["date"].isin(result.labelled_cutoffs)]
    assert report.comparisons["n_control"].iloc[0] == len(labelled_champ)


def test_replay_config_names_a_bad_split_and_an_unknown_shadow(tmp_path):
    good = config(tmp_path).model_dump()
    one_arm = [{"name": "champion", "model_uri": "m", "traffic_percentage": 90}]
    with pytest.raises(ValueError, match="traffic percentages sum to 90, expected 100"):
        ReplayConfig.model_validate({**good, "arms": one_arm, "shadow": None})
    with pytest.raises(ValueError, match="shadow='nobody': expected one of the arms"):
        ReplayConfig.model_validate({**good, "shadow": "nobody"})


def test_the_shipped_replay_config_loads_and_refuses_a_typo():
    from churnops.config import CONFIG_DIR, ConfigError, load_config

    path = CONFIG_DIR / "monitor" / "replay_cdnow.yaml"
    cfg = load_config(ReplayConfig, path)
    assert cfg.start == date(1997, 6, 30) and cfg.end == date(1998, 6, 30)
    assert [a.traffic_percentage for a in cfg.arms] == [80, 20] and cfg.shadow == "challenger"
    with pytest.raises(ConfigError, match="horizon_day"):
        load_config(ReplayConfig, path, ["horizon_day=90"])


@pytest.mark.slow  # two replays of four months of the CDNOW sample
def test_replay_streamed_in_small_batches_writes_the_same_log(
    tmp_path, registered, sample_orders, duckdb_engine, monkeypatch
):
    import churnops.scenarios.replay as replay_mod

    whole = replay(config(tmp_path / "whole"))  # every month in one batch
    # Batches of 37 rows: requests of 50 rows span batches, and an arm's rows are split.
    monkeypatch.setattr(replay_mod, "BATCH_ROWS", 37)
    batched = replay(config(tmp_path / "batched"))
    assert (batched.log_rows, batched.prediction_rows) == (whole.log_rows, whole.prediction_rows)

    def requests(result_dir):
        log = read_inference_log(str(result_dir / "log")).to_pandas()
        return sorted(
            zip(log["databricks_request_id"], log["num_rows"], log["request"], strict=True)
        )

    assert requests(tmp_path / "batched") == requests(tmp_path / "whole")
    keys = ["request_id", "customer_id", "is_shadow"]
    a = batched.predictions.sort_by([(k, "ascending") for k in keys])
    b = whole.predictions.sort_by([(k, "ascending") for k in keys])
    assert a.schema.equals(b.schema) and a.num_rows == b.num_rows
    for name in a.column_names:  # the model's floats may differ in the last bits by batch shape
        if pa.types.is_floating(a[name].type):
            np.testing.assert_allclose(a[name].to_numpy(), b[name].to_numpy(), rtol=1e-9)
        else:
            assert a[name].equals(b[name]), name
    order = [("customer_id", "ascending"), ("cutoff", "ascending")]
    assert batched.labels.sort_by(order).equals(whole.labels.sort_by(order))


def test_the_log_file_becomes_the_table_as_it_is(tmp_path):
    """A log row holds a whole request (1,000 customers' features at 10M customers): delta-rs's
    own write gathered the whole log and overflowed Arrow's string offsets. The replay's file
    is committed as it is, with its bounded row groups, in one commit."""
    import pyarrow.parquet as pq

    import churnops.scenarios.replay as replay_mod
    from churnops.data.delta_tables import open_table, read_table

    rows = pa.table({"n": range(200), "request": ["x" * 100_000 + str(i) for i in range(200)]})
    pq.write_table(rows, tmp_path / "log.parquet", row_group_size=10)
    replay_mod._write_delta(tmp_path / "log.parquet", str(tmp_path / "table"), "overwrite")
    table = open_table(str(tmp_path / "table"))
    assert table.version() == 0 and read_table(table).equals(rows)
    (file,) = (tmp_path / "table").glob("*.parquet")
    assert pq.ParquetFile(file).metadata.num_row_groups == 20

    more = pa.table({"n": [200], "request": ["y"]})
    pq.write_table(more, tmp_path / "more.parquet")
    replay_mod._write_delta(tmp_path / "more.parquet", str(tmp_path / "table"), "append")
    assert read_table(open_table(str(tmp_path / "table"))).num_rows == 201
