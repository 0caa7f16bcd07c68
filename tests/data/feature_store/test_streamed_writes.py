"""Tables the engine can write are written by it: the training set, the features and the
snapshots never sit whole in Arrow, and equal what the whole-table path made.

Peak Arrow memory is read in a fresh process (`pa.default_memory_pool().max_memory()` is a
high-water mark for the process), on tables many times larger than what may be held.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnops.data.feature_store.frames import to_arrow
from churnops.data.feature_store.timeseries import compute_snapshots
from churnops.data.feature_store.training_set import LocalTrainingSet
from churnops.data.features import compute_customer_features
from churnops.data.sources.synthetic import generate_orders

ROWS = 1_000_000
# The table a whole-table write holds in Arrow: ~1M rows of an id and three doubles (> 30 MB).
TRAINING_SET_SQL = f"""
    SELECT 'c' || lpad(CAST((i * 7919) % {ROWS} AS VARCHAR), 8, '0') AS customer_id,
           i * 0.5 AS x, i * 0.25 AS y, CAST(i % 2 AS BIGINT) AS churn
    FROM range({ROWS}) t(i)
"""


def assert_same(got: pa.Table, expected: pa.Table) -> None:
    """Equal tables, doubles to rounding: a parallel sum's order varies from run to run."""
    assert got.schema.equals(expected.schema) and got.num_rows == expected.num_rows
    for name in got.column_names:
        a, b = got[name], expected[name]
        if pa.types.is_floating(a.type):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, err_msg=name)
        else:
            assert a.equals(b), name


def _peak_arrow_bytes(code: str) -> dict:
    """Run `code` in a fresh interpreter; its JSON result and the Arrow pool's high-water mark."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, pyarrow as pa
        print(json.dumps({"peak": pa.default_memory_pool().max_memory(), **RESULT}))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # a fresh interpreter, a table of ~1M rows
def test_a_training_set_is_sorted_and_written_by_the_engine(tmp_path, duckdb_engine):
    path = tmp_path / "set.parquet"
    out = _peak_arrow_bytes(f"""
        from churnops.data.engines import get_engine
        from churnops.data.feature_store.training_set import LocalTrainingSet
        engine = get_engine("duckdb")
        df = engine.session.sql({TRAINING_SET_SQL!r})
        rows = LocalTrainingSet(None, df, [], label="churn").write_parquet(
            {str(path)!r}, sort_by=["customer_id"])
        RESULT = {{"rows": rows}}
    """)
    written = pq.read_table(path)
    assert out["rows"] == written.num_rows == ROWS
    assert out["peak"] < written.nbytes / 10  # the whole-table path held the set, then its sort
    whole = to_arrow(duckdb_engine.session.sql(TRAINING_SET_SQL)).sort_by("customer_id")
    assert written.equals(whole.select(written.column_names))


def test_write_parquet_returns_rows_and_keeps_the_label_last(tmp_path, duckdb_engine):
    df = duckdb_engine.from_arrow(pa.table({"churn": [1, 0], "k": ["b", "a"], "x": [1.0, 2.0]}))
    rows = LocalTrainingSet(None, df, [], label="churn").write_parquet(
        tmp_path / "s.parquet", sort_by=["k"]
    )
    table = pq.read_table(tmp_path / "s.parquet")
    assert rows == 2 and table.column_names == ["k", "x", "churn"]
    assert table["k"].to_pylist() == ["a", "b"]


@pytest.fixture(scope="module")
def synthetic_orders(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / "orders.parquet"
    generate_orders(path, customers=60_000, seed=3)
    return path


@pytest.mark.slow  # a fresh interpreter, a table of ~1M rows
def test_features_build_writes_through_the_engine(tmp_path, synthetic_orders, duckdb_engine):
    out_dir = tmp_path / "features"
    out = _peak_arrow_bytes(f"""
        import os
        os.environ["CHURNOPS_ORDERS_CACHE"] = "off"
        from churnops.data.features.build import FeaturesJobConfig, build_features
        cfg = FeaturesJobConfig.model_validate({{
            "source": {{"kind": "parquet", "path": {str(synthetic_orders)!r}}},
            "as_of": "2025-06-30", "output_dir": {str(out_dir)!r}}})
        built = build_features(cfg)
        RESULT = {{"customers": built.customers, "features": str(built.features_path),
                  "churn_rate": built.churn_rate}}
    """)
    features = pq.read_table(out["features"])
    assert out["customers"] == features.num_rows == 60_000
    # Only the label column comes back into Arrow (for the churn rate): no features table.
    assert out["peak"] < features.nbytes / 10
    orders = duckdb_engine.read_parquet(out_dir / "orders.parquet")
    whole = to_arrow(compute_customer_features(orders, date(2025, 6, 30))).sort_by("customer_id")
    # The same rows and values (DuckDB's file marks every column nullable).
    assert_same(features, whole.cast(features.schema))


@pytest.mark.slow  # a fresh interpreter, a table of ~1M rows
def test_snapshots_come_back_once_not_as_parts_and_a_sorted_copy(synthetic_orders, duckdb_engine):
    cutoffs = ["2025-03-31", "2025-06-30"]
    out = _peak_arrow_bytes(f"""
        from datetime import date
        from churnops.data.engines import get_engine
        from churnops.data.feature_store.timeseries import compute_snapshots
        engine = get_engine("duckdb")
        table = compute_snapshots(engine.read_parquet({str(synthetic_orders)!r}),
                                  [date.fromisoformat(c) for c in {cutoffs!r}])
        RESULT = {{"rows": table.num_rows, "bytes": table.nbytes}}
    """)
    # The parts, their concatenation and its sorted copy were each the table's size in Arrow.
    assert out["peak"] < out["bytes"] / 4
    orders = duckdb_engine.read_parquet(synthetic_orders)
    dates = [date.fromisoformat(c) for c in cutoffs]
    parts = [to_arrow(compute_customer_features(orders, c)) for c in dates]
    whole = pa.concat_tables(parts).sort_by([("customer_id", "ascending"), ("as_of", "ascending")])
    assert_same(compute_snapshots(orders, dates), whole)
    assert out["rows"] == whole.num_rows
