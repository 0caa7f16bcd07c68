"""Orders sources on `s3://` (moto's S3 server): CSV, Parquet folders and Delta tables."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnops.data import storage
from churnops.data.delta_tables import write_table
from churnops.data.sources import ColumnMapping, SourceConfig, SourceError, prepare_orders

MAPPING = ColumnMapping(customer_id="cust", order_date="day", amount="value", quantity="qty")


def _orders(out):
    rows = pq.read_table(out).to_pylist()
    return sorted((o["customer_id"], str(o["order_date"]), o["amount"]) for o in rows)


def test_csv_on_s3_with_bad_rows_reported(s3_storage, tmp_path):
    uri = storage.join(s3_storage.root, "raw", "orders.csv")
    storage.write_bytes_atomic(uri, b"cust,day,value,qty\na,2024-01-01,10,1\nb,bad,3,1\n")
    report = prepare_orders(SourceConfig(kind="csv", path=uri, columns=MAPPING), tmp_path / "o.pq")
    assert (report.rows_read, report.rows_accepted) == (2, 1)
    assert report.rejected == {"unparseable order_date": 1}
    assert _orders(tmp_path / "o.pq") == [("a", "2024-01-01", 10.0)]


def test_parquet_folder_and_delta_table_on_s3(s3_storage, tmp_path):
    raw = pa.table({"cust": ["a", "b"], "day": ["2024-01-01", "2024-01-02"],
                    "value": [1.0, 2.0], "qty": [1, 1]})  # fmt: skip
    folder = storage.join(s3_storage.root, "raw", "parquet")
    storage.write_parquet_atomic(raw.slice(0, 1), storage.join(folder, "part-0.parquet"))
    storage.write_parquet_atomic(raw.slice(1), storage.join(folder, "part-1.parquet"))
    prepare_orders(SourceConfig(kind="parquet", path=folder, columns=MAPPING), tmp_path / "p.pq")
    expected = [("a", "2024-01-01", 1.0), ("b", "2024-01-02", 2.0)]
    assert _orders(tmp_path / "p.pq") == expected
    table = storage.join(s3_storage.root, "raw", "delta")
    write_table(table, raw)
    prepare_orders(SourceConfig(kind="delta", path=table, columns=MAPPING), tmp_path / "d.pq")
    assert _orders(tmp_path / "d.pq") == expected


def test_missing_object_and_bad_header_name_the_uri(s3_storage, tmp_path):
    missing = storage.join(s3_storage.root, "nothing.csv")
    with pytest.raises(SourceError, match=f"'{missing}' .*does not exist"):
        prepare_orders(SourceConfig(kind="csv", path=missing), tmp_path / "o.pq")
    uri = storage.join(s3_storage.root, "dup.csv")
    storage.write_bytes_atomic(uri, b"a,a\n1,2\n")
    with pytest.raises(SourceError, match=f"csv '{uri}': header"):
        prepare_orders(SourceConfig(kind="csv", path=uri), tmp_path / "o.pq")
    assert not (tmp_path / "o.pq").exists()
