"""The refresh's quality metrics, computed from the engine's bins, are the training metrics."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from churnops.monitoring.refresh.quality import (
    expected_calibration_error_of_bins,
    quality_bins_query,
)
from churnops.trainers.evaluation import expected_calibration_error


@pytest.mark.parametrize("k", [10, 4, 20])
def test_ece_from_the_engines_bins_equals_the_trainers_ece(engine, k):
    rng = np.random.default_rng(3)
    p = rng.beta(1.2, 3.0, 5000)
    p[:4] = [0.0, 0.1, 0.5, 1.0]  # bin edges and both ends
    y = (rng.random(len(p)) < p**0.8).astype(np.int64)  # not calibrated: the ECE is not ~0
    frame = engine.from_arrow(
        pa.table({"g": ["x"] * len(p), "p": p, "_label": y, "pred": (p > 0.5).astype(np.int64)})
    )
    counts = engine.to_arrow(quality_bins_query(frame, ["g"], "p", "pred"))
    bins = {c: counts[c].to_numpy() for c in counts.column_names if c != "g"}
    bins["_pbin"] = bins["_pbin"].astype(np.int64)
    bins["_label"] = bins["_label"].astype(np.int64)
    expected = expected_calibration_error(y, p, bins=k)
    assert expected > 0.01
    assert expected_calibration_error_of_bins(bins, k) == pytest.approx(expected, abs=1e-12)
