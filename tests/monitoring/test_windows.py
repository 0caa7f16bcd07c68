"""The one windowing rule: a datetime, a pandas column and the engine's date_trunc agree."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from churnops.monitoring.config import GRANULARITIES
from churnops.monitoring.windows import previous_start, trunc_unit, window_start

STAMPS = [
    dt.datetime(2024, 1, 7, 23, 59, 59, tzinfo=dt.UTC),  # a Sunday: still the week of Mon 1st
    dt.datetime(2024, 1, 8, 0, 0, tzinfo=dt.UTC),  # Monday: a new week
    dt.datetime(2024, 2, 29, 13, 30, tzinfo=dt.UTC),
    dt.datetime(2024, 12, 31, 23, 0, tzinfo=dt.UTC),
]


@pytest.mark.parametrize("granularity", list(GRANULARITIES))
def test_a_datetime_a_column_and_date_trunc_give_the_same_window(granularity):
    unit = trunc_unit(granularity)
    engine = [
        duckdb.execute(
            f"SELECT date_trunc('{unit}', TIMESTAMP '{t:%Y-%m-%d %H:%M:%S}')"
        ).fetchone()[0]
        for t in STAMPS
    ]
    one_by_one = [window_start(t, granularity) for t in STAMPS]
    column = window_start(pd.Series(STAMPS), granularity)
    assert [s.replace(tzinfo=None) for s in one_by_one] == engine
    assert list(column) == engine
    assert all(s.tzinfo == dt.UTC for s in one_by_one)


def test_weeks_start_on_monday_and_previous_start_steps_back_one_window():
    assert window_start(STAMPS[0], "1 week") == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert previous_start(dt.datetime(2024, 3, 1, tzinfo=dt.UTC), "1 month") == dt.datetime(
        2024, 2, 1, tzinfo=dt.UTC
    )


def test_an_unknown_granularity_is_an_error_naming_it():
    with pytest.raises(ValueError, match="granularity='2 days': expected one of 1 hour"):
        window_start(STAMPS[0], "2 days")
