"""Quartz cron expressions (Databricks job schedules): parse one and find its next firing times.

Fields: seconds minutes hours day-of-month month day-of-week [year]. Supported: `*`, `?`,
lists `a,b`, ranges `a-b`, steps `a/n` and `a-b/n`, month and day names (JAN, MON; day-of-week 1 is
Sunday as in Quartz), `L`, `L-n`, `LW` and `nW` in day-of-month, `nL` and `n#k` in day-of-week.
As in Quartz, exactly one of day-of-month and day-of-week is `?`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
FIELDS = ("seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year")
LAST_YEAR = 2099  # Quartz's own bound on the year field


class QuartzError(ValueError):
    """An expression that is not valid Quartz cron."""


@dataclass(frozen=True)
class QuartzCron:
    """A parsed expression; `next_after` gives the next firing time in its time zone."""

    expression: str
    timezone_id: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int] | None  # None: every year
    day_matches: Callable[[date], bool]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_id)

    def next_after(self, after: datetime) -> datetime | None:
        """The first firing time strictly after `after` (aware), or None when none is left."""
        if after.tzinfo is None:
            raise QuartzError(f"next_after({after!r}): expected a time zone aware datetime")
        tz = self.tz
        start = after.astimezone(tz).replace(tzinfo=None, microsecond=0) + timedelta(seconds=1)
        day = start.date()
        while day.year <= LAST_YEAR:
            if self.years is not None and day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = _first_of_next_month(day)
                continue
            if self.day_matches(day):
                floor = start.time() if day == start.date() else time(0)
                for t in self._times_from(floor):
                    fire = datetime.combine(day, t, tzinfo=tz)
                    # A wall time that a DST jump skips does not exist: Quartz skips it too.
                    if fire.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == fire.replace(
                        tzinfo=None
                    ):
                        return fire
            day += timedelta(days=1)
        return None

    def firings(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Every firing time in (after, until]."""
        t = self.next_after(after)
        while t is not None and t <= until:
            yield t
            t = self.next_after(t)

    def _times_from(self, floor: time) -> Iterator[time]:
        for h in self.hours:
            if h < floor.hour:
                continue
            for m in self.minutes:
                if (h, m) < (floor.hour, floor.minute):
                    continue
                for s in self.seconds:
                    if (h, m, s) >= (floor.hour, floor.minute, floor.second):
                        yield time(h, m, s)


def parse_quartz(expression: str, timezone_id: str = "UTC") -> QuartzCron:
    """Parse a Quartz cron expression; errors name the field, its value and what was expected."""
    parts = expression.split()
    if len(parts) not in (6, 7):
        raise QuartzError(
            f"quartz_cron_expression={expression!r}: expected 6 or 7 fields ({' '.join(FIELDS)}), "
            f"got {len(parts)}"
        )
    try:
        ZoneInfo(timezone_id)
    except (ZoneInfoNotFoundError, ValueError):
        raise QuartzError(f"timezone_id={timezone_id!r}: not an IANA time zone") from None
    sec, minute, hour, dom, month, dow = parts[:6]
    if (dom == "?") == (dow == "?"):
        raise QuartzError(
            f"quartz_cron_expression={expression!r}: expected '?' in exactly one of "
            f"day-of-month ({dom!r}) and day-of-week ({dow!r})"
        )
    return QuartzCron(
        expression=expression,
        timezone_id=timezone_id,
        seconds=tuple(sorted(_values(sec, 0, 59, "seconds"))),
        minutes=tuple(sorted(_values(minute, 0, 59, "minutes"))),
        hours=tuple(sorted(_values(hour, 0, 23, "hours"))),
        months=frozenset(_values(month, 1, 12, "month", MONTHS)),
        years=None
        if len(parts) == 6 or parts[6] == "*"
        else frozenset(_values(parts[6], 1970, LAST_YEAR, "year")),
        day_matches=_day_of_month(dom) if dow == "?" else _day_of_week(dow),
    )


def _values(
    text: str, lo: int, hi: int, field: str, names: dict[str, int] | None = None
) -> set[int]:
    out: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = _number(step_text, 1, hi - lo + 1, field, item) if slash else 1
        if base in ("*", "?"):
            first, last = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = (
                _number(a, lo, hi, field, item, names),
                _number(b, lo, hi, field, item, names),
            )
        else:
            first = _number(base, lo, hi, field, item, names)
            last = hi if slash else first  # Quartz: "5/15" means from 5 every 15
        if first <= last:
            out.update(range(first, last + 1, step))
        else:  # a wrapping range such as FRI-MON or 22-2
            span = list(range(first, hi + 1)) + list(range(lo, last + 1))
            out.update(span[::step])
    return out


def _number(
    text: str, lo: int, hi: int, field: str, item: str, names: dict[str, int] | None = None
) -> int:
    value = (names or {}).get(text.upper())
    if value is None:
        try:
            value = int(text)
        except ValueError:
            allowed = f"{lo}-{hi}" + (f" or {', '.join(names)}" if names else "")
            raise QuartzError(f"{field}={item!r}: {text!r} is not a number ({allowed})") from None
    if not lo <= value <= hi:
        raise QuartzError(f"{field}={item!r}: {value} is outside {lo}-{hi}")
    return value


def _day_of_month(text: str) -> Callable[[date], bool]:
    def last(d: date) -> int:
        return calendar.monthrange(d.year, d.month)[1]

    if text == "L":
        return lambda d: d.day == last(d)
    if text.startswith("L-"):
        offset = _number(text[2:], 0, 30, "day-of-month", text)
        return lambda d: d.day == last(d) - offset
    if text == "LW":
        return lambda d: d == _nearest_weekday(d, last(d))
    if text.endswith("W"):
        target = _number(text[:-1], 1, 31, "day-of-month", text)
        return lambda d: target <= last(d) and d == _nearest_weekday(d, target)
    days = _values(text, 1, 31, "day-of-month")
    return lambda d: d.day in days


def _day_of_week(text: str) -> Callable[[date], bool]:
    def quartz_dow(d: date) -> int:
        return (d.isoweekday() % 7) + 1  # Sunday 1 ... Saturday 7

    if text == "L":
        return lambda d: quartz_dow(d) == 7
    if "#" in text:
        day_text, nth_text = text.split("#", 1)
        day = _number(day_text, 1, 7, "day-of-week", text, DAYS)
        nth = _number(nth_text, 1, 5, "day-of-week", text)
        return lambda d: quartz_dow(d) == day and (d.day - 1) // 7 + 1 == nth
    if text.endswith("L"):
        day = _number(text[:-1], 1, 7, "day-of-week", text, DAYS)
        return lambda d: (
            quartz_dow(d) == day and d.day + 7 > calendar.monthrange(d.year, d.month)[1]
        )
    days = _values(text, 1, 7, "day-of-week", DAYS)
    return lambda d: quartz_dow(d) in days


def _nearest_weekday(d: date, target: int) -> date:
    """Quartz's `W`: the weekday nearest to day `target` of d's month, never leaving the month."""
    t = d.replace(day=target)
    if t.weekday() == 5:  # Saturday: Friday, or Monday when Friday is last month
        return t - timedelta(days=1) if t.day > 1 else t + timedelta(days=2)
    if t.weekday() == 6:  # Sunday: Monday, or Friday when Monday is next month
        last = calendar.monthrange(d.year, d.month)[1]
        return t + timedelta(days=1) if t.day < last else t - timedelta(days=2)
    return t


def _first_of_next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)
