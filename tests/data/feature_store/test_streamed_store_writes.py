"""The local store writes a stream (a RecordBatchReader, a DuckDB DataFrame, a Parquet path)
batch by batch, and a bad batch anywhere in it leaves nothing written."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnops.data.delta_tables import table_exists
from churnops.data.feature_store import FeatureStoreError

TABLE = "ml.churn.streamed"
BATCH = 1_000


def batch(start: int, rows: int = BATCH, score: float = 0.0) -> pa.RecordBatch:
    ids = list(range(start, start + rows))
    return pa.record_batch(
        {"customer_id": pa.array(ids, pa.int64()), "score": [float(i + score) for i in ids]}
    )


def stream(*batches: pa.RecordBatch, schema: pa.Schema | None = None) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(schema or batches[0].schema, iter(batches))


def rows(store) -> pa.Table:
    return store.read_table_arrow(TABLE).sort_by("customer_id")


def expected(*batches: pa.RecordBatch) -> pa.Table:
    table = pa.Table.from_batches(batches).sort_by("customer_id")
    newest = {}  # a later batch's row replaces an earlier one with its key (a merge)
    for row in table.to_pylist():
        newest[row["customer_id"]] = row
    return pa.Table.from_pylist(sorted(newest.values(), key=lambda r: r["customer_id"]))


def test_a_stream_larger_than_one_batch_is_written_whole(store, duckdb_engine, tmp_path):
    first = [batch(i * BATCH) for i in range(3)]
    created = store.create_table(TABLE, "customer_id", df=stream(*first))
    assert created.version == 0 and rows(store).equals(expected(*first))

    # A merge from a reader: the second half of the rows updated, new ones added.
    merged = [batch(1_500, score=0.5), batch(2_500, score=0.5), batch(3_500, score=0.5)]
    assert store.write_table(TABLE, stream(*merged)) == 1
    assert rows(store).equals(expected(*first, *merged))

    # A DuckDB DataFrame streams its query's result; a Parquet path streams the file.
    frame = duckdb_engine.session.sql(
        "SELECT CAST(i AS BIGINT) AS customer_id, CAST(i + 0.25 AS DOUBLE) AS score "
        "FROM range(4000, 7000) t(i)"
    )
    assert store.write_table(TABLE, frame) == 2
    path = tmp_path / "more.parquet"
    more = [batch(7_000, score=0.75), batch(8_000, score=0.75)]
    pq.write_table(pa.Table.from_batches(more), path, row_group_size=BATCH)
    assert store.write_table(TABLE, str(path)) == 3
    got = rows(store)
    assert got["customer_id"].to_pylist() == list(range(9_000))
    scores = dict(zip(got["customer_id"].to_pylist(), got["score"].to_pylist(), strict=True))
    assert (scores[1_499], scores[1_500], scores[4_500], scores[8_999]) == (
        1_499.0, 1_500.5, 4_500.25, 8_999.75
    )  # fmt: skip
    assert [h["version"] for h in store.history(TABLE)] == [3, 2, 1, 0]


def test_a_bad_batch_in_a_stream_leaves_no_table(store):
    wrong = pa.record_batch({"customer_id": ["x"], "score": [1.0]})  # keys of another type
    with pytest.raises(FeatureStoreError, match=r"batch 2 has columns \(customer_id: string"):
        store.create_table(
            TABLE, "customer_id", df=stream(batch(0), batch(BATCH), wrong, schema=batch(0).schema)
        )
    assert store.list_tables() == [] and not table_exists(store.table_path(TABLE))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (pa.record_batch({"customer_id": ["x"], "score": [1.0]}), r"batch 2 has columns"),
        (pa.record_batch({"customer_id": pa.array([None], pa.int64()), "score": [1.0]}),
         r"key column 'customer_id' has 1 null"),
        (batch(0), r"appear more than once"),  # a key a batch before it wrote
    ],
)  # fmt: skip
def test_a_bad_batch_in_a_merge_leaves_the_table_as_it_was(store, bad, message):
    store.create_table(TABLE, "customer_id", df=batch(0))
    before = rows(store)
    merged = stream(batch(BATCH, score=1), batch(0, score=1), bad, schema=batch(0).schema)
    with pytest.raises(FeatureStoreError, match=message):
        store.write_table(TABLE, merged)
    assert store.get_table(TABLE).version == 0 and rows(store).equals(before)


def test_a_stream_whose_schema_does_not_fit_is_refused_before_any_write(store):
    store.create_table(TABLE, "customer_id", df=batch(0))
    text_scores = pa.schema([("customer_id", pa.int64()), ("score", pa.string())])
    with pytest.raises(FeatureStoreError, match=r"column 'score' has type string in the batch"):
        store.write_table(TABLE, stream(schema=text_scores))
    assert store.get_table(TABLE).version == 0


def test_a_key_repeated_across_sorted_batches_is_caught(store):
    # Sorted streams skip the hash check over every key: the order check must still see a
    # key that ends one batch and starts the next.
    with pytest.raises(FeatureStoreError, match=r"\{'customer_id': 999\} \(2 rows\)"):
        store.create_table(TABLE, "customer_id", df=stream(batch(0), batch(BATCH - 1)))
    assert store.list_tables() == []
    store.create_table(TABLE, "customer_id", df=stream(batch(0), batch(BATCH)))
    assert rows(store).num_rows == 2 * BATCH


def test_an_engine_dataframe_is_written_on_either_engine(store, engine):
    first = pa.Table.from_batches([batch(0), batch(BATCH)])
    store.create_table(TABLE, "customer_id", df=engine.from_arrow(first))
    update = pa.Table.from_batches([batch(BATCH, score=0.5), batch(2 * BATCH, score=0.5)])
    assert store.write_table(TABLE, engine.from_arrow(update)) == 1
    assert rows(store).equals(expected(*first.to_batches(), *update.to_batches()))


def test_keys_past_the_memory_budget_are_checked_from_disk(store, monkeypatch):
    """Past SPILL_ROWS the stream's keys go to a temporary file and DuckDB checks them: the
    repeated key is named as before, nothing is written, and no file is left behind."""
    import glob
    import tempfile

    from churnops.data.feature_store import validation

    monkeypatch.setattr(validation, "SPILL_ROWS", 1_500)
    before = set(glob.glob(f"{tempfile.gettempdir()}/churnops-keys-*"))
    unsorted = [batch(2 * BATCH), batch(0), batch(3 * BATCH), batch(BATCH)]
    repeated = [*unsorted, pa.record_batch({"customer_id": [2_345], "score": [0.0]})]
    with pytest.raises(FeatureStoreError, match=r"1 key\(s\).*\{'customer_id': 2345\} \(2 rows\)"):
        store.create_table(TABLE, "customer_id", df=stream(*repeated))
    assert store.list_tables() == []

    store.create_table(TABLE, "customer_id", df=stream(*unsorted))
    assert rows(store)["customer_id"].to_pylist() == list(range(4 * BATCH))
    assert set(glob.glob(f"{tempfile.gettempdir()}/churnops-keys-*")) == before


def test_a_duckdb_frame_is_staged_in_a_file_that_is_removed_after(duckdb_engine):
    """write_snapshots stages a DuckDB query in a Parquet file before the store reads it, so
    the query's memory and the writer's do not add up; the file goes when the write is done.
    Other data (a table, a path) passes as it is."""
    from pathlib import Path

    from churnops.data.feature_store.frames import staged

    frame = duckdb_engine.session.sql("SELECT CAST(i AS BIGINT) AS customer_id FROM range(5) t(i)")
    with staged(frame) as rows:
        assert isinstance(rows, str) and pq.read_table(rows).num_rows == 5
    assert not Path(rows).exists()
    table = pa.table({"customer_id": [1]})
    with staged(table) as rows:
        assert rows is table


def test_write_snapshots_from_a_duckdb_frame_creates_then_merges(store, duckdb_engine):
    from churnops.data.feature_store.timeseries import write_snapshots

    def frame(start, n):
        return duckdb_engine.session.sql(
            f"SELECT CAST(i AS VARCHAR) AS customer_id, DATE '2024-01-31' AS as_of, "
            f"CAST(i AS DOUBLE) AS score FROM range({start}, {start + n}) t(i)"
        )

    assert write_snapshots(store, TABLE, frame(0, 3)).version == 0
    assert write_snapshots(store, TABLE, frame(2, 3)).version == 1
    assert store.read_table_arrow(TABLE).num_rows == 5
