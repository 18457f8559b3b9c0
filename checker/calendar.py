"""Working-day calendar and deadline arithmetic (行政许可法 §82, DESIGN.md "Working days").

Holidays and worked weekend days (调休) come from `holidays.China`; config adds or overrides
days, globally or for one hall. Working days are kept as a sorted list of date ordinals so that
counting and stepping are two bisects, fast enough to compute a deadline for every imported case.
"""
from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from .config import CalendarConfig

END_OF_DAY = time(23, 59, 59)
# Hard bounds: a deadline is at most this many working days away (three ten-year counts, the import
# bound of each of days, suspended and extended), and no date leaves these years. Beyond them the
# arithmetic refuses (CalendarRangeError) instead of building a list over centuries.
MAX_WORKING_DAYS = 3 * 3650
FIRST_YEAR, LAST_YEAR = 1900, 2200


class CalendarRangeError(ValueError):
    """A deadline or a count outside the calendar's bounds: the record cannot be evaluated."""


class WorkCalendar:
    """Which days are working days, and deadlines counted in them."""

    def __init__(self, extra_holidays: Iterable[date | str] = (), extra_workdays: Iterable[date | str] = (),
                 tz: ZoneInfo | None = None):
        self.extra_holidays = frozenset(_as_date(d) for d in extra_holidays)
        self.extra_workdays = frozenset(_as_date(d) for d in extra_workdays)
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self._years: set[int] = set()
        self._ordinals: list[int] = []
        self._counts: dict[tuple[int, int], int] = {}    # a scan asks the same few date pairs again and again

    @classmethod
    def from_config(cls, cal: CalendarConfig, tz: ZoneInfo, hall: str | None = None) -> "WorkCalendar":
        """The calendar of the config, with a hall's own days on top when it has some."""
        hall_cal = cal.halls.get(hall) if hall else None
        holidays_ = list(cal.extra_holidays) + list(hall_cal.extra_holidays if hall_cal else ())
        workdays = list(cal.extra_workdays) + list(hall_cal.extra_workdays if hall_cal else ())
        return cls(holidays_, workdays, tz)

    def is_working_day(self, d: date) -> bool:
        if d in self.extra_workdays:
            return True
        if d in self.extra_holidays:
            return False
        return _china(d.year).is_working_day(d)

    def count(self, after: date, through: date) -> int:
        """Working days in the half-open range (after, through]; negative when through < after."""
        key = (after.toordinal(), through.toordinal())
        if key not in self._counts:
            self._counts[key] = self._count(after, through)
        return self._counts[key]

    def _count(self, after: date, through: date) -> int:
        if through < after:
            return -self._count(through, after)
        _check_years(after, through)
        self._cover(after.year + 1, through.year - 1)          # the years of (after, through] alone
        return bisect.bisect_right(self._ordinals, through.toordinal()) - bisect.bisect_right(
            self._ordinals, after.toordinal()
        )

    def add(self, start: date, n: int) -> date:
        """The Nth working day after `start` (n ≥ 1); n == 0 gives `start` itself."""
        if n <= 0:
            return start
        if n > MAX_WORKING_DAYS:
            raise CalendarRangeError(f"{n} 个工作日超出可计算的范围（最多 {MAX_WORKING_DAYS} 个）")
        _check_years(start)
        year = start.year
        while True:              # a year holds ≥ 200 working days: O(n) days covered at most
            if year > LAST_YEAR:
                raise CalendarRangeError(f"{start} 之后第 {n} 个工作日超出 {LAST_YEAR} 年")
            self._cover(start.year, year + 1)
            i = bisect.bisect_right(self._ordinals, start.toordinal()) + n - 1
            if i < len(self._ordinals):
                return date.fromordinal(self._ordinals[i])
            year += 1 + n // 200

    def deadline(self, accepted_at: datetime, days: int, suspended: int = 0, extended: int = 0,
                 immediate: bool = False) -> datetime:
        """End (23:59:59 local) of the Nth working day after acceptance, moved by suspension and extension.

        A 即办件 (immediate) is due at the end of its acceptance day.
        """
        local = accepted_at.astimezone(self.tz)
        if immediate:           # due at the end of the acceptance day, or of the next working day after a day off
            first = local.date() if self.is_working_day(local.date()) else self.add(local.date(), 1)
            day = self.add(first, (suspended or 0) + (extended or 0))
        else:
            day = self.add(local.date(), int(days) + (suspended or 0) + (extended or 0))
        return datetime.combine(day, END_OF_DAY, tzinfo=self.tz)

    def working_days_left(self, due_at: datetime, now: datetime) -> int:
        """Working days after today up to the due day: 0 = due today, negative = overdue that many days."""
        today = now.astimezone(self.tz).date()
        return self.count(today, due_at.astimezone(self.tz).date())

    def elapsed(self, since: datetime, now: datetime) -> int:
        """Working days elapsed since `since` (counting from the next working day) up to today."""
        return max(0, self.count(since.astimezone(self.tz).date(), now.astimezone(self.tz).date()))

    def _cover(self, first: int, last: int) -> None:
        """The working days of the years first - 1 … last + 1 in `_ordinals` (sorted)."""
        missing = [y for y in range(first - 1, last + 2) if y not in self._years]
        if not missing:
            return
        for year in missing:
            self._years.add(year)
            days = set(_package_working_days(year))
            days -= {d.toordinal() for d in self.extra_holidays if d.year == year}
            days |= {d.toordinal() for d in self.extra_workdays if d.year == year}    # as is_working_day: these win
            self._ordinals += days
        self._ordinals.sort()


def _check_years(*days: date) -> None:
    for d in days:
        if not FIRST_YEAR <= d.year <= LAST_YEAR:
            raise CalendarRangeError(f"日期 {d} 超出工作日历的范围（{FIRST_YEAR}–{LAST_YEAR} 年）")


# ------------------------------------------------------------------------------ ordinals (the workdays table)

TABLE_FIRST_YEAR, TABLE_LAST_YEAR = 2000, 2099        # the widest range the workdays table covers (the import window)


def ordinal_rows(cal: WorkCalendar, first_year: int, last_year: int) -> list[tuple[str, int, int, str]]:
    """(day, ordinal, working, end of day) for every day of the years: the ordinal is the number of
    working days from the first day through `day` inclusive, so the working days in (a, b] are
    ord(b) - ord(a), and the Nth working day after `a` is the working day whose ordinal is ord(a) + N."""
    out, n = [], 0
    d, end = date(first_year, 1, 1), date(last_year, 12, 31)
    one = timedelta(days=1)
    while d <= end:
        work = cal.is_working_day(d)
        n += work
        out.append((d.isoformat(), n, int(work), datetime.combine(d, END_OF_DAY, tzinfo=cal.tz).isoformat()))
        d += one
    return out


@functools.lru_cache(maxsize=None)
def _package_working_days(year: int) -> tuple[int, ...]:
    """The ordinals of a year's working days as the holidays package alone has them: worked out
    once a process (a scan's calendars are made anew each scan and ask for the same few years: 365
    package lookups a year, ~3 ms)."""
    china, one = _china(year), timedelta(days=1)
    d, end, out = date(year, 1, 1), date(year, 12, 31), []
    while d <= end:
        if china.is_working_day(d):
            out.append(d.toordinal())
        d += one
    return tuple(out)


@functools.lru_cache(maxsize=None)
def _china(year: int) -> holidays.HolidayBase:
    china: holidays.HolidayBase = holidays.China(years=year)
    return china


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
