from datetime import date, datetime
from zoneinfo import ZoneInfo

from checker.calendar import WorkCalendar
from checker.config import CalendarConfig, HallCalendar

TZ = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=TZ)


def test_national_day_2026_deadline_counts_worked_saturday():
    # Oct 1–7 off, Oct 10 (Saturday) worked: 5 working days after Sep 30 end on Oct 13.
    assert WorkCalendar().deadline(at(2026, 9, 30, 15, 0), 5) == at(2026, 10, 13, 23, 59, 59)


def test_counting_starts_the_next_working_day_even_when_accepted_in_the_morning():
    assert WorkCalendar().deadline(at(2026, 11, 2, 8, 0), 1) == at(2026, 11, 3, 23, 59, 59)


def test_spring_festival_block_2026():
    # Feb 14 (Sat) worked; Feb 15–23 off; Feb 28 (Sat) worked.
    cal = WorkCalendar()
    assert cal.deadline(at(2026, 2, 13, 10, 0), 3) == at(2026, 2, 25, 23, 59, 59)
    assert cal.is_working_day(date(2026, 2, 28)) and not cal.is_working_day(date(2026, 2, 23))


def test_immediate_case_is_due_the_same_day():
    assert WorkCalendar().deadline(at(2026, 10, 9, 10, 0), 5, immediate=True) == at(2026, 10, 9, 23, 59, 59)


def test_suspension_and_extension_move_the_deadline():
    cal = WorkCalendar()
    assert cal.deadline(at(2026, 11, 2, 9, 0), 3, suspended=2, extended=1) == cal.deadline(at(2026, 11, 2, 9, 0), 6)


def test_year_the_package_lacks_is_fixed_through_config():
    cfg = CalendarConfig(extra_holidays=("2027-02-10",), extra_workdays=("2027-02-20",))
    cal = WorkCalendar.from_config(cfg, TZ)
    assert not cal.is_working_day(date(2027, 2, 10))        # a Wednesday made a holiday
    assert cal.is_working_day(date(2027, 2, 20))            # a Saturday made a working day
    assert cal.add(date(2027, 2, 19), 1) == date(2027, 2, 20)


def test_hall_calendar_adds_its_own_days():
    cfg = CalendarConfig(halls={"H1": HallCalendar(extra_holidays=("2026-11-04",))})
    assert not WorkCalendar.from_config(cfg, TZ, hall="H1").is_working_day(date(2026, 11, 4))
    assert WorkCalendar.from_config(cfg, TZ, hall="H2").is_working_day(date(2026, 11, 4))


def test_working_days_left_and_overdue():
    cal = WorkCalendar()
    due = at(2026, 10, 13, 23, 59, 59)
    assert cal.working_days_left(due, at(2026, 10, 12, 9, 0)) == 1
    assert cal.working_days_left(due, at(2026, 10, 13, 9, 0)) == 0
    assert cal.working_days_left(due, at(2026, 10, 15, 9, 0)) == -2
