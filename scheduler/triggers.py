"""Working-day triggers: the cadence of DB50/T 957.7 §4.2 on the calendar of checker.calendar.

`Cadence` is the pure logic (`next_run(after)`, `last_run(at)`), tested with an injected clock;
`WorkdayTrigger` wraps it for APScheduler 3.x (`get_next_fire_time(previous, now)`).

A cadence runs once per period (a day, an ISO week, a month, a quarter, a year) on one working day
of it, at a local time of day:

- ``daily``   日扫描: every working day;
- ``weekly``  周调度: Friday (DB50/T 957.7 §4.2 b) 每周五); when that Friday is not a working day, the
  last working day before it in the same ISO week; never a worked weekend day (调休 Saturday or
  Sunday): the standard names a weekday, and a week whose Monday–Friday are all off has no run;
- ``monthly`` 月通报: the first working day of the month;
- ``quarterly`` 季分析: the first working day of the quarter (the standard: its first week);
- ``yearly``  年考评: the first working day of the year.

A period without any working day (the Spring Festival week) has no run.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from apscheduler.triggers.base import BaseTrigger

from checker.calendar import WorkCalendar
from checker.periods import Period

PERIOD_OF = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter", "yearly": "year"}
FRIDAY = 4
_MAX_PERIODS = 800  # a bound on the search: a calendar with no working days never loops forever


@dataclass(frozen=True)
class Cadence:
    """Once per period, on its first working day (weekly: its Friday, or the last working day before
    it), at `at` local time."""

    kind: str                 # daily weekly monthly quarterly yearly
    at: time
    calendar: WorkCalendar

    def __post_init__(self):
        if self.kind not in PERIOD_OF:
            raise ValueError(f"unknown cadence {self.kind!r}")

    @property
    def tz(self):
        return self.calendar.tz

    def run_day(self, period: Period) -> date | None:
        """The working day of a period on which the cadence runs, or None when it has none."""
        days = [period.start + timedelta(days=i) for i in range((period.end - period.start).days)]
        if self.kind == "weekly":       # Friday back to Monday: never the week's Saturday or Sunday
            days = [d for d in reversed(days) if d.weekday() <= FRIDAY]
        return next((d for d in days if self.calendar.is_working_day(d)), None)

    def slot_of(self, period: Period) -> datetime | None:
        day = self.run_day(period)
        return datetime.combine(day, self.at, tzinfo=self.tz) if day else None

    def period_of(self, when: datetime) -> Period:
        return Period.containing(PERIOD_OF[self.kind], when.astimezone(self.tz).date())

    def next_run(self, after: datetime) -> datetime:
        """The first run strictly after `after`."""
        period = self.period_of(after)
        for _ in range(_MAX_PERIODS):
            slot = self.slot_of(period)
            if slot and slot > after:
                return slot
            period = Period.containing(period.kind, period.end)
        raise ValueError(f"no working day for cadence {self.kind} after {after.isoformat()}")

    def last_run(self, at: datetime) -> datetime | None:
        """The latest run at or before `at` (None when there is none in reach)."""
        period = self.period_of(at)
        for _ in range(_MAX_PERIODS):
            slot = self.slot_of(period)
            if slot and slot <= at:
                return slot
            period = period.previous()
        return None

    def slot_key(self, run: datetime) -> str:
        """The run log key of a run: the code of its period (2026-10-08, 2026-W41, 2026-10, 2026-Q4, 2026)."""
        return self.period_of(run).code

    def describe(self) -> str:
        return f"{self.kind} at {self.at.strftime('%H:%M')} ({self.tz.key})"


class WorkdayTrigger(BaseTrigger):
    """APScheduler trigger of a Cadence."""

    __slots__ = ("cadence",)

    def __init__(self, cadence: Cadence):
        self.cadence = cadence

    def get_next_fire_time(self, previous_fire_time, now):
        if previous_fire_time is not None:
            return self.cadence.next_run(previous_fire_time)
        return self.cadence.next_run(now - timedelta(microseconds=1))

    def __str__(self):
        return f"workday[{self.cadence.describe()}]"

    def __repr__(self):
        return f"<WorkdayTrigger {self.cadence.describe()}>"


def parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def cadence(kind: str, hhmm: str, calendar: WorkCalendar) -> Cadence:
    return Cadence(kind, parse_hhmm(hhmm), calendar)
