"""Delta tables read through Arrow's own local file system, partitions included."""

import pyarrow as pa
import pyarrow.fs as pa_fs
from deltalake import DeltaTable, write_deltalake

from churnops.data.delta_tables import arrow_dataset, read_table


def _table(tmp_path):
    data = pa.table({"month": ["1997-01", "1997-01", "1997-02"], "customer_id": [1, 2, 3],
                     "spend": [10.0, 20.0, 30.0]})  # fmt: skip
    write_deltalake(str(tmp_path / "t"), data, partition_by=["month"])
    return DeltaTable(str(tmp_path / "t"))


def test_local_table_is_read_without_a_python_file_system(tmp_path):
    # A Python file system in Arrow's IO threads can abort the process at exit (see module).
    dataset = arrow_dataset(_table(tmp_path))
    assert not isinstance(dataset.filesystem, pa_fs.PyFileSystem)
    assert isinstance(dataset.filesystem.base_fs, pa_fs.LocalFileSystem)


def test_reads_match_deltalake_partition_columns_included(tmp_path):
    table = _table(tmp_path)
    expected = table.to_pyarrow_table().sort_by("customer_id")
    got = read_table(table).sort_by("customer_id")
    assert got.select(expected.column_names).equals(expected)
    assert read_table(table, columns=["customer_id"]).column_names == ["customer_id"]


def test_object_store_table_is_read_on_arrows_s3_file_system(s3_storage):
    from churnops.data.delta_tables import open_table, table_exists, write_table

    uri = f"{s3_storage.root}/tables/t"
    assert not table_exists(uri)
    data = pa.table({"month": ["1997-01", "1997-02"], "customer_id": [1, 2]})
    write_table(uri, data, partition_by=["month"])
    dataset = arrow_dataset(open_table(uri))
    assert isinstance(dataset.filesystem.base_fs, pa_fs.S3FileSystem)
    got = read_table(open_table(uri)).sort_by("customer_id")
    assert got.select(data.column_names).equals(data)
    assert table_exists(uri)


def _file(path, table):
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    return path


def test_a_parquet_file_is_committed_as_it_is(tmp_path):
    """The file becomes the table's data in one commit per call: an overwrite replaces rows and
    schema, an append adds rows, and an append of other columns is refused, naming both, with
    the table as it was and the file not left in the table's folder."""
    import pytest

    from churnops.data.delta_tables import commit_parquet_file, open_table

    target = str(tmp_path / "t")
    first = pa.table({"customer_id": ["a", "b"], "score": [0.1, 0.2]})
    commit_parquet_file(target, _file(tmp_path / "1.parquet", first), "overwrite", first.schema)
    assert open_table(target).version() == 0 and read_table(open_table(target)).equals(first)

    wider = pa.table({"customer_id": ["c"], "score": [0.3], "arm": ["x"]})
    commit_parquet_file(target, _file(tmp_path / "2.parquet", wider), "overwrite", wider.schema)
    table = open_table(target)
    assert table.version() == 1 and read_table(table).equals(wider)

    commit_parquet_file(target, _file(tmp_path / "3.parquet", wider), "append", wider.schema)
    assert read_table(open_table(target)).num_rows == 2

    files_before = sorted(p.name for p in (tmp_path / "t").iterdir())
    with pytest.raises(ValueError, match=r"appended rows have columns \(customer_id: string, "):
        commit_parquet_file(target, _file(tmp_path / "4.parquet", first), "append", first.schema)
    assert open_table(target).version() == 2
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == files_before


def test_a_parquet_file_is_committed_to_object_storage(s3_storage, tmp_path):
    from churnops.data.delta_tables import commit_parquet_file, open_table

    uri = f"{s3_storage.root}/tables/log"
    rows = pa.table({"n": [1, 2, 3]})
    commit_parquet_file(uri, _file(tmp_path / "log.parquet", rows), "overwrite", rows.schema)
    assert read_table(open_table(uri)).equals(rows)
    assert not (tmp_path / "log.parquet").exists()  # uploaded, the local copy removed
