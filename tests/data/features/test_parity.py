"""The same feature and label definitions give the same results on DuckDB and Spark."""

import pytest

from churnops.data.features import compute_customer_features, compute_labels
from churnops.data.features.parity import compare_frames
from churnops.data.sources.synthetic import generate_orders

pytestmark = pytest.mark.spark


def _both(duckdb_engine, spark_engine, path, fn):
    return (e.to_arrow(fn(e.read_parquet(path))) for e in (duckdb_engine, spark_engine))


def test_cdnow_features_and_labels_match_across_engines(cdnow_orders, duckdb_engine, spark_engine):
    ours, spark = _both(
        duckdb_engine,
        spark_engine,
        cdnow_orders,
        lambda o: compute_customer_features(o, "1997-09-30"),
    )
    assert ours.num_rows == 23_570
    assert compare_frames(ours, spark) == []
    ours, spark = _both(
        duckdb_engine, spark_engine, cdnow_orders, lambda o: compute_labels(o, "1997-09-30", 180)
    )
    assert compare_frames(ours, spark) == []


def test_synthetic_features_match_across_engines(tmp_path, duckdb_engine, spark_engine):
    path = tmp_path / "orders.parquet"
    generate_orders(path, customers=5_000, seed=11)
    ours, spark = _both(
        duckdb_engine, spark_engine, path, lambda o: compute_customer_features(o, "2024-10-31")
    )
    assert ours.num_rows > 1_000
    assert compare_frames(ours, spark) == []


def test_compare_frames_reports_a_difference(cdnow_orders, duckdb_engine):
    import pyarrow as pa
    import pyarrow.compute as pc

    ours = duckdb_engine.to_arrow(
        compute_customer_features(duckdb_engine.read_parquet(cdnow_orders), "1997-09-30")
    )
    i = ours.column_names.index("total_spent")
    nudged = ours.set_column(i, "total_spent", pc.multiply(ours["total_spent"], 1 + 1e-6))
    [problem] = compare_frames(ours, nudged)
    assert problem.startswith("total_spent: 23500 values differ")  # all but the zero spenders
    fewer = ours.slice(1)
    assert compare_frames(ours, fewer) == ["row counts differ: 23570 != 23569"]
    assert compare_frames(ours, pa.table({"customer_id": ["x"]}))[0].startswith("columns differ")
