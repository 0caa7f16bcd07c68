"""The fine histograms a refresh keeps (`<name>_histograms`): numeric bins and categorical items
per (granularity, window, version, slice, column), in the store's schema and as dense counts
that drift and quantiles read."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churnops.monitoring.refresh import profile as prof
from churnops.monitoring.refresh.frames import SLICE, WINDOW
from churnops.monitoring.refresh.statistics import BinSpec
from churnops.monitoring.refresh.tables import HISTOGRAM_SCHEMA
from churnops.monitoring.windows import utc_or_none

MODEL = "model_id"  # the model id column inside the histogram store


def bin_specs(
    rows: list[dict[str, Any]], numeric: list[str], model: str, drift_bins: int
) -> dict[str, BinSpec]:
    """Fine bins per numeric column: the range of everything seen, centred and scaled by the
    baseline's (else the windows') mean and stddev: exact aggregates, so both engines cut
    the same bins. A column whose reference holds whole numbers only gets integral bins."""
    specs = {}
    for c in numeric:
        mine = [
            r
            for r in rows
            if r["column_name"] == c
            and r.get("min") is not None
            and r["slice_key"] is None
            and r[model] == "*"
        ]
        if not mine:
            continue
        base = [r for r in mine if r.get("log_type") == "BASELINE"] or mine
        lo, hi = min(r["min"] for r in mine), max(r["max"] for r in mine)
        center = float(np.mean([r["avg"] for r in base]))
        scale = float(np.mean([r["stddev"] or 0.0 for r in base]))
        integral = all(r["_fractional"] == 0 for r in base)
        specs[c] = BinSpec.from_stats(lo, hi, center, scale, drift_bins, integral)
    return specs


def histogram_table(
    hists: list[pa.Table], cats: list[pa.Table], baseline: dict[str, Any], model: str
) -> pa.Table:
    """Numeric bins and categorical items of every group in the store's schema."""
    parts = []
    for t in hists:
        parts.append(_store_rows(t, model, "bin"))
    for t in cats + baseline["cats"]:
        parts.append(_store_rows(t, model, "item"))
    for t in baseline.get("hists", []):
        parts.append(_store_rows(t, model, "bin"))
    return pa.concat_tables(parts) if parts else HISTOGRAM_SCHEMA.empty_table()


def _store_rows(t: pa.Table, model: str, kind: str) -> pa.Table:
    n = t.num_rows
    cols = {
        "granularity": t["granularity"],
        "window_start": pc.cast(t[WINDOW], pa.timestamp("us", tz="UTC")),
        "model_id": pc.cast(t[model], pa.string()),
        "slice_key": t["slice_key"],
        "slice_value": t[SLICE],
        "column_name": t["column_name"],
        "bin": pc.cast(t["bin"], pa.int64()) if kind == "bin" else pa.nulls(n, pa.int64()),
        "item": t["item"] if kind == "item" else pa.nulls(n, pa.string()),
        "count": pc.cast(t["count"], pa.int64()),
    }
    return pa.table(cols, schema=HISTOGRAM_SCHEMA)


def with_all_versions(counts: pa.Table, keys: list[str], model: str) -> pa.Table:
    """Per-version counts plus their sum as version '*'."""
    if counts.num_rows == 0:
        return counts
    if len(pc.unique(counts[model])) == 1:
        # One version: its counts are the all-versions counts (no group-by needed).
        star = pa.array(np.full(counts.num_rows, "*"), pa.string())
        merged = counts.set_column(counts.column_names.index(model), model, star)
        return pa.concat_tables([counts, merged.cast(counts.schema)])
    merged = prof.merge_counts(counts, keys, model, "*").select(counts.column_names)
    return pa.concat_tables([counts, merged.cast(counts.schema)])


def dense_histograms(hists: pa.Table, specs: dict[str, BinSpec]) -> dict[tuple, Any]:
    """Histograms as {key: dense counts | {item: count}} (numeric columns: those in `specs`)."""
    keys = ["granularity", "window_start", MODEL, "slice_key", "slice_value", "column_name"]
    dense: dict[tuple, Any] = {}
    bins = hists["bin"].fill_null(0).to_numpy()
    counts = hists["count"].to_numpy().astype(np.float64)
    items = hists["item"].to_pylist()
    # Row indices per group (no per-group DataFrame: hundreds of groups per refresh).
    groups = hists.select(keys).to_pandas().groupby(keys, dropna=False, sort=False).indices
    for key, rows in groups.items():
        key = (key[0], utc_or_none(key[1]), *[None if is_missing(k) else k for k in key[2:]])
        column = key[-1]
        if column in specs:
            dense[key] = np.bincount(bins[rows], counts[rows], specs[column].bins)
        else:
            dense[key] = {items[i]: int(counts[i]) for i in rows}
    return dense


def is_missing(value: Any) -> bool:
    """None, NaN or NaT (a group key pandas filled in); False for anything else."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
