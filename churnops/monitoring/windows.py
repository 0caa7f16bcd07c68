"""Time windows of a granularity: truncation, the previous window, and the `window` struct."""

from __future__ import annotations

import datetime as dt

from churnops.monitoring.config import GRANULARITIES


def as_utc(ts: dt.datetime) -> dt.datetime:
    """A timezone-aware UTC datetime (engines hand back naive or aware ones)."""
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)


def truncate(ts: dt.datetime, granularity: str) -> dt.datetime:
    """The start of the window holding `ts` (what the engines' date_trunc computes)."""
    ts = as_utc(ts)
    unit = GRANULARITIES[granularity]
    if unit == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def next_start(start: dt.datetime, granularity: str) -> dt.datetime:
    """The start of the window after the one starting at `start`."""
    unit = GRANULARITIES[granularity]
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
    return truncate(as_utc(start) - dt.timedelta(microseconds=1), granularity)


def window_struct(start: dt.datetime | None, granularity: str) -> dict[str, dt.datetime] | None:
    """Databricks' `window` value: {start, end} (NULL for baseline rows)."""
    if start is None:
        return None
    start = as_utc(start)
    return {"start": start, "end": next_start(start, granularity)}
