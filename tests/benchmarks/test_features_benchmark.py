import json

import duckdb

from churnops.benchmarks.features import AS_OF, main, reference_sql
from churnops.data.features import FEATURE_COLUMNS


def test_reference_sql_has_the_feature_columns(tmp_path):
    from churnops.data.sources.synthetic import generate_orders

    path = tmp_path / "o.parquet"
    generate_orders(path, customers=200)
    cols = duckdb.connect().sql(reference_sql(str(path), AS_OF)).columns
    assert cols == ["customer_id", "as_of", *FEATURE_COLUMNS]


def test_benchmark_writes_rows_with_the_documented_columns(tmp_path):
    code = main(
        ["--orders", "5000", "--engines", "duckdb", "--repeat", "1",
         "--data-dir", str(tmp_path), "--results-dir", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    rows = json.loads((tmp_path / "features.json").read_text())
    assert [r["case"] for r in rows] == ["duckdb-sql", "duckdb"]
    for row in rows:
        assert {"case", "orders", "seconds", "orders_per_s", "matches_reference"} <= set(row)
        assert row["matches_reference"] is True and row["orders"] >= 5000
        assert row["machine"] and row["date"]
    assert "| duckdb-sql |" in (tmp_path / "features.md").read_text()
