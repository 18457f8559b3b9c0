"""The run log: a slot runs once, even across processes; catch-up after an outage runs once;
rows left running by a crashed process are abandoned and their slot may run again."""
from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from checker.store import Store
from scheduler import runlog
from scheduler.jobs import JOBS
from scheduler.runner import Runtime
import pytest

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

TZ = ZoneInfo("Asia/Shanghai")


def at(mo, d, h=9, mi=0):
    return datetime(2026, mo, d, h, mi, tzinfo=TZ)


class Holder:
    rulebook = None


def runtime(cfg, now, **schedule):
    cfg = dataclasses.replace(cfg, schedule=dataclasses.replace(cfg.schedule, **schedule))
    return Runtime(cfg, Holder(), clock=lambda: now)


def slots(store, job):
    return [(r["slot"], r["status"]) for r in reversed(store.job_runs(job))]


def test_a_slot_is_claimed_once_even_by_two_connections(cfg, store):
    other = Store(cfg.database)                       # another process opening the same file
    try:
        first = runlog.claim(store, "daily_scan", "2026-10-09", at(10, 9))
        second = runlog.claim(other, "daily_scan", "2026-10-09", at(10, 9, 9, 1))
    finally:
        other.close()
    assert first is not None and second is None
    runlog.finish(store, first, True, "完成", at(10, 9, 9, 5))
    assert slots(store, "daily_scan") == [("2026-10-09", "ok")]


def test_running_a_slot_twice_runs_the_job_once(cfg, store):
    rt = runtime(cfg, at(10, 9, 9, 1))
    assert rt.run_slot(JOBS["reminders"], at(10, 9)) == "ok"
    assert rt.run_slot(JOBS["reminders"], at(10, 9)) is None
    row = store.job_run("reminders", "2026-10-09")
    assert row["status"] == "ok" and row["detail"].startswith("提醒 0")


def test_catch_up_after_an_outage_runs_the_latest_missed_slot_once(cfg, store):
    rt = runtime(cfg, at(9, 30, 9, 1))
    rt.run_slot(JOBS["reminders"], at(9, 30))                  # ran on 30 Sep, then the service was down
    back = runtime(cfg, at(10, 12, 10, 0))                     # back on Monday 12 Oct at 10:00
    asyncio.run(back.catch_up(["reminders"]))
    asyncio.run(back.catch_up(["reminders"]))                  # a second start the same day: nothing more
    assert slots(store, "reminders") == [("2026-09-30", "ok"), ("2026-10-12", "ok")]


def test_a_job_that_never_ran_is_not_caught_up(cfg, store):
    rt = runtime(cfg, at(10, 12, 10, 0))
    assert rt.missed_slots([JOBS["reminders"], JOBS["weekly_dispatch"]]) == []


def test_catch_up_covers_every_cadence_job_in_slot_order(cfg, store):
    for job, slot in (("reminders", "2026-09-30"), ("monthly_bulletin", "2026-09")):
        runlog.finish(store, runlog.claim(store, job, slot, at(9, 30)), True, None, at(9, 30))
    rt = runtime(cfg, at(10, 9, 12, 0))
    missed = rt.missed_slots([JOBS["monthly_bulletin"], JOBS["reminders"]])
    assert [(s.name, when) for when, s in missed] == [("monthly_bulletin", at(10, 8, 9, 0)),
                                                       ("reminders", at(10, 9, 9, 0))]


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_rows_left_running_by_a_dead_process_are_abandoned_and_rerun_once(cfg, store):
    host = runlog.owner().rpartition(":")[0]
    store.claim_run("reminders", "2026-10-09", "2026-10-09T09:00:00+08:00", f"{host}:{dead_pid()}")
    store.claim_run("daily_scan", "2026-10-09", "2026-10-09T08:30:00+08:00", runlog.owner())   # alive: us
    gone = runlog.abandon_dead(store, at(10, 9, 10))
    assert [r["job"] for r in gone] == ["reminders"]
    assert store.job_run("daily_scan", "2026-10-09")["status"] == "running"
    rt = runtime(cfg, at(10, 9, 10, 5))
    asyncio.run(rt.catch_up(["reminders"]))
    assert slots(store, "reminders") == [("2026-10-09", "ok")]
    assert rt.run_slot(JOBS["reminders"], at(10, 9)) is None


def test_a_failing_job_is_recorded_failed_and_does_not_raise(cfg, store):
    rt = runtime(cfg, at(10, 9, 9, 0))                 # no rules loaded: the scan cannot run
    assert rt.run_slot(JOBS["daily_scan"], at(10, 9, 8, 30)) == "failed"
    row = store.job_run("daily_scan", "2026-10-09")
    assert row["status"] == "failed" and row["detail"].startswith("日扫描失败")
