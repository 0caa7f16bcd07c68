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
