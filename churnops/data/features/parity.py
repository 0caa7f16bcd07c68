"""Compare two engines' results: same rows, same values to a tolerance."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def compare_frames(
    left: pa.Table, right: pa.Table, key: str = "customer_id", rel_tol: float = 1e-9
) -> list[str]:
    """Differences between two result tables (empty when they match).

    Rows are matched by `key`; numbers must agree to `rel_tol` (relative, or absolute near
    zero), nulls must be null on both sides, everything else must be equal.
    """
    problems: list[str] = []
    if set(left.column_names) != set(right.column_names):
        return [f"columns differ: {sorted(set(left.column_names) ^ set(right.column_names))}"]
    if left.num_rows != right.num_rows:
        return [f"row counts differ: {left.num_rows} != {right.num_rows}"]
    left, right = left.sort_by(key), right.sort_by(key)
    if not left[key].equals(right[key]):
        return [f"the {key} values differ"]
    for name in left.column_names:
        a, b = left[name], right[name]
        if pa.types.is_floating(a.type) or pa.types.is_integer(a.type):
            x = a.cast(pa.float64()).to_numpy(zero_copy_only=False)
            y = b.cast(pa.float64()).to_numpy(zero_copy_only=False)
            nulls_a, nulls_b = np.isnan(x), np.isnan(y)
            if not np.array_equal(nulls_a, nulls_b):
                problems.append(f"{name}: nulls differ in {int((nulls_a ^ nulls_b).sum())} rows")
                continue
            ok = np.isclose(x[~nulls_a], y[~nulls_b], rtol=rel_tol, atol=rel_tol)
            if not ok.all():
                worst = np.abs(x[~nulls_a] - y[~nulls_b]).max()
                problems.append(f"{name}: {int((~ok).sum())} values differ (max {worst:.3g})")
        elif not a.cast(b.type).equals(b):
            problems.append(f"{name}: values differ")
    return problems
