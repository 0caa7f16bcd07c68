import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from churnops.data.schema import ORDERS_SCHEMA
from churnops.data.sources import SourceConfig, prepare_orders
from churnops.data.sources.synthetic import BLOCK, generate_orders


def test_same_seed_same_orders_other_seed_other_orders(tmp_path):
    generate_orders(tmp_path / "a.parquet", customers=3_000, seed=7)
    generate_orders(tmp_path / "b.parquet", customers=3_000, seed=7)
    generate_orders(tmp_path / "c.parquet", customers=3_000, seed=8)
    a, b, c = (pq.read_table(tmp_path / f"{n}.parquet") for n in "abc")
    assert a.equals(b)
    assert not a.equals(c)


def test_customer_count_and_schema(tmp_path):
    generate_orders(tmp_path / "o.parquet", customers=2_500, seed=0)
    orders = pq.read_table(tmp_path / "o.parquet")
    assert orders.schema.equals(ORDERS_SCHEMA, check_metadata=False)
    assert len(set(orders["customer_id"].to_pylist())) == 2_500
    assert len(set(orders["order_id"].to_pylist())) == orders.num_rows  # one order per day


def test_a_smaller_run_is_a_prefix_of_a_larger_one(tmp_path):
    # Blocks are seeded independently, so the first customers do not depend on the run's size.
    generate_orders(tmp_path / "small.parquet", customers=1_000, seed=1)
    generate_orders(tmp_path / "large.parquet", customers=BLOCK + 10, seed=1)
    small = pq.read_table(tmp_path / "small.parquet")
    large = pq.read_table(tmp_path / "large.parquet")
    assert large.slice(0, small.num_rows).equals(small)


def test_orders_target_stops_at_a_customer_boundary(tmp_path):
    n = generate_orders(tmp_path / "o.parquet", orders=50_000, seed=0)
    orders = pq.read_table(tmp_path / "o.parquet")
    assert n == orders.num_rows >= 50_000
    last = orders["customer_id"][n - 1].as_py()
    first_of_last = orders["customer_id"].to_pylist().index(last)
    assert first_of_last < 50_000  # the last customer started before the target was reached


def test_purchase_counts_are_heavy_tailed_and_seasonal(tmp_path):
    generate_orders(tmp_path / "o.parquet", customers=10_000, seed=0)
    path = str(tmp_path / "o.parquet")
    counts = np.array(
        [r[0] for r in duckdb.sql(f"SELECT count(*) FROM '{path}' GROUP BY customer_id").fetchall()]
    )
    assert np.median(counts) <= 3 and np.quantile(counts, 0.99) > 10 * np.median(counts)
    by_month = dict(
        duckdb.sql(f"SELECT month(order_date), count(*) FROM '{path}' GROUP BY 1").fetchall()
    )
    assert by_month[12] > 1.5 * by_month[6]


def test_labels_carry_signal_recent_buyers_churn_less(tmp_path, duckdb_engine):
    from churnops.data.features import compute_customer_features, compute_labels

    generate_orders(tmp_path / "o.parquet", customers=10_000, seed=0)
    orders = duckdb_engine.read_parquet(tmp_path / "o.parquet")
    feats = duckdb_engine.to_arrow(compute_customer_features(orders, "2024-12-31")).to_pandas()
    labels = duckdb_engine.to_arrow(compute_labels(orders, "2024-12-31", 180)).to_pandas()
    df = feats.merge(labels, on="customer_id")
    assert 0.3 < df.churn.mean() < 0.9
    recent = df.days_since_last_order < df.days_since_last_order.median()
    assert df[recent].churn.mean() < df[~recent].churn.mean() - 0.2


def test_synthetic_source_is_generated_on_first_use(tmp_path):
    cfg = SourceConfig(kind="synthetic", customers=500, seed=3, path=str(tmp_path / "syn.parquet"))
    report = prepare_orders(cfg, tmp_path / "orders.parquet")
    assert (tmp_path / "syn.parquet").exists() and report.orders == report.rows_read > 500


def test_synthetic_source_needs_a_size(tmp_path):
    with pytest.raises(ValueError, match="'customers' or 'orders'"):
        prepare_orders(SourceConfig(kind="synthetic"), tmp_path / "o.parquet")
