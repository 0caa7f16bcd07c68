"""Unpacking the payload table a Databricks Model Serving endpoint writes, in both documented
schemas (legacy and AI Gateway-enabled inference tables), written here with delta-rs: one row per
scored customer from each request body format, errors skipped, only new rows on a second unpack
(also after a compaction of the payload table), the monitor refreshed on what was unpacked, and
a table missing a column refused by name before anything is written."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.payload_table import LogFormatError
from churnops.monitoring.refresh.run import refresh_monitor
from churnops.monitoring.refresh.unpack import unpack_inference_log
from tests.monitoring.payloads import T0, gateway_rows, legacy_rows, requests


def _preds(path) -> pa.Table:
    t = DeltaTable(str(path)).to_pyarrow_table()
    return t.sort_by([("request_id", "ascending"), ("customer_id", "ascending")])


def test_legacy_payload_table_unpacks_one_row_per_customer_then_only_new_ones(tmp_path):
    log, preds = str(tmp_path / "payload"), tmp_path / "preds"
    write_deltalake(log, legacy_rows(requests()))
    assert unpack_inference_log(log, preds) == 5  # 2 + 1 + 2; the 400 carries no predictions
    t = _preds(preds)
    assert t["request_id"].to_pylist() == ["r0-1", "r0-1", "r0-2", "r0-4", "r0-4"]
    assert t["customer_id"].to_pylist() == ["11", "12", "13", "11", "12"]
    assert t["probability"].to_pylist() == [0.81, 0.12, 0.55, 0.77, 0.2]
    assert t["prediction"].to_pylist() == [1, 0, 1, 1, 0]
    assert t["model_version"].to_pylist() == ["1", "1", "1", "2", "2"]
    assert set(t["model_name"].to_pylist()) == {"main.churnops.churnops_churn"}
    assert set(t["endpoint_name"].to_pylist()) == {"churn"}
    assert t["is_shadow"].to_pylist() == [False] * 5
    assert t["recency"].to_pylist() == [3.0, 30.0, 7.0, 3.0, 30.0]
    assert t["timestamp"].to_pylist()[0] == T0
    assert t["date"].to_pylist()[0] == T0.date()
    assert t.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")

    assert unpack_inference_log(log, preds) == 0  # nothing new
    write_deltalake(log, legacy_rows(requests(minutes=60)), mode="append")
    assert unpack_inference_log(log, preds) == 5  # only the appended requests
    ids = _preds(preds)["request_id"].to_pylist()
    assert len(ids) == 10 and sorted(set(ids)) == ["r0-1", "r0-2", "r0-4", "r60-1", "r60-2",
                                                   "r60-4"]  # fmt: skip


def test_a_compacted_payload_table_adds_only_requests_not_unpacked(tmp_path):
    # Databricks recommends predictive optimization for inference tables: OPTIMIZE rewrites
    # the files already unpacked into new ones, which look new by name.
    log, preds = str(tmp_path / "payload"), tmp_path / "preds"
    write_deltalake(log, legacy_rows(requests()))
    assert unpack_inference_log(log, preds) == 5
    write_deltalake(log, legacy_rows(requests(minutes=60)), mode="append")
    DeltaTable(log).optimize.compact()
    assert len(DeltaTable(log).file_uris()) == 1
    assert unpack_inference_log(log, preds) == 5
    ids = _preds(preds)["request_id"].to_pylist()
    assert sorted(ids) == sorted(["r0-1", "r0-1", "r0-2", "r0-4", "r0-4",
                                  "r60-1", "r60-1", "r60-2", "r60-4", "r60-4"])  # fmt: skip


def test_gateway_payload_table_unpacks_by_served_entity(tmp_path):
    log, preds = str(tmp_path / "payload"), tmp_path / "preds"
    write_deltalake(log, gateway_rows(requests()))
    assert unpack_inference_log(log, preds, log_format="databricks_payload") == 5
    t = _preds(preds)
    # The table names the served entity by id only: that id is the monitor's model id.
    assert t["model_version"].to_pylist() == ["4f1c-champion"] * 3 + ["9a2e-challenger"] * 2
    assert t["served_entity_name"].to_pylist() == t["model_version"].to_pylist()
    assert t["customer_id"].to_pylist() == ["11", "12", "13", "11", "12"]
    assert t["timestamp"].to_pylist()[2] == T0 + dt.timedelta(seconds=5)
    write_deltalake(log, gateway_rows(requests(minutes=5)), mode="append")
    assert unpack_inference_log(log, preds) == 5


def test_the_monitor_refreshes_on_an_unpacked_payload_table(tmp_path):
    log = str(tmp_path / "payload")
    days = [legacy_rows(requests(minutes=60 * 24 * d)) for d in range(3)]
    write_deltalake(log, pa.concat_tables(days))
    cfg = MonitorConfig(
        table=str(tmp_path / "preds"), output_dir=str(tmp_path / "out"), inference_log=log
    )
    result = refresh_monitor(cfg)
    assert result.mode == "full" and result.unpacked_rows == 15
    profile = DeltaTable(cfg.table_path("profile_metrics")).to_pandas()
    table = profile[(profile.column_name == ":table") & (profile.model_version == "*")]
    assert sorted(table["count"]) == [5, 5, 5]  # one window a day, five predictions each
    assert set(profile.model_version) == {"*", "1", "2"}
    assert {"recency", "frequency", "monetary", "probability"} <= set(profile.column_name)
    write_deltalake(log, legacy_rows(requests(minutes=60 * 24 * 3)), mode="append")
    again = refresh_monitor(cfg)
    assert again.unpacked_rows == 5 and again.mode == "incremental"


@pytest.mark.parametrize(
    ("rows", "drop"), [(legacy_rows, "request_metadata"), (gateway_rows, "served_entity_id")]
)
def test_a_payload_table_missing_a_column_is_refused_naming_it(tmp_path, rows, drop):
    log, preds = str(tmp_path / "payload"), tmp_path / "preds"
    write_deltalake(log, rows(requests()).drop_columns([drop]))
    with pytest.raises(LogFormatError, match=rf"missing column\(s\) \['{drop}'\]"):
        unpack_inference_log(log, preds)
    assert not preds.exists()  # nothing written


def test_a_log_of_the_other_format_is_refused(tmp_path):
    log, preds = str(tmp_path / "payload"), tmp_path / "preds"
    write_deltalake(log, legacy_rows(requests()))
    with pytest.raises(LogFormatError, match="inference_log_format='churnops'"):
        unpack_inference_log(log, preds, log_format="churnops")
    write_deltalake(tmp_path / "other", pa.table({"a": [1]}))
    with pytest.raises(LogFormatError, match="no inference log churnops reads"):
        unpack_inference_log(tmp_path / "other", preds)
    assert not preds.exists()
