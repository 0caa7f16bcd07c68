"""One refreshed shifted-feature scenario, shared by the tests that read its tables."""

from __future__ import annotations

import numpy as np
import pytest

from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.run import refresh_monitor
from tests.monitoring.synthetic_tables import START, baseline_for, labels_for, predictions, write

SHIFT_AT = 4


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    """8 daily windows, f0 shifted by 1 sd from window 4; labels for windows 0-2; a baseline."""
    d = tmp_path_factory.mktemp("shifted")
    preds = predictions(8, 1500, shift_at=SHIFT_AT, versions=("1", "2"))
    write(d / "preds", preds)
    write(d / "baseline", baseline_for(5000))
    days = np.array([(t - START).days for t in preds["timestamp"].to_pylist()])
    write(d / "labels", labels_for(preds.filter(days < 3)))
    cfg = MonitorConfig(
        table=str(d / "preds"),
        output_dir=str(d / "out"),
        baseline_table=str(d / "baseline"),
        labels_table=str(d / "labels"),
        slicing_exprs=["segment"],
    )
    result = refresh_monitor(cfg)
    return cfg, preds, result
