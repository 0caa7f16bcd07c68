"""batch_inference: every customer known at a day, features point-in-time, scored by alias."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from churnops.pipelines.tasks.batch import BatchInferenceInputs, batch_inference
from tests.pipelines.tasks.conftest import train_logistic

pytestmark = pytest.mark.slow


def test_scores_every_customer_known_at_the_day(run, features, duckdb_engine):
    from churnops.data.features import compute_labels

    train_logistic(run, features, alias="champion")
    out = batch_inference(
        BatchInferenceInputs(
            **run,
            orders_path=features.orders_path,
            as_of="1997-12-31",
            feature_store_root=features.feature_store_root,
        )
    )
    table = pq.read_table(out.predictions)
    orders = duckdb_engine.read_parquet(features.orders_path)
    known = duckdb_engine.to_arrow(compute_labels(orders, "1997-12-31", 1))
    assert out.rows == table.num_rows == known.num_rows
    assert table["customer_id"].to_pylist() == sorted(known["customer_id"].to_pylist())
    assert {"probability", "prediction", "total_orders"} <= set(table.column_names)
    assert out.model_version == "1"
    assert 0 < out.churn_rate < 1


def test_scores_from_the_store_the_features_task_wrote_by_default(tmp_path, run, features):
    # No feature_store_root: the local store under the tables root, where feature_engineering
    # writes it (here the features run's folder), as the batch_inference job relies on.
    from pathlib import Path

    train_logistic(run, features, alias="champion")
    out = batch_inference(
        BatchInferenceInputs(
            **run, tables_root=str(Path(features.feature_store_root).parent),
            orders_path=features.orders_path, as_of="1997-12-31",
            output=str(tmp_path / "predictions.parquet"),
        )
    )  # fmt: skip
    assert out.predictions == str(tmp_path / "predictions.parquet")
    assert out.rows == pq.read_table(out.predictions).num_rows > 0
