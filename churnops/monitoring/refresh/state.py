"""What a refresh remembers between runs, and what changed since: the state file beside the
metric tables (files processed, bin specs, kept queries, monitor version) and its fingerprint."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc

from churnops.data import storage
from churnops.data.storage import read_parquet
from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.prepared import digest
from churnops.monitoring.windows import as_utc, window_start


def changed_since(
    cfg: MonitorConfig, state: dict, files: list[str], label_files: list[str]
) -> dict[str, dt.datetime] | None:
    """Per granularity, the first window that new rows or new labels touch ({}: none)."""
    old, old_labels = set(state["files"]), set(state["label_files"])
    if not old <= set(files) or not old_labels <= set(label_files):
        return None  # files were rewritten (compaction, overwrite): recompute everything
    points = []
    new = [f for f in files if f not in old]
    if new:
        ts = pa.concat_arrays(
            [read_parquet(f, [cfg.timestamp_col])[cfg.timestamp_col].combine_chunks() for f in new]
        )
        if len(ts):
            points.append(as_utc(pc.min(ts).as_py()))
    new_labels = [f for f in label_files if f not in old_labels]
    if new_labels:
        cut = pa.concat_arrays(
            [
                read_parquet(f, [cfg.label_time_col])[cfg.label_time_col].combine_chunks()
                for f in new_labels
            ]
        )
        if len(cut):
            day = pc.min(cut).as_py()
            points.append(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
    if not points:
        return {}
    first = min(points)
    return {g: window_start(first, g) for g in cfg.granularities}


def fingerprint(cfg: MonitorConfig) -> str:
    """A refresh may reuse earlier windows only while what they were computed with is unchanged."""
    # What only decisions, A/B and Databricks read leaves the computed windows as they are.
    fields = cfg.model_dump(
        exclude={
            "retrain", "schedule", "inference_log", "ab", "databricks_table",
            "databricks_output_schema", "databricks_baseline_table", "databricks_assets_dir",
            "storage",
        }
    )  # fmt: skip
    return digest(fields, 64)


def _state_path(cfg: MonitorConfig) -> str:
    return cfg.table_path("state.json")


def read_state(cfg: MonitorConfig) -> dict | None:
    path = _state_path(cfg)
    return json.loads(storage.read_bytes(path)) if storage.is_file(path) else None


def write_state(cfg: MonitorConfig, state: dict) -> None:
    # Atomic: the old state or the new one, never half of it (renamed or copied into place).
    storage.write_bytes_atomic(_state_path(cfg), json.dumps(state, indent=1).encode())
