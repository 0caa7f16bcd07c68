"""Month ends, the monthly feature table's cutoffs (its point-in-time use is tested in
tests/trainers/test_training_set.py)."""

from __future__ import annotations

from datetime import date

import pytest

from churnops.data.feature_store import FeatureStoreError
from churnops.data.feature_store.timeseries import month_ends


def test_month_ends():
    assert month_ends(date(1997, 1, 1), date(1997, 3, 30)) == [date(1997, 1, 31), date(1997, 2, 28)]
    assert month_ends(date(1999, 12, 5), date(2000, 2, 29))[-1] == date(2000, 2, 29)
    with pytest.raises(FeatureStoreError, match="before start"):
        month_ends(date(2000, 1, 1), date(1999, 1, 1))
