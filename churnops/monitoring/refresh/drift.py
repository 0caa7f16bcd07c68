"""Drift rows (`<table>_drift_metrics`): each window against the previous one and the baseline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from churnops.monitoring.refresh import statistics as st
from churnops.monitoring.windows import previous_start, window_struct

# Histogram key: (granularity, window_start | None, model id, slice_key, slice_value, column).
Key = tuple[str, dt.datetime | None, str, str | None, str | None, str]


def drift_rows(
    hists: dict[Key, Any],
    profiles: dict[Key, dict[str, Any]],
    specs: dict[str, st.BinSpec],
    windows: list[Key],
    model_col: str,
    psi_bins: int,
) -> list[dict[str, Any]]:
    """CONSECUTIVE and BASELINE drift rows for the histogram keys in `windows`.

    `hists` holds dense fine-bin counts (numeric columns) or {item: count} (categorical);
    `profiles` the matching profile rows (count, avg, percent_null).
    """
    rows = []
    for key in windows:
        for drift_type, cmp_key in _comparisons(key):
            if cmp_key not in hists:
                continue
            row = {
                **_row_head(key, cmp_key, drift_type, model_col),
                **_deltas(profiles.get(key), profiles.get(cmp_key)),
            }
            cur, ref, column = hists[key], hists[cmp_key], key[5]
            if column in specs:
                row["data_type"] = "double"
                row.update(numeric_drift(cur, ref, specs[column], psi_bins))
            else:
                row["data_type"] = "string"
                row.update(categorical_drift(cur, ref))
            rows.append(row)
    return rows


def table_drift_rows(
    profiles: dict[Key, dict[str, Any]], windows: list[Key], model_col: str, table_row: str
) -> list[dict[str, Any]]:
    """The table-level (`column_name` `table_row`) drift rows of the windows of `windows`: the
    change in row count and in which columns hold values, against the previous window and the
    baseline, from the profile's table rows."""
    rows = []
    for gran, start, model, skey, sval in dict.fromkeys(k[:5] for k in windows):
        key = (gran, start, model, skey, sval, table_row)
        for drift_type, cmp_key in _comparisons(key):
            if key not in profiles or cmp_key not in profiles:
                continue
            rows.append(
                {
                    **_row_head(key, cmp_key, drift_type, model_col),
                    **_deltas(profiles[key], profiles[cmp_key]),
                }
            )
    return rows


def _comparisons(key: Key) -> list[tuple[str, Key]]:
    """What a window is compared with: the previous window of its model (CONSECUTIVE) and the
    baseline, whose key has no window and model "*" (BASELINE)."""
    gran, start, model, skey, sval, column = key
    prev = previous_start(start, gran)
    return [
        ("CONSECUTIVE", (gran, prev, model, skey, sval, column)),
        ("BASELINE", (gran, None, "*", skey, sval, column)),
    ]


def _row_head(key: Key, cmp_key: Key, drift_type: str, model_col: str) -> dict[str, Any]:
    """The columns that say which window, model, slice and column a drift row compares."""
    gran, start, model, skey, sval, column = key
    cmp_start = cmp_key[1]
    return {
        "window": window_struct(start, gran),
        "window_cmp": window_struct(cmp_start, gran) if cmp_start else None,
        "granularity": gran,
        model_col: model,
        "slice_key": skey,
        "slice_value": sval,
        "column_name": column,
        "drift_type": drift_type,
    }


def numeric_drift(
    cur: np.ndarray, ref: np.ndarray, spec: st.BinSpec, psi_bins: int
) -> dict[str, Any]:
    """KS, Wasserstein and PSI (bins at the reference's quantiles) of `cur` against `ref`."""
    d, p = st.ks_test(cur, ref)
    cuts = st.psi_edges(ref, psi_bins)
    return {
        "ks_test": {"statistic": d, "pvalue": p},
        "wasserstein_distance": st.wasserstein(cur, ref, spec.edges()),
        "population_stability_index": st.population_stability_index(
            st.coarsen(ref, cuts), st.coarsen(cur, cuts)
        ),
    }


def categorical_drift(cur: dict[str, int], ref: dict[str, int]) -> dict[str, Any]:
    """chi2, JS, TV and L-infinity over the union of both sides' items (NULL excluded)."""
    items = sorted({k for k in (*cur, *ref) if k is not None})
    a = np.array([cur.get(k, 0) for k in items], dtype=float)
    b = np.array([ref.get(k, 0) for k in items], dtype=float)
    return st.compare_counts(a, b)


def _deltas(cur: dict[str, Any] | None, ref: dict[str, Any] | None) -> dict[str, Any]:
    if not cur or not ref:
        return {}

    def diff(name: str) -> float | None:
        a, b = cur.get(name), ref.get(name)
        return None if a is None or b is None else float(a) - float(b)

    count = None if cur.get("count") is None or ref.get("count") is None else 0
    if count is not None:
        count = int(cur["count"]) - int(ref["count"])
    return {
        "count_delta": count,
        "avg_delta": diff("avg"),
        "percent_null_delta": diff("percent_null"),
        "percent_zeros_delta": diff("percent_zeros"),
        "percent_distinct_delta": diff("percent_distinct"),
        "non_null_columns_delta": _non_null_delta(cur, ref),
    }


def _non_null_delta(cur: dict[str, Any], ref: dict[str, Any]) -> dict[str, int] | None:
    """Columns with values now and none in the reference (added), and the other way round."""
    a, b = cur.get("non_null_columns"), ref.get("non_null_columns")
    if a is None or b is None:
        return None
    return {"added": len(set(a) - set(b)), "missing": len(set(b) - set(a))}
