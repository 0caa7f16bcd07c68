"""Prepared queries: an incremental refresh runs the SQL the last refresh kept, and gets what a
full refresh gets; kept SQL is used only in the context it was compiled for."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from churnops.data.engines.api import dataframe_api
from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.prepared import PreparedQueries
from churnops.monitoring.refresh.run import refresh_monitor
from tests.monitoring.synthetic_tables import START, baseline_for, labels_for, predictions, write

# Profile columns that do not depend on the fine bins (a full refresh over more rows cuts
# other bins, so quantiles and drift may differ by a bin's width; these must not differ).
EXACT = [
    "count", "num_nulls", "num_zeros", "avg", "stddev", "min", "max", "distinct_count",
    "roc_auc_score", "log_loss", "brier_score", "num_labelled", "percent_labelled",
]  # fmt: skip
KEYS = ["start", "granularity", "model_version", "log_type", "slice_key", "slice_value",
        "column_name"]  # fmt: skip


def _profile(cfg: MonitorConfig):
    df = DeltaTable(cfg.table_path("profile_metrics")).to_pandas()
    df["start"] = df.window.map(lambda w: w["start"] if w is not None else None)
    return df[KEYS + EXACT].sort_values(KEYS, na_position="first").reset_index(drop=True)


def _days(table: pa.Table) -> np.ndarray:
    return np.array([(t - START).days for t in table["timestamp"].to_pylist()])


def test_an_incremental_refresh_runs_kept_sql_and_matches_a_full_refresh(tmp_path):
    preds = predictions(4, 400, seed=3, versions=("1", "2"))
    write(tmp_path / "preds", preds)
    write(tmp_path / "baseline", baseline_for(1000))
    write(tmp_path / "labels", labels_for(preds.filter(_days(preds) < 2)))
    cfg = MonitorConfig(
        table=str(tmp_path / "preds"),
        output_dir=str(tmp_path / "incremental"),
        baseline_table=str(tmp_path / "baseline"),
        labels_table=str(tmp_path / "labels"),
        slicing_exprs=["segment"],
        granularities=["1 day", "1 week"],
    )
    assert refresh_monitor(cfg).compiled_queries > 0

    # A new day of rows and late labels for day 2: the views now hold other rows.
    new = predictions(1, 400, seed=5, start=4, versions=("1", "2"))
    write(tmp_path / "preds", new)
    write(tmp_path / "labels", labels_for(preds.filter(_days(preds) == 2)))
    inc = refresh_monitor(cfg)
    assert inc.mode == "incremental" and inc.compiled_queries == 0

    full = cfg.model_copy(update={"output_dir": str(tmp_path / "full")})
    assert refresh_monitor(full, full=True).compiled_queries > 0
    got, want = _profile(cfg), _profile(full)
    assert len(got) == len(want)
    for col in KEYS:
        assert got[col].tolist() == want[col].tolist(), col
    for col in EXACT:
        np.testing.assert_allclose(
            got[col].astype(float), want[col].astype(float), rtol=1e-9, err_msg=col
        )


def _sum_query(engine, name):
    df = engine.session.table(name)
    F, _ = dataframe_api(df)
    return df.groupBy().agg(F.sum("x").alias("total"))


def _not_built():
    raise AssertionError("kept SQL should have run without building the query")


def test_kept_sql_reads_the_redefined_view_and_only_in_its_context(duckdb_engine):
    engine, view = duckdb_engine, "churnops_test_prepared"
    engine.view(engine.from_arrow(pa.table({"x": [1, 2, 3]})), view)
    first = PreparedQueries(engine, {"config": "a"})
    assert first.collect("sum", lambda: _sum_query(engine, view))["total"].to_pylist() == [6]
    assert first.compiled == 1 and len(first.kept) == 1

    engine.view(engine.from_arrow(pa.table({"x": [10, 20]})), view)
    again = PreparedQueries(engine, {"config": "a"}, first.kept)
    assert again.collect("sum", _not_built)["total"].to_pylist() == [30]
    assert again.compiled == 0

    other = PreparedQueries(engine, {"config": "b"}, first.kept)
    assert other.collect("sum", lambda: _sum_query(engine, view))["total"].to_pylist() == [30]
    assert other.compiled == 1


@pytest.mark.spark
def test_spark_builds_every_query_and_keeps_no_sql(spark_engine):
    engine = spark_engine
    engine.view(engine.from_arrow(pa.table({"x": [1, 2, 3]})), "churnops_test_prepared")
    queries = PreparedQueries(engine, {"config": "a"})
    result = queries.collect("sum", lambda: _sum_query(engine, "churnops_test_prepared"))
    assert result["total"].to_pylist() == [6]
    assert queries.kept == {} and queries.compiled == 1
