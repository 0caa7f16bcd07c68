"""`replace_windows`: one Delta commit per refresh, an append when no old window is replaced."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from churnops.monitoring.refresh.tables import read_or_empty, replace_windows

SCHEMA = pa.schema([("window", pa.int64()), ("value", pa.float64())])


def _table(windows: list[int]) -> pa.Table:
    return pa.table({"window": windows, "value": [float(w) for w in windows]}, schema=SCHEMA)


def _last_operation(path: str) -> dict:
    return DeltaTable(path).history(1)[0]


def test_new_windows_only_are_appended_and_replaced_ones_rewritten(tmp_path):
    path = str(tmp_path / "t")
    replace_windows(path, _table([1, 2]), None, SCHEMA)  # a full refresh
    old = read_or_empty(path, SCHEMA)

    replace_windows(path, _table([3]), pa.array([True, True]), SCHEMA, old)
    assert _last_operation(path)["operationParameters"]["mode"] == "Append"
    assert sorted(read_or_empty(path, SCHEMA)["window"].to_pylist()) == [1, 2, 3]

    old = read_or_empty(path, SCHEMA)
    keep = pa.array([w != 3 for w in old["window"].to_pylist()])  # window 3 is recomputed
    replace_windows(path, _table([3]), keep, SCHEMA, old)
    assert _last_operation(path)["operationParameters"]["mode"] == "Overwrite"
    assert sorted(read_or_empty(path, SCHEMA)["window"].to_pylist()) == [1, 2, 3]


def test_a_table_of_another_schema_is_rewritten_not_appended_to(tmp_path):
    path = str(tmp_path / "t")
    older = pa.table({"window": pa.array([1], pa.int64()), "value": pa.array(["1"])})
    write_deltalake(path, older)  # an older layout: `value` was a string
    old = read_or_empty(path, SCHEMA)  # read cast to today's schema
    replace_windows(path, _table([2]), pa.array([True]), SCHEMA, old)
    assert _last_operation(path)["operationParameters"]["mode"] == "Overwrite"
    assert DeltaTable(path).schema().to_arrow().field("value").type == pa.float64()
    assert sorted(read_or_empty(path, SCHEMA)["window"].to_pylist()) == [1, 2]


# Databricks' metric table columns and types, from "Monitor metric tables"
# (https://docs.databricks.com/aws/en/lakehouse-monitoring/monitor-output): "Profile metrics
# table schema" and "Drift metrics table schema" (InferenceLog analysis; `model_id` is the
# model id column's own name). Dashboards and alerts written against them read ours unchanged.
WINDOW = pa.struct([("start", pa.timestamp("us", tz="UTC")), ("end", pa.timestamp("us", "UTC"))])
TEST = pa.struct([("statistic", pa.float64()), ("pvalue", pa.float64())])
DATABRICKS_PROFILE = {
    "window": WINDOW,
    "granularity": pa.string(),
    "model_id": pa.string(),
    "log_type": pa.string(),
    "logging_table_commit_version": pa.int32(),
    "monitor_version": pa.int64(),
    "slice_key": pa.string(),
    "slice_value": pa.string(),
    "column_name": pa.string(),
    "data_type": pa.string(),
    "count": pa.int64(),
    "num_nulls": pa.int64(),
    "avg": pa.float64(),
    "quantiles": pa.list_(pa.float64()),
    "distinct_count": pa.int64(),
    "num_zeros": pa.int64(),
    "num_nan": pa.int64(),
    "min": pa.float64(),
    "max": pa.float64(),
    "stddev": pa.float64(),
    "median": pa.float64(),
    "min_length": pa.float64(),
    "max_length": pa.float64(),
    "avg_length": pa.float64(),
    "non_null_columns": pa.list_(pa.string()),
    "percent_null": pa.float64(),
    "percent_zeros": pa.float64(),
    "percent_distinct": pa.float64(),
    "percent_nan": pa.float64(),
    "accuracy_score": pa.float64(),
    "roc_auc_score": pa.float64(),
    "log_loss": pa.float64(),
}
DATABRICKS_DRIFT = {
    "window": WINDOW,
    "window_cmp": WINDOW,
    "granularity": pa.string(),
    "model_id": pa.string(),
    "drift_type": pa.string(),
    "monitor_version": pa.int64(),
    "slice_key": pa.string(),
    "slice_value": pa.string(),
    "column_name": pa.string(),
    "data_type": pa.string(),
    "count_delta": pa.int64(),
    "avg_delta": pa.float64(),
    "percent_null_delta": pa.float64(),
    "percent_zeros_delta": pa.float64(),
    "percent_distinct_delta": pa.float64(),
    "non_null_columns_delta": pa.struct([("added", pa.int32()), ("missing", pa.int32())]),
    "js_distance": pa.float64(),
    "ks_test": TEST,
    "wasserstein_distance": pa.float64(),
    "population_stability_index": pa.float64(),
    "chi_squared_test": TEST,
    "tv_distance": pa.float64(),
    "l_infinity_distance": pa.float64(),
}


def test_metric_tables_have_every_databricks_column_with_its_type():
    from churnops.monitoring.refresh.tables import drift_schema, profile_schema

    for ours, theirs in ((profile_schema("model_id"), DATABRICKS_PROFILE),
                         (drift_schema("model_id"), DATABRICKS_DRIFT)):  # fmt: skip
        got = {name: ours.field(name).type for name in theirs if name in ours.names}
        assert got == theirs


def test_a_table_written_before_a_column_was_added_reads_with_it_null(tmp_path):
    path = str(tmp_path / "t")
    write_deltalake(path, _table([1]).drop_columns(["value"]))
    assert read_or_empty(path, SCHEMA).to_pylist() == [{"window": 1, "value": None}]


def test_refresh_fills_the_databricks_columns(tmp_path):
    import math

    from churnops.monitoring.config import MonitorConfig
    from churnops.monitoring.refresh.run import refresh_monitor
    from tests.monitoring.synthetic_tables import predictions, write

    t = predictions(3, 200, seed=5)
    f0 = t["f0"].to_numpy().copy()
    f0[:7] = math.nan  # NaN is a value, not a null: num_nan
    t = t.set_column(t.column_names.index("f0"), "f0", pa.array(f0))
    write(tmp_path / "preds", t)
    cfg = MonitorConfig(table=str(tmp_path / "preds"), output_dir=str(tmp_path / "out"))
    refresh_monitor(cfg)
    profile = DeltaTable(cfg.table_path("profile_metrics")).to_pyarrow_table().to_pylist()
    whole = [r for r in profile if r["slice_key"] is None and r["model_version"] == "*"]
    first = min(r["window"]["start"] for r in whole)
    rows = {r["column_name"]: r for r in whole if r["window"]["start"] == first}
    assert rows["f0"]["num_nan"] == 7 and rows["f0"]["percent_nan"] == 100 * 7 / 200
    assert rows["f1"]["num_nan"] == 0
    segment = rows["segment"]  # values "a" and "b"
    assert (segment["min_length"], segment["max_length"], segment["avg_length"]) == (1, 1, 1)
    assert segment["percent_distinct"] == 100 * 2 / segment["count"]
    assert (
        "f0" in rows[":table"]["non_null_columns"]
        and "segment" in rows[":table"]["non_null_columns"]
    )
    assert {r["monitor_version"] for r in profile} == {0}
    drift = DeltaTable(cfg.table_path("drift_metrics")).to_pyarrow_table().to_pylist()
    table_drift = [r for r in drift if r["column_name"] == ":table"]
    assert table_drift and all(r["non_null_columns_delta"] == {"added": 0, "missing": 0}
                               for r in table_drift)  # fmt: skip
    assert all(isinstance(r["count_delta"], int) for r in drift if r["count_delta"] is not None)
    # A changed setting is a new monitor version, as on Databricks.
    refresh_monitor(cfg.model_copy(update={"psi_bins": cfg.psi_bins + 1}))
    profile = DeltaTable(cfg.table_path("profile_metrics")).to_pyarrow_table()
    assert set(profile["monitor_version"].to_pylist()) == {1}
