from datetime import date

import pytest

from churnops.data.features import compute_labels

from .timelines import CUTOFF, HORIZON, LABEL_TIMELINES


def _labels(engine, table):
    out = engine.to_arrow(compute_labels(engine.from_arrow(table), CUTOFF, HORIZON))
    return {r["customer_id"]: r for r in out.to_pylist()}


def test_labels_on_hand_made_timelines(engine):
    labels = _labels(engine, LABEL_TIMELINES)
    assert {k: v["churn"] for k, v in labels.items()} == {
        "at_cutoff": 1,
        "at_horizon_end": 0,
        "just_after": 1,
        "day_after_cutoff": 0,
    }
    assert all(v["cutoff"] == date(2024, 6, 30) for v in labels.values())


def test_labels_frame_has_the_seed_columns(engine):
    out = engine.to_arrow(compute_labels(engine.from_arrow(LABEL_TIMELINES), CUTOFF, HORIZON))
    assert out.column_names == ["customer_id", "cutoff", "churn"]


def test_horizon_must_be_positive(duckdb_engine):
    with pytest.raises(ValueError, match="horizon_days=0"):
        compute_labels(duckdb_engine.from_arrow(LABEL_TIMELINES), CUTOFF, 0)


def test_cdnow_churn_rate_is_in_the_documented_range(cdnow_orders, duckdb_engine):
    orders = duckdb_engine.read_parquet(cdnow_orders)
    churn = duckdb_engine.to_arrow(compute_labels(orders, "1997-09-30", 180))["churn"].to_numpy()
    assert len(churn) == 23_570  # everyone bought in Q1 1997
    assert 0.73 < churn.mean() < 0.78  # SOURCES.md: 74-77% depending on the cutoff
