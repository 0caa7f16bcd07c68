from datetime import date

import pytest

from churnops.data.features import FEATURE_COLUMNS, compute_customer_features

from .timelines import orders_table

ORDERS = orders_table(
    [
        ("a", "2024-01-01", 10, 1),
        ("a", "2024-03-01", 20, 2),  # gap 60
        ("a", "2024-06-20", 30, 3),  # gap 111; within 30/90/180 days of the cutoff
        ("a", "2024-07-15", 999, 9),  # after the cutoff: must not leak into any feature
        ("b", "2024-06-30", 5, 1),  # exactly at the cutoff: counts
    ]
)
AS_OF = date(2024, 6, 30)


def _features(engine):
    out = engine.to_arrow(compute_customer_features(engine.from_arrow(ORDERS), AS_OF))
    return {r["customer_id"]: r for r in out.to_pylist()}


def test_hand_computed_values(engine):
    a = _features(engine)["a"]
    assert a["total_orders"] == 3 and a["active_days"] == 3
    assert a["total_spent"] == pytest.approx(60.0)
    assert a["avg_order_value"] == pytest.approx(20.0)
    assert a["days_since_last_order"] == 10
    assert a["tenure_days"] == 181  # 2024 is a leap year
    assert a["mean_days_between_orders"] == pytest.approx((60 + 111) / 2)
    assert a["std_days_between_orders"] == pytest.approx(51 / 2**0.5, rel=1e-12)
    assert a["max_days_between_orders"] == 111
    assert (a["orders_30d"], a["orders_90d"], a["orders_180d"]) == (1, 1, 2)
    assert (a["spent_30d"], a["spent_90d"], a["spent_180d"]) == (30.0, 30.0, 50.0)
    assert a["total_quantity"] == 6 and a["avg_quantity_per_order"] == pytest.approx(2.0)
    assert a["max_order_value"] == 30.0


def test_an_order_on_the_cutoff_day_counts_and_one_order_has_no_gaps(engine):
    b = _features(engine)["b"]
    assert b["total_orders"] == 1 and b["days_since_last_order"] == 0
    assert b["mean_days_between_orders"] is None and b["std_days_between_orders"] is None


def test_columns_and_as_of(engine):
    out = engine.to_arrow(compute_customer_features(engine.from_arrow(ORDERS), AS_OF))
    assert out.column_names == ["customer_id", "as_of", *FEATURE_COLUMNS]
    assert set(out["as_of"].to_pylist()) == {AS_OF}


def test_customers_without_history_at_the_cutoff_are_absent(duckdb_engine):
    out = duckdb_engine.to_arrow(
        compute_customer_features(duckdb_engine.from_arrow(ORDERS), date(2024, 2, 1))
    )
    assert out["customer_id"].to_pylist() == ["a"]
    assert out["total_orders"].to_pylist() == [1]
