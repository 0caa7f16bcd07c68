"""`replace_windows`: one Delta commit per refresh, an append when no old window is replaced."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from churnops.monitoring.tables import read_or_empty, replace_windows

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
