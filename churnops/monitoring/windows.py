"""The one windowing rule: which window of a granularity a timestamp falls in, the window before,
and the `window` struct. The refresh (engine and state), the estimates and the plots all use it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from churnops.monitoring.config import GRANULARITIES

# date_trunc unit -> the pandas period that starts where date_trunc does (weeks run Monday to
# Sunday, as in Spark, DuckDB and Databricks).
_PERIODS = {"hour": "h", "day": "D", "week": "W-SUN", "month": "M", "year": "Y"}


def trunc_unit(granularity: str) -> str:
    """The `date_trunc` unit the engines align windows of `granularity` on (`1 week` -> `week`)."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity={granularity!r}: expected one of {', '.join(GRANULARITIES)}")
    return GRANULARITIES[granularity]


def as_utc(ts: dt.datetime) -> dt.datetime:
    """A timezone-aware UTC datetime (engines hand back naive or aware ones)."""
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)


def utc_or_none(value: Any) -> dt.datetime | None:
    """A timestamp from an engine or pandas (datetime, `pd.Timestamp`, None, NaT) as an aware UTC
    datetime, or None."""
    try:
        if value is None or bool(pd.isna(value)):
            return None
    except (TypeError, ValueError):  # not a scalar pandas can judge: a value
        pass
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return as_utc(value)


def window_start(ts: Any, granularity: str) -> Any:
    """The start of the window of `granularity` holding `ts`: what the engines' `date_trunc`
    computes, naive timestamps read as UTC.

    Args:
        ts: one datetime, or a column of timestamps (anything `pd.to_datetime` reads).
        granularity: one of `GRANULARITIES` (`1 hour` ... `1 year`).

    Returns:
        For a datetime, an aware UTC datetime; for a column, a Series of naive UTC timestamps.
    """
    period = _PERIODS[trunc_unit(granularity)]
    if isinstance(ts, dt.datetime):
        naive = pd.Timestamp(as_utc(ts).replace(tzinfo=None))
        return naive.to_period(period).start_time.to_pydatetime().replace(tzinfo=dt.UTC)
    stamps = pd.to_datetime(pd.Series(ts), utc=True).dt.tz_convert(None)
    return stamps.dt.to_period(period).dt.start_time


def next_start(start: dt.datetime, granularity: str) -> dt.datetime:
    """The start of the window after the one starting at `start`."""
    unit = trunc_unit(granularity)
    steps = {
        "hour": dt.timedelta(hours=1),
        "day": dt.timedelta(days=1),
        "week": dt.timedelta(weeks=1),
    }
    if unit in steps:
        return start + steps[unit]
    if unit == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start.replace(year=start.year + 1)


def previous_start(start: dt.datetime | None, granularity: str) -> dt.datetime | None:
    """The start of the window before the one starting at `start`."""
    if start is None:
        return None
    return window_start(as_utc(start) - dt.timedelta(microseconds=1), granularity)


def window_struct(start: dt.datetime | None, granularity: str) -> dict[str, dt.datetime] | None:
    """Databricks' `window` value: {start, end} (NULL for baseline rows)."""
    if start is None:
        return None
    start = as_utc(start)
    return {"start": start, "end": next_start(start, granularity)}
