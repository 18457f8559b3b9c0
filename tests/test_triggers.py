"""Working-day triggers across the 2026 holiday edges (DB50/T 957.7 §4.2 cadence)."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from checker.calendar import WorkCalendar
from scheduler.triggers import Cadence, WorkdayTrigger

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar(tz=TZ)


def at(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


def runs(kind, start, n, hhmm=time(9, 0), cal=CAL):
    """The next n runs after `start`, each computed from the one before (as the scheduler does)."""
    c, out, t = Cadence(kind, hhmm, cal), [], start
    for _ in range(n):
        t = c.next_run(t)
        out.append(t)
    return out


def test_daily_skips_national_day_and_runs_on_worked_saturday():
    got = [r.date().isoformat() for r in runs("daily", at(2026, 9, 29, 10), 5)]
    assert got == ["2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12"]


def test_daily_runs_on_the_worked_sunday_before_national_day():
    assert runs("daily", at(2026, 9, 19, 12), 1)[0] == at(2026, 9, 20, 9)


def test_daily_same_day_when_the_time_is_still_ahead():
    assert Cadence("daily", time(9, 0), CAL).next_run(at(2026, 10, 8, 8, 59)) == at(2026, 10, 8, 9)
    assert Cadence("daily", time(9, 0), CAL).next_run(at(2026, 10, 8, 9, 0)) == at(2026, 10, 9, 9)


def test_weekly_runs_on_friday_never_on_a_worked_weekend_day():
    # DB50/T 957.7 §4.2 b) 每周五. 2025: Sun 26 Jan, Sat 8 Feb, Sun 28 Sep and Sat 11 Oct are worked.
    got = [r.date().isoformat() for r in runs("weekly", at(2025, 1, 20), 4, time(16, 0))]
    # Fri 24 Jan (not the worked Sunday 26); the Spring Festival week 27 Jan–2 Feb: Mon 27 Jan is its
    # last working weekday; 3–9 Feb: Fri 7 Feb (not the worked Saturday 8); Fri 14 Feb.
    assert got == ["2025-01-24", "2025-01-27", "2025-02-07", "2025-02-14"]
    got = [r.date().isoformat() for r in runs("weekly", at(2025, 9, 22), 3, time(16, 0))]
    # Fri 26 Sep (not Sun 28); 29 Sep–5 Oct: Tue 30 Sep before National Day; Fri 10 Oct (not Sat 11).
    assert got == ["2025-09-26", "2025-09-30", "2025-10-10"]


def test_weekly_holiday_friday_moves_back_within_the_week_only():
    # A config holiday on Fri 13 Nov 2026 and a worked Saturday 14 Nov: Thursday 12 Nov, not Saturday.
    cal = WorkCalendar(extra_holidays=["2026-11-13"], extra_workdays=["2026-11-14"], tz=TZ)
    assert Cadence("weekly", time(16, 0), cal).next_run(at(2026, 11, 9)) == at(2026, 11, 12, 16)
    # A week whose Monday–Friday are all off, with only a worked Sunday: no dispatch that week.
    cal = WorkCalendar(extra_holidays=[f"2026-11-{d}" for d in range(16, 21)], extra_workdays=["2026-11-22"], tz=TZ)
    assert Cadence("weekly", time(16, 0), cal).next_run(at(2026, 11, 14)) == at(2026, 11, 27, 16)


def test_monthly_first_working_day_after_national_day():
    assert runs("monthly", at(2026, 9, 25), 1)[0] == at(2026, 10, 8, 9)


def test_monthly_spring_festival_and_new_year_edges():
    got = [r.date().isoformat() for r in runs("monthly", at(2025, 12, 15), 4)]
    # 1 Jan is a holiday and Sun 4 Jan is worked; Feb 2 Mon; Mar 2 Mon.
    assert got == ["2026-01-04", "2026-02-02", "2026-03-02", "2026-04-01"]


def test_quarterly_and_yearly():
    assert [r.date().isoformat() for r in runs("quarterly", at(2026, 1, 1), 4, time(9, 30))] == [
        "2026-01-04", "2026-04-01", "2026-07-01", "2026-10-08"]
    assert [r.date().isoformat() for r in runs("yearly", at(2025, 6, 1), 2, time(10, 0))] == [
        "2026-01-04", "2027-01-04"]


def test_config_overrides_move_the_run():
    cal = WorkCalendar(extra_holidays=["2026-10-08"], extra_workdays=["2026-10-03"], tz=TZ)
    c = Cadence("monthly", time(9, 0), cal)
    assert c.next_run(at(2026, 9, 25)) == at(2026, 10, 3, 9)
    assert Cadence("daily", time(9, 0), cal).next_run(at(2026, 10, 7, 12)) == at(2026, 10, 9, 9)


def test_last_run_is_the_latest_slot_at_or_before():
    c = Cadence("monthly", time(9, 0), CAL)
    assert c.last_run(at(2026, 10, 7, 23)) == at(2026, 9, 1, 9)
    assert c.last_run(at(2026, 10, 8, 9)) == at(2026, 10, 8, 9)
    assert Cadence("daily", time(8, 30), CAL).last_run(at(2026, 10, 5, 12)) == at(2026, 9, 30, 8, 30)


def test_slot_keys_name_the_period():
    keys = {k: Cadence(k, time(9), CAL).slot_key(at(2026, 10, 8, 9))
            for k in ("daily", "weekly", "monthly", "quarterly", "yearly")}
    assert keys == {"daily": "2026-10-08", "weekly": "2026-W41", "monthly": "2026-10",
                    "quarterly": "2026-Q4", "yearly": "2026"}


def test_times_are_local_whatever_the_clock_zone():
    utc_now = datetime(2026, 9, 30, 1, 0, tzinfo=ZoneInfo("UTC"))    # 09:00 in Shanghai
    nxt = Cadence("daily", time(9, 0), CAL).next_run(utc_now)
    assert nxt == at(2026, 10, 8, 9) and nxt.utcoffset() == timedelta(hours=8)


def test_apscheduler_trigger_first_and_following_fire_times():
    trig = WorkdayTrigger(Cadence("daily", time(9, 0), CAL))
    assert trig.get_next_fire_time(None, at(2026, 9, 30, 9)) == at(2026, 9, 30, 9)
    assert trig.get_next_fire_time(at(2026, 9, 30, 9), at(2026, 9, 30, 9, 0)) == at(2026, 10, 8, 9)


def test_apscheduler_enumerates_missed_runs_on_working_days_only():
    sched = AsyncIOScheduler(timezone=TZ)
    job = sched.add_job(print, WorkdayTrigger(Cadence("daily", time(9, 0), CAL)), id="d",
                        next_run_time=at(2026, 9, 28, 9))
    missed = job._get_run_times(at(2026, 10, 9, 10))      # what the scheduler coalesces
    assert [r.date().isoformat() for r in missed] == [
        "2026-09-28", "2026-09-29", "2026-09-30", "2026-10-08", "2026-10-09"]


def test_unknown_cadence_is_refused():
    with pytest.raises(ValueError):
        Cadence("hourly", time(9), CAL)


def test_govwatch_schedule_lists_every_job_with_its_next_run(tmp_path, capsys):
    import json
    from govwatch import cli
    code = cli.main(["--db", str(tmp_path / "gw.db"), "schedule", "--now", "2026-09-25T00:00+08:00", "--json"])
    runs = {r["job"]: r["next_run"] for r in json.loads(capsys.readouterr().out)}
    assert code == 0
    assert runs["monthly_bulletin"] == "2026-10-08T09:00:00+08:00"      # 1–7 October are holidays
    assert runs["daily_scan"] == "2026-09-28T08:30:00+08:00"           # 25 Sep is Mid-Autumn Festival
    assert runs["weekly_dispatch"] == "2026-09-30T16:00:00+08:00"
    assert runs["annual_evaluation"] == "2027-01-04T10:00:00+08:00"
    assert set(runs) >= {"quarterly_analysis", "reminders", "deliver", "watch_rules"}


def test_govwatch_schedule_refuses_a_bad_now(tmp_path, capsys):
    from govwatch import cli
    assert cli.main(["--db", str(tmp_path / "gw.db"), "schedule", "--now", "next friday"]) == 2
    assert "ISO 8601" in capsys.readouterr().err
