"""One labelling rule, two joins: the refresh's (in the engine) and the A/B and estimate one (in
pandas) judge every prediction by the same label row, on both engines."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from churnops.data.engines.api import dataframe_api
from churnops.monitoring.labels import join_labels, join_labels_query

UTC = dt.UTC

# (customer, prediction time): late in the day, before any label, after two cutoffs, a customer
# without labels, one whose label row is repeated, and one whose cutoff is a month stale.
PREDICTIONS = [
    ("a", dt.datetime(1997, 3, 31, 23, 0, tzinfo=UTC)),
    ("a", dt.datetime(1997, 5, 31, 1, 0, tzinfo=UTC)),
    ("b", dt.datetime(1997, 3, 31, tzinfo=UTC)),
    ("c", dt.datetime(1997, 3, 31, tzinfo=UTC)),
    ("d", dt.datetime(1997, 4, 30, 5, tzinfo=UTC)),
    ("e", dt.datetime(1997, 5, 2, tzinfo=UTC)),
]
LABELS = [  # (customer, cutoff, churn)
    ("a", dt.date(1997, 3, 31), 1),
    ("a", dt.date(1997, 4, 30), 0),
    ("b", dt.date(1997, 4, 30), 1),
    ("d", dt.date(1997, 4, 30), 0),
    ("d", dt.date(1997, 4, 30), 1),  # repeated (customer, cutoff): counts once, churned
    ("e", dt.date(1997, 4, 1), 0),
]


def _engine_labels(engine, max_age: int | None) -> list:
    preds = engine.from_arrow(
        pa.table(
            {
                "customer_id": [c for c, _ in PREDICTIONS],
                "ts": pa.array([t for _, t in PREDICTIONS], pa.timestamp("us", tz="UTC")),
                "row": list(range(len(PREDICTIONS))),
            }
        )
    )
    labels = engine.from_arrow(
        pa.table(
            {
                "customer_id": [c for c, _, _ in LABELS],
                "cutoff": [d for _, d, _ in LABELS],
                "churn": [y for _, _, y in LABELS],
            }
        )
    )
    F, _ = dataframe_api(preds)
    labels = labels.withColumn("_y", F.col("churn"))
    joined = join_labels_query(preds, labels, "customer_id", "ts", "cutoff", max_age)
    out = engine.to_arrow(joined.select("row", "_label")).to_pandas().sort_values("row")
    return [None if pd.isna(v) else int(v) for v in out["_label"]]


def _pandas_labels(max_age: int | None) -> list:
    preds = pd.DataFrame(
        {"customer_id": [c for c, _ in PREDICTIONS], "date": [t.date() for _, t in PREDICTIONS]}
    )
    labels = pd.DataFrame(LABELS, columns=["customer_id", "cutoff", "churn"])
    out = join_labels(preds, labels, max_label_age_days=max_age)
    return [None if pd.isna(v) else int(v) for v in out["churn"]]


def test_engine_and_pandas_joins_judge_each_prediction_alike(engine):
    for max_age in (None, 10):
        assert _engine_labels(engine, max_age) == _pandas_labels(max_age), max_age
    # One row per prediction, whatever the labels repeat; e's month-old label only without a
    # maximum age.
    assert _pandas_labels(None) == [1, 0, None, None, 1, 0]
    assert _pandas_labels(10) == [1, None, None, None, 1, None]


def test_join_labels_uses_latest_cutoff_on_or_before_the_prediction_day():
    preds = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "date": [
                dt.date(1997, 3, 31),
                dt.date(1997, 5, 31),
                dt.date(1997, 3, 31),
                dt.date(1997, 3, 31),
            ],
        }
    )
    labels = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "cutoff": [dt.date(1997, 3, 31), dt.date(1997, 4, 30), dt.date(1997, 4, 30)],
            "churn": [1, 0, 1],
        }
    )
    out = join_labels(preds, labels)
    assert out["churn"].tolist() == [1, 0, pd.NA, pd.NA]  # b's label is after its prediction
    stale = join_labels(preds, labels, max_label_age_days=10)
    assert stale["churn"].tolist() == [1, pd.NA, pd.NA, pd.NA]  # April's label is 31 days old
