"""Customer tables: inferred types, label mapping, made ids, and every bad value counted."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnops.data.sources import SourceError
from churnops.data.sources.customers import (
    CustomerTableConfig,
    prepare_customers,
    read_customer_table,
)
from churnops.data.sources.telecom import CATEGORICAL, NUMERIC, generate_customer_table

MESSY = """id,plan,usage,age,label
a,gold,1.5,30,Yes
b,silver, ,41,no
c,gold,abc,25,TRUE
,gold,2.0,50,No
a,bronze,3.0,33,Yes
d,silver,4.0,,maybe
e,,5.0,61,0
f,gold,6.5
g,gold,7.0,29,1
"""


@pytest.fixture
def messy(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(MESSY)
    return path


def test_generated_telecom_table_reads_with_inferred_types(tmp_path):
    path = generate_customer_table(tmp_path / "telecom.csv", customers=400, seed=1)
    table = read_customer_table(
        CustomerTableConfig(path=str(path), id_column="customerID", label_column="Churn")
    )
    assert table.categorical == CATEGORICAL
    assert [c for c in table.feature_columns if c not in CATEGORICAL] == NUMERIC
    assert table.report.rows_read == table.report.rows_accepted == 400
    assert set(table.report.label_counts) == {0, 1}
    assert table.report.missing["TotalCharges"]["blank"] >= 1  # " " for new customers
    assert table.table.schema.field("Churn").type == pa.int64()
    assert table.table.schema.field("Contract").type == pa.string()
    assert table.table.schema.field("tenure").type == pa.float64()


def test_bad_rows_and_values_are_counted_by_reason_and_column(messy):
    table = read_customer_table(
        CustomerTableConfig(path=str(messy), id_column="id", label_column="label")
    )
    report = table.report
    assert report.columns == {"plan": "categorical", "usage": "numeric", "age": "numeric"}
    assert report.rejected == {
        "blank id": 1,
        "duplicate id": 1,  # the second 'a'; the first is kept
        "label not in label_values": 1,  # 'maybe'
        "malformed csv line (missing columns)": 1,  # 'f,gold,6.5'
    }
    assert report.rows_read == 9 and report.rows_accepted == 5
    assert report.malformed_lines[0]["line"] == 9
    assert report.missing == {
        "plan": {"blank": 1},
        "usage": {"blank": 1, "non-numeric, made missing": 1},
    }
    rows = table.table.to_pylist()
    assert [(r["id"], r["usage"], r["label"]) for r in rows] == [
        ("a", 1.5, 1), ("b", None, 0), ("c", None, 1), ("e", 5.0, 0), ("g", 7.0, 1),
    ]  # fmt: skip
    assert rows[3]["plan"] is None  # a blank category is missing, left to the encoder
    assert "usage: 1 blank, 1 non-numeric, made missing" in report.summary()


def test_reject_policy_drops_rows_with_unparseable_numbers(messy):
    cfg = CustomerTableConfig(
        path=str(messy), id_column="id", label_column="label", invalid_values="reject"
    )
    table = read_customer_table(cfg)
    assert table.report.rejected["non-numeric usage"] == 1
    assert "c" not in table.table["id"].to_pylist()
    assert table.report.missing["usage"] == {"blank": 1}


def test_ids_are_made_when_missing_and_an_id_may_be_a_feature(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("zip,spend,churn\n10115,3.5,yes\n80331,4.0,no\n")
    made = read_customer_table(CustomerTableConfig(path=str(path), id_column=None))
    assert made.table.column_names == ["customer_id", "zip", "spend", "churn"]
    assert made.table["customer_id"].to_pylist() == ["1", "2"]
    assert made.report.id_made
    both = read_customer_table(
        CustomerTableConfig(path=str(path), id_column="zip", features=["zip", "spend"])
    )
    assert both.table.column_names == ["zip", "spend", "churn"]  # one column serves both
    assert both.feature_columns == ["zip", "spend"]


def test_custom_label_values_and_forced_types(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "seg": [1, 2], "status": ["gone", "active"]}), path)
    cfg = CustomerTableConfig(
        kind="parquet", path=str(path), id_column="id", label_column="status",
        label_values={"gone": 1, "active": 0}, categorical=["seg"],
    )  # fmt: skip
    table = read_customer_table(cfg)
    assert table.report.columns == {"seg": "categorical"}
    assert table.table["seg"].to_pylist() == ["1", "2"]
    assert table.table["status"].to_pylist() == [1, 0]


def test_no_row_left_names_the_label_values(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("customer_id,x,churn\na,1,churned\nb,2,stayed\n")
    with pytest.raises(SourceError, match=r"holds \['churned', 'stayed'\].*label_values"):
        read_customer_table(CustomerTableConfig(path=str(path)))


def test_missing_column_and_non_parquet_are_clear_errors(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("customer_id,x,churn\na,1,1\n")
    with pytest.raises(SourceError, match=r"\['Churn'\] not found; columns are"):
        read_customer_table(CustomerTableConfig(path=str(path), label_column="Churn"))
    with pytest.raises(SourceError, match=r"not readable as Parquet.*kind: csv"):
        read_customer_table(CustomerTableConfig(kind="parquet", path=str(path)))


def test_prepare_writes_clean_parquet_and_its_report(messy, tmp_path):
    out = tmp_path / "clean" / "customers.parquet"
    report = prepare_customers(
        CustomerTableConfig(path=str(messy), id_column="id", label_column="label"), out
    )
    assert pq.read_table(out).num_rows == report.rows_accepted == 5
    saved = json.loads(out.with_name("customers.report.json").read_text())
    assert saved["rows_rejected"] == 4 and saved["columns"]["plan"] == "categorical"


def test_delta_and_feature_store_tables_read_as_customer_tables(tmp_path):
    from deltalake import write_deltalake

    from churnops.data.feature_store.local import LocalFeatureStore

    rows = pa.table({"customer_id": ["a", "b", "c"], "plan": ["x", "y", None],
                     "spend": [1.0, None, 3.0], "churn": [1, 0, 1]})  # fmt: skip
    write_deltalake(tmp_path / "delta", rows)
    delta = read_customer_table(CustomerTableConfig(kind="delta", path=str(tmp_path / "delta")))
    assert delta.report.columns == {"plan": "categorical", "spend": "numeric"}
    assert delta.table["churn"].to_pylist() == [1, 0, 1]

    store = LocalFeatureStore(tmp_path / "store")
    store.create_table("main.crm.customers", primary_keys="customer_id", df=rows)
    table = read_customer_table(
        CustomerTableConfig(
            kind="table", path="main.crm.customers", store_root=str(tmp_path / "store")
        )
    )
    assert sorted(table.table["customer_id"].to_pylist()) == ["a", "b", "c"]
    assert table.report.missing == {"plan": {"blank": 1}, "spend": {"blank": 1}}
    with pytest.raises(SourceError, match=r"main\.crm\.nope"):
        read_customer_table(
            CustomerTableConfig(
                kind="table", path="main.crm.nope", store_root=str(tmp_path / "store")
            )
        )


def test_thousands_separators_are_numbers_and_a_blank_column_is_no_feature(tmp_path):
    # As spreadsheets export them: "1,889.5" quoted in a comma CSV, bare with ";" as delimiter;
    # a column blank in every row (one space) is reported, not made a categorical feature.
    rows = ["a;1,889.5;5; ;Yes", "b;42.0;6; ;No", "c; ;7; ;No", "d;-12,000,001;8; ;Yes"]
    path = tmp_path / "t.csv"
    path.write_text("id;total;tenure;notes;churn\n" + "\n".join(rows) + "\n")
    read = read_customer_table(CustomerTableConfig(path=str(path), id_column="id",
                                                   delimiter=";"))  # fmt: skip
    assert read.report.columns == {"total": "numeric", "tenure": "numeric"}
    assert read.table["total"].to_pylist() == [1889.5, 42.0, None, -12000001.0]
    assert read.report.thousands == {"total": 2}
    assert read.report.dropped == {"notes": "blank in every row"}
    summary = read.report.summary()
    assert "thousands separators read as numbers: total: 2" in summary
    assert "not features: notes (blank in every row)" in summary
    with pytest.raises(SourceError, match=r"feature column 'notes' is blank in every row"):
        read_customer_table(CustomerTableConfig(path=str(path), id_column="id", delimiter=";",
                                                features=["total", "notes"]))  # fmt: skip


def test_a_table_without_the_id_column_is_told_how_to_number_its_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("plan,churn\ngold,1\nsilver,0\n")
    with pytest.raises(SourceError, match=r"--id-column none \(data.id_column=null\)"):
        read_customer_table(CustomerTableConfig(path=str(path)))
