"""Generic CSV / Parquet / Delta sources: column mapping, bad rows, missing columns."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnops.data.sources import ColumnMapping, SourceConfig, SourceError, prepare_orders

MAPPING = ColumnMapping(customer_id="cust", order_date="day", amount="value", quantity="qty")

CSV_WITH_BAD_ROWS = """cust,day,value,qty
a,2024-01-01,10.5,1
a,2024-01-01,4.5,2
b,2024-02-03,7,1
,2024-02-04,3,1
c,not-a-date,3,1
d,2024-13-01,3,1
e,2024-02-05,abc,1
f,2024-02-06,,1
g,2024-02-07,1.0,x
"""


def test_csv_bad_rows_are_counted_sampled_and_kept(tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text(CSV_WITH_BAD_ROWS)
    out = tmp_path / "clean" / "orders.parquet"
    report = prepare_orders(SourceConfig(kind="csv", path=str(src), columns=MAPPING), out)

    assert report.rows_read == 9 and report.rows_accepted == 3
    assert report.rejected == {
        "null customer_id": 1,
        "unparseable order_date": 2,
        "non-numeric amount": 2,
        "non-numeric quantity": 1,
    }
    assert len(report.sample) == 5 and all(s["reject_reason"] for s in report.sample)
    # Nothing is silently dropped: every rejected row is in the rejects file, raw values intact.
    rejects = pq.read_table(report.rejects_path).to_pylist()
    assert sorted(r["cust"] or "" for r in rejects) == ["", "c", "d", "e", "f", "g"]
    assert json.loads(out.with_name("orders.report.json").read_text())["rows_rejected"] == 6

    orders = pq.read_table(out).to_pylist()
    assert [(o["customer_id"], o["amount"], o["quantity"]) for o in orders] == [
        ("a", 15.0, 3),
        ("b", 7.0, 1),
    ]


def test_missing_column_names_the_column_and_the_file(tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("cust,day,qty\na,2024-01-01,1\n")
    out = tmp_path / "orders.parquet"
    with pytest.raises(SourceError, match=r"'value'.*amount.*missing") as err:
        prepare_orders(SourceConfig(kind="csv", path=str(src), columns=MAPPING), out)
    assert str(src) in str(err.value)
    assert not out.exists()  # nothing half-written


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        prepare_orders(SourceConfig(kind="parquet", path=str(tmp_path / "x")), tmp_path / "o.pq")
    with pytest.raises(SourceError, match="needs 'path'"):
        prepare_orders(SourceConfig(kind="csv"), tmp_path / "o.parquet")


def _raw_table():
    return pa.table(
        {
            "cust": ["a", "a", "b"],
            "when": ["20240101", "20240105", "20240102"],
            "value": [1.0, 2.0, 3.0],
        }
    )


def test_parquet_source_with_mapping_date_format_and_no_quantity(tmp_path):
    src = tmp_path / "raw.parquet"
    pq.write_table(_raw_table(), src)
    mapping = ColumnMapping(customer_id="cust", order_date="when", amount="value", quantity=None)
    cfg = SourceConfig(kind="parquet", path=str(src), columns=mapping, date_format="%Y%m%d")
    report = prepare_orders(cfg, tmp_path / "o.parquet")
    assert report.orders == 3 and not report.rejected
    orders = pq.read_table(tmp_path / "o.parquet").to_pylist()
    assert {o["order_id"] for o in orders} == {"a:20240101", "a:20240105", "b:20240102"}
    assert all(o["quantity"] == 1 for o in orders)


def test_delta_source_with_order_id_column(tmp_path):
    from deltalake import write_deltalake

    table = pa.table(
        {
            "customer": ["a", "a", "b"],
            "order": ["o1", "o1", "o2"],  # two lines of one order
            "ts": pa.array([1_700_000_000_000_000] * 3, pa.timestamp("us")),
            "amount": [1.0, 2.0, 3.0],
            "quantity": [1, 1, 4],
        }
    )
    write_deltalake(str(tmp_path / "delta"), table)
    mapping = ColumnMapping(customer_id="customer", order_date="ts", order_id="order")
    cfg = SourceConfig(kind="delta", path=str(tmp_path / "delta"), columns=mapping)
    prepare_orders(cfg, tmp_path / "o.parquet")
    orders = sorted(pq.read_table(tmp_path / "o.parquet").to_pylist(), key=lambda o: o["order_id"])
    assert [(o["order_id"], o["amount"], o["quantity"]) for o in orders] == [
        ("o1", 3.0, 2),
        ("o2", 3.0, 4),
    ]


def test_a_folder_that_is_not_a_delta_table_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="not a Delta table"):
        prepare_orders(SourceConfig(kind="delta", path=str(tmp_path / "empty")), tmp_path / "o.pq")


def test_malformed_csv_lines_are_rejected_lines_in_the_report(tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text(
        "cust,day,value,qty\na,2024-01-01,10,1\nb,2024-01-02\nc,2024-01-03,5,1,9\n"
        'd,2024-01-04,7,1\ne,"2024-01-05,3,1\nf,2024-01-06,3,1\n'
    )
    out = tmp_path / "orders.parquet"
    report = prepare_orders(SourceConfig(kind="csv", path=str(src), columns=MAPPING), out)
    assert report.rejected == {
        "malformed csv line (missing columns)": 1,
        "malformed csv line (too many columns)": 1,
        "malformed csv line (unquoted value)": 1,  # the unclosed quote, on line 6
    }
    assert [m["line"] for m in report.malformed_lines] == [3, 4, 6]
    # The unclosed quote swallows the line after it: no phantom customer 'e' or 'f'.
    assert sorted(o["customer_id"] for o in pq.read_table(out).to_pylist()) == ["a", "d"]


def test_a_date_format_that_rejects_every_row_is_an_error_naming_it(tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("cust,day,value,qty\na,2024-01-01,10,1\nb,2024-01-02,5,1\n")
    out = tmp_path / "orders.parquet"
    cfg = SourceConfig(kind="csv", path=str(src), columns=MAPPING, date_format="%Y%m%d")
    with pytest.raises(SourceError, match=r"every row was rejected.*'2024-01-01'.*'%Y%m%d'"):
        prepare_orders(cfg, out)
    assert not out.exists()
