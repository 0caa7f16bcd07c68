"""Quartz expressions against firing times worked out by hand from a calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from churnops.pipelines.quartz import QuartzError, parse_quartz


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 0 2 * * ?", utc(2024, 1, 1, 3), utc(2024, 1, 2, 2)),
        ("0 0 2 * * ?", utc(2024, 1, 1, 1, 59, 59), utc(2024, 1, 1, 2)),
        ("0 0 2 * * ?", utc(2024, 1, 1, 2), utc(2024, 1, 2, 2)),  # strictly after
        ("0 0/15 * * * ?", utc(2024, 1, 1, 10, 7), utc(2024, 1, 1, 10, 15)),
        ("30 5/20 * * * ?", utc(2024, 1, 1, 10, 45, 31), utc(2024, 1, 1, 11, 5, 30)),
        ("0 0 9-17/4 ? * MON-FRI", utc(2024, 1, 5, 18), utc(2024, 1, 8, 9)),  # Fri -> Mon
        ("0 0 0 ? * SAT,SUN", utc(2024, 1, 1), utc(2024, 1, 6)),
        ("0 15 10 ? * 6L", utc(2024, 1, 1), utc(2024, 1, 26, 10, 15)),  # last Friday
        ("0 0 12 ? * 2#1", utc(2024, 1, 31), utc(2024, 2, 5, 12)),  # first Monday
        ("0 0 12 ? * L", utc(2024, 1, 1), utc(2024, 1, 6, 12)),  # L alone: Saturday
        ("0 0 12 15W * ?", utc(2024, 6, 1), utc(2024, 6, 14, 12)),  # Sat 15th -> Fri
        ("0 0 12 1W * ?", utc(2024, 5, 31, 13), utc(2024, 6, 3, 12)),  # Sat 1st -> Mon 3rd
        ("0 0 12 LW * ?", utc(2024, 8, 1), utc(2024, 8, 30, 12)),  # Sat 31st -> Fri 30th
        ("0 0 12 L * ?", utc(2024, 2, 1), utc(2024, 2, 29, 12)),  # leap year
        ("0 0 12 L-2 * ?", utc(2024, 2, 1), utc(2024, 2, 27, 12)),
        ("0 0 0 31 * ?", utc(2024, 4, 1), utc(2024, 5, 31)),  # April has no 31st
        ("0 0 0 1 JAN,JUL ?", utc(2024, 2, 1), utc(2024, 7, 1)),
        ("0 0 0 1 1 ? 2030", utc(2024, 2, 1), utc(2030, 1, 1)),
    ],
)
def test_next_firing_times(expression: str, after: datetime, expected: datetime) -> None:
    assert parse_quartz(expression).next_after(after) == expected


def test_time_zone_and_dst_gap() -> None:
    cron = parse_quartz("0 30 2 * * ?", "America/New_York")
    ny = ZoneInfo("America/New_York")
    # 02:30 does not exist on 2024-03-10 (clocks jump 02:00 -> 03:00): that day is skipped.
    got = cron.next_after(datetime(2024, 3, 9, 12, tzinfo=ny))
    assert got == datetime(2024, 3, 11, 2, 30, tzinfo=ny)
    assert got.astimezone(UTC) == utc(2024, 3, 11, 6, 30)  # EDT, UTC-4


def test_firings_lists_every_time_in_a_window() -> None:
    cron = parse_quartz("0 0 */6 * * ?")
    got = list(cron.firings(utc(2024, 1, 1), utc(2024, 1, 2)))
    assert got == [utc(2024, 1, 1, h) for h in (6, 12, 18)] + [utc(2024, 1, 2)]


def test_past_last_year_has_no_next_time() -> None:
    assert parse_quartz("0 0 0 1 1 ? 2025").next_after(utc(2026, 1, 1)) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 0 2 * *", "expected 6 or 7 fields"),
        ("0 0 2 * * *", "exactly one of"),
        ("0 0 2 ? * ?", "exactly one of"),
        ("61 0 2 * * ?", "seconds='61': 61 is outside 0-59"),
        ("0 0 2 * FOO ?", "month='FOO': 'FOO' is not a number"),
        ("0 0 2 ? * 2#6", "day-of-week='2#6'"),
    ],
)
def test_bad_expressions_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(QuartzError, match=message):
        parse_quartz(expression)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(QuartzError, match="timezone_id='Mars/Olympus'"):
        parse_quartz("0 0 2 * * ?", "Mars/Olympus")
