import pyarrow.parquet as pq

from churnops.data.schema import ORDERS_SCHEMA
from churnops.data.sources import SourceConfig, prepare_orders


def test_cdnow_master_loads_as_canonical_orders(cdnow_orders):
    orders = pq.read_table(cdnow_orders)
    assert orders.schema.equals(ORDERS_SCHEMA, check_metadata=False)
    # SOURCES.md: 69,659 rows make 67,591 customer-day orders of 23,570 customers.
    assert orders.num_rows == 67_591
    assert len(set(orders["customer_id"].to_pylist())) == 23_570
    assert len(set(orders["order_id"].to_pylist())) == 67_591


def test_cdnow_ids_keep_their_zero_padding_and_order_ids_are_customer_plus_day(cdnow_orders):
    first = pq.read_table(cdnow_orders).slice(0, 1).to_pylist()[0]
    assert first["customer_id"] == "00001"
    assert first["order_id"] == "00001:19970101"
    assert first["amount"] == 11.77 and first["quantity"] == 1


def test_cdnow_same_day_rows_make_one_order(cdnow_orders):
    # Customer 00002 bought twice on 1997-01-12 (1 CD for 12.00 and 5 for 77.00).
    rows = [r for r in pq.read_table(cdnow_orders).to_pylist() if r["customer_id"] == "00002"]
    assert len(rows) == 1
    assert rows[0]["amount"] == 89.0 and rows[0]["quantity"] == 6


def test_cdnow_sample_variant(tmp_path):
    report = prepare_orders(SourceConfig(kind="cdnow", variant="sample"), tmp_path / "s.parquet")
    assert report.rows_read == 6_919 and not report.rejected
    assert len(set(pq.read_table(tmp_path / "s.parquet")["customer_id"].to_pylist())) == 2_357
