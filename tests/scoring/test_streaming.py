"""Batch scoring streams: the model sees one batch at a time, the output is written batch by
batch, and the result equals scoring the whole table at once."""

from __future__ import annotations

import tracemalloc
from datetime import date

import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from churnops.data.feature_store import FeatureLookup
from churnops.data.feature_store.frames import to_arrow
from churnops.models.baselines import LogisticChurnModel
from churnops.scoring import log_model
from churnops.scoring.batch import score_batch, score_batches
from churnops.scoring.table import score_table, write_delta_batches, write_parquet_batches
from tests.scoring.conftest import TABLE, labels

ROWS = 400_000


@pytest.fixture
def model_uri(ts_store, duckdb_engine, mlflow_tmp):
    lookup = FeatureLookup(TABLE, lookup_key="customer_id", timestamp_lookup_key="cutoff")
    ts = ts_store.create_training_set(duckdb_engine.from_arrow(labels()), [lookup], label="churn")
    table = to_arrow(ts.load_df())
    x = np.column_stack([table["x"].to_numpy(), table["n"].to_numpy()]).astype(np.float32)
    model = LogisticChurnModel().fit(x, table["churn"].to_numpy())
    log_model(ts_store, model, "model", mlflow.sklearn, ts, registered_model_name="churn_stream")
    return "models:/churn_stream/1"


def _keys(rows: int) -> pa.Table:
    """Many rows of the four customers at cutoffs where each has a snapshot."""
    ids = np.array(["a", "b", "c", "d"])[np.arange(rows) % 4]
    cutoffs = np.array([date(2020, 3, 1), date(2020, 4, 1)])[(np.arange(rows) // 4) % 2]
    return pa.table({"row": np.arange(rows), "customer_id": ids, "cutoff": cutoffs})


def test_batches_hold_a_bounded_share_and_equal_the_whole_result(
    ts_store, duckdb_engine, model_uri
):
    keys = duckdb_engine.from_arrow(_keys(ROWS))
    whole = to_arrow(score_batch(ts_store, model_uri, keys)).sort_by("row")
    # Warm: modules imported, the model's files cached, before memory is traced.
    score_batches(ts_store, model_uri, duckdb_engine.from_arrow(_keys(10)), batch_rows=4).read_all()

    tracemalloc.start()
    arrow_before = pa.total_allocated_bytes()
    arrow_peak = 0
    try:
        reader = score_batches(ts_store, model_uri, keys, batch_rows=10_000, order_by=["row"])
        batches = []
        for batch in reader:
            batches.append(batch.num_rows)
            arrow_peak = max(arrow_peak, pa.total_allocated_bytes() - arrow_before)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(batches) == ROWS and max(batches) <= 10_000 and len(batches) >= ROWS // 10_000
    # The whole-table path held every row's features in pandas and both outputs in Arrow:
    # 400k rows x (2 features + 2 outputs) x 8 bytes = 12.8 MB. A batch is 1/40 of that.
    whole_bytes = ROWS * 4 * 8
    assert python_peak < whole_bytes / 4, python_peak
    assert arrow_peak < whole_bytes / 4, arrow_peak
    streamed = score_batches(ts_store, model_uri, keys, batch_rows=10_000, order_by=["row"])
    assert streamed.read_all().equals(whole)


def test_score_table_streams_into_parquet_and_delta(ts_store, duckdb_engine, model_uri, tmp_path):
    source = tmp_path / "keys.parquet"
    pq.write_table(_keys(50_000), source)
    common = dict(tracking_uri=mlflow.get_tracking_uri(), root=str(ts_store.root), batch_rows=7000)
    assert score_table(model_uri, source, tmp_path / "out.parquet", **common) == 50_000
    assert score_table(model_uri, source, tmp_path / "out_delta", **common) == 50_000
    parquet = pq.read_table(tmp_path / "out.parquet").sort_by("row")
    delta = DeltaTable(str(tmp_path / "out_delta")).to_pyarrow_table().sort_by("row")
    whole = to_arrow(score_batch(ts_store, model_uri, duckdb_engine.from_arrow(_keys(50_000))))
    assert parquet.equals(whole.sort_by("row")) and delta.equals(parquet)
    assert pq.ParquetFile(tmp_path / "out.parquet").metadata.num_row_groups > 1  # incremental


def _failing(schema: pa.Schema, good: pa.RecordBatch):
    yield good
    raise RuntimeError("batch 2 failed")


def test_a_failed_batch_leaves_no_output(tmp_path):
    batch = pa.record_batch({"x": [1, 2]})
    with pytest.raises(RuntimeError, match="batch 2"):
        write_parquet_batches(
            pa.RecordBatchReader.from_batches(batch.schema, _failing(batch.schema, batch)),
            tmp_path / "out.parquet",
        )
    assert list(tmp_path.iterdir()) == []
    # A Delta table keeps its last version: the failed write commits nothing.
    write_delta_batches(pa.RecordBatchReader.from_batches(batch.schema, [batch]), tmp_path / "d")
    with pytest.raises(Exception, match="batch 2"):
        write_delta_batches(
            pa.RecordBatchReader.from_batches(batch.schema, _failing(batch.schema, batch)),
            tmp_path / "d",
        )
    table = DeltaTable(str(tmp_path / "d"))
    assert table.version() == 0 and table.to_pyarrow_table().num_rows == 2
