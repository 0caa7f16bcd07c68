import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnops.trainers.data import load_training_arrays


def test_missing_column_and_bad_labels_are_clear_errors(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"customer_id": ["a", "b"], "f": [1.0, 2.0], "churn": [0, 2]}), path)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['g'\]"):
        load_training_arrays(path, ["g"])
    with pytest.raises(ValueError, match=r"churn: expected 0/1 labels, found \[2\]"):
        load_training_arrays(path, ["f"])
    with pytest.raises(FileNotFoundError, match=r"data\.path"):
        load_training_arrays(tmp_path / "nope.parquet", ["f"])


def test_reads_a_delta_table_current_version(tmp_path):
    from deltalake import write_deltalake

    path = tmp_path / "delta"
    write_deltalake(path, pa.table({"customer_id": ["a"], "f": [1.0], "churn": [1]}))
    write_deltalake(
        path, pa.table({"customer_id": ["a", "b"], "f": [1.0, 3.0], "churn": [1, 0]}),
        mode="overwrite",
    )  # fmt: skip
    data = load_training_arrays(path, ["f"])
    assert data.x[:, 0].tolist() == [1.0, 3.0]


def test_a_customer_csv_loads_with_text_columns_and_a_yes_no_label(tmp_path):
    from churnops.data.sources.telecom import COLUMNS, generate_customer_table

    path = generate_customer_table(tmp_path / "customers.csv", customers=300, seed=3)
    features = [c for c in COLUMNS if c not in ("customerID", "Churn")]
    data = load_training_arrays(path, features, "Churn", "customerID")
    assert data.x.shape == (300, len(features)) and data.x.dtype == object
    assert data.x[0, features.index("Contract")] in ("Month-to-month", "One year", "Two year")
    assert isinstance(data.x[0, features.index("tenure")], float)
    assert set(data.y.tolist()) == {0, 1}
    assert data.report.rows_accepted == 300 and data.report.missing["TotalCharges"]["blank"] >= 1
    with pytest.raises(
        ValueError, match=r"\['days_since_last_order'\] not found.*features\.columns"
    ):
        load_training_arrays(path, ["days_since_last_order"], "Churn", "customerID")


def test_text_labels_no_id_and_an_id_that_is_a_feature(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table({"zip": ["10115", "80331"], "f": [1.0, None], "churn": ["Yes", "no"]}), path
    )
    data = load_training_arrays(path, ["zip", "f"], id_column="zip")  # id doubles as a feature
    assert data.y.tolist() == [1, 0]
    assert data.ids.tolist() == ["10115", "80331"] and data.x[:, 0].tolist() == ["10115", "80331"]
    assert np.isnan(data.x[1, 1])
    assert load_training_arrays(path, ["f"], id_column=None).ids.tolist() == ["0", "1"]
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"f": [1.0], "churn": ["maybe"]}), bad)
    with pytest.raises(ValueError, match=r"churn: expected 0/1 labels or one of .*\['maybe'\]"):
        load_training_arrays(bad, ["f"], id_column=None)


def test_a_file_that_is_not_parquet_says_what_is_expected(tmp_path):
    path = tmp_path / "customers.data"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"not a Parquet file or Delta table.*\.csv"):
        load_training_arrays(path, ["a"])
