"""Clean orders written one customer range at a time are the file one sort would write."""

from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnops.data.sources import ColumnMapping, SourceConfig, prepare_orders, sorted_orders

MAPPING = ColumnMapping(customer_id="cust", order_date="day", amount="value", quantity="qty")


def _orders(path, n=3000):
    # Ids that sort as text, not as numbers, with a quote and non-ASCII ones among them; two
    # rows of one customer and day that make one order; rows out of order.
    custs = [f"c{(i * 7919) % 401}" for i in range(n)] + ["o'neil", "zoë", "Ärger", "c0"]
    days = [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)] + ["2024-01-01"] * 4
    pq.write_table(
        pa.table({"cust": custs, "day": days, "value": [1.5] * (n + 4), "qty": [1] * (n + 4)}),
        path,
    )


@pytest.mark.parametrize("rows_per_range", [1, 250, 1000])
def test_ranges_write_the_file_one_sort_writes(tmp_path, monkeypatch, rows_per_range):
    src = tmp_path / "raw.parquet"
    _orders(src)
    cfg = SourceConfig(kind="parquet", path=str(src), columns=MAPPING)
    monkeypatch.setenv("CHURNOPS_ORDERS_CACHE", "off")
    one = prepare_orders(cfg, tmp_path / "one.parquet")

    monkeypatch.setattr(sorted_orders, "ROWS_PER_RANGE", rows_per_range)
    ranged = prepare_orders(cfg, tmp_path / "ranged.parquet")

    assert ranged.orders == one.orders < one.rows_accepted  # same-day rows merged
    expected = pq.read_table(tmp_path / "one.parquet")
    got = pq.read_table(tmp_path / "ranged.parquet")
    assert got.column_names == expected.column_names
    assert got.to_pylist() == expected.to_pylist()  # same rows in the same (sorted) order
    keys = [(r["customer_id"], r["order_date"]) for r in got.to_pylist()]
    assert keys == sorted(keys)
    left = [p.name for p in tmp_path.iterdir() if "ranges" in p.name or ".tmp-" in p.name]
    assert not left  # no range folder or temporary file left behind


def test_numbers_get_the_verdicts_of_their_text(tmp_path, monkeypatch):
    """Numeric columns are cast directly, with the verdicts their text had: NaN and inf
    refused, a decimal amount kept exactly, a fractional quantity rounded as text rounds."""
    src = tmp_path / "raw.parquet"
    pq.write_table(
        pa.table(
            {
                "cust": ["a", "b", "c", "d", "e"],
                "day": ["2024-01-01"] * 5,
                "value": pa.array([Decimal(v) for v in ("10.25", "20", "30", "40.1", "50")]),
                "qty": [1.0, 2.5, float("nan"), 3.0, float("inf")],
            }
        ),
        src,
    )
    monkeypatch.setenv("CHURNOPS_ORDERS_CACHE", "off")
    out = tmp_path / "orders.parquet"
    report = prepare_orders(SourceConfig(kind="parquet", path=str(src), columns=MAPPING), out)
    assert report.rejected == {"non-numeric quantity": 2}
    rows = pq.read_table(out).to_pylist()
    assert [(r["customer_id"], r["amount"], r["quantity"]) for r in rows] == [
        ("a", 10.25, 1),
        ("b", 20.0, 3),
        ("d", 40.1, 3),
    ]
