"""Rectification reminders and escalation (DB33/T 2036.7 §8.3), appointment reminders (§5.1.3.1)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from checker import findings as fnd
from checker.findings import Firing
from checker.notify import route_now
from checker.findings.reminders import ReminderResult, run_reminders

import shipped  # tests/shipped.py: the real rule packs

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

TZ = ZoneInfo("Asia/Shanghai")
DUE = "2026-10-16T23:59:59+08:00"          # a Friday


APPT_RULE = shipped.rule("db33.appointment.no_reminder")


def at(mo, d, h=9, mi=0):
    return datetime(2026, mo, d, h, mi, tzinfo=TZ)


@pytest.fixture
def db(store):
    store.db["orgs"].insert_all([
        {"code": "330100", "name": "杭州市", "parent": None, "level": "city"},
        {"code": "330102", "name": "上城区", "parent": "330100", "level": "district"},
    ])
    store.db["officers"].insert_all([
        {"id": "O1", "name": "王一", "org": "330102", "role": "officer"},
        {"id": "S1", "name": "张监", "org": "330102", "role": "supervisor"},
        {"id": "S0", "name": "周监", "org": "330100", "role": "supervisor"},
    ])
    return store


def open_finding(store, cfg, due=DUE, subject="C001", now=at(10, 9)) -> int:
    firing = Firing(rule=shipped.rule("db33.case.overdue"), subject=subject, subject_kind="cases", org="330102", message=f"办件 {subject} 待整改",
                    due_at=due, handler="O1", facts={"case_no": subject})
    fnd.reconcile(store, cfg, 1, now, [firing], {"db33.case.overdue": {subject}})
    return store.scalar("SELECT id FROM findings WHERE subject = ?", (subject,))


def actions(store, fid):
    return [(e["action"], (e["data"] or {}).get("level")) for e in store.finding_events(fid)][1:]


def outbox(store, cfg, now):
    route_now(store, cfg, now)
    return [(r["recipient"], r["kind"]) for r in store.outbox()]


def test_officer_is_reminded_one_working_day_before_the_due_day_once(db, cfg):
    fid = open_finding(db, cfg)
    assert run_reminders(db, cfg, at(10, 14)).reminded == 0          # Wed: two working days left
    assert run_reminders(db, cfg, at(10, 15)).reminded == 1          # Thu: one left
    assert run_reminders(db, cfg, at(10, 15, 15)).reminded == 0      # the same day again
    assert run_reminders(db, cfg, at(10, 16)).reminded == 0          # due day: already reminded
    assert actions(db, fid) == [("remind", None)]
    assert outbox(db, cfg, at(10, 16)) == [("O1", "new"), ("O1", "reminder")]


def test_reminder_window_counts_working_days_across_national_day(db, cfg):
    fid = open_finding(db, cfg, due="2026-10-08T23:59:59+08:00", now=at(9, 28))
    assert run_reminders(db, cfg, at(9, 29)).reminded == 0
    assert run_reminders(db, cfg, at(9, 30)).reminded == 1           # last working day before Oct 8
    assert actions(db, fid) == [("remind", None)]


def test_a_new_due_date_is_reminded_again(db, cfg):
    fid = open_finding(db, cfg)
    run_reminders(db, cfg, at(10, 15))
    open_finding(db, cfg, due="2026-10-23T23:59:59+08:00", now=at(10, 16))   # the scan moved the deadline
    assert run_reminders(db, cfg, at(10, 22)).reminded == 1
    assert [e["data"]["due_at"] for e in db.finding_events(fid) if e["action"] == "remind"] == [
        DUE, "2026-10-23T23:59:59+08:00"]


def test_overdue_escalates_to_supervisor_then_parent_org_after_three_working_days(db, cfg):
    fid = open_finding(db, cfg)
    run_reminders(db, cfg, at(10, 15))
    assert run_reminders(db, cfg, at(10, 19)).escalated == 1          # Mon: past due → 督办
    for day in (20, 21):
        assert run_reminders(db, cfg, at(10, day)) == ReminderResult()    # waiting for the parent step
    assert run_reminders(db, cfg, at(10, 22)).escalated_parent == 1   # 3 working days later
    assert run_reminders(db, cfg, at(10, 23)).escalated_parent == 0
    assert actions(db, fid) == [("remind", None), ("escalate", 1), ("escalate", 2)]
    row = db.finding_row(fid)
    assert row["escalation_level"] == 2
    assert outbox(db, cfg, at(10, 23))[-2:] == [("S1", "escalation"), ("S0", "escalation")]


def test_a_submitted_rectification_is_neither_reminded_nor_escalated(db, cfg):
    fid = open_finding(db, cfg)
    fnd.submit(db, fid, "O1", "已整改", now=at(10, 14))
    for day in (15, 19, 22):
        assert str(run_reminders(db, cfg, at(10, day))) == "提醒 0，升级督办 0，上报上级 0，预约提醒 0"
    assert actions(db, fid) == [("submit", None)]


def test_an_org_without_parent_stays_with_its_supervisor(db, cfg):
    db.db["officers"].insert({"id": "O0", "name": "市窗口", "org": "330100", "role": "officer"})
    firing = Firing(rule=shipped.rule("db33.case.overdue"), subject="C009", subject_kind="cases", org="330100", message="办件 C009 待整改",
                    due_at=DUE, handler="O0", facts={})
    fnd.reconcile(db, cfg, 1, at(10, 9), [firing], {"db33.case.overdue": {"C009"}})
    fid = db.scalar("SELECT id FROM findings WHERE subject = 'C009'")
    for day in (19, 22, 26):
        run_reminders(db, cfg, at(10, day))
    assert [a for a in actions(db, fid) if a[0] == "escalate"] == [("escalate", 1)]


def appointment(store, cfg, slot_at, reminded_at=None, status="booked", now=at(10, 15)) -> int:
    store.db["appointments"].insert({"id": "AP1", "org": "330102", "item_code": "X1", "slot_at": slot_at,
                                     "reminded_at": reminded_at, "status": status}, replace=True)
    firing = Firing(rule=APPT_RULE, subject="AP1", subject_kind="appointments", org="330102",
                    message="预约 AP1 将于明天到期，仍未提醒", due_at=None, handler=None, facts={})
    fnd.reconcile(store, cfg, 1, now, [firing], {APPT_RULE.id: {"AP1"}})
    return store.scalar("SELECT id FROM findings WHERE subject = 'AP1'")


def test_appointment_on_the_next_working_day_is_reminded_once(db, cfg):
    fid = appointment(db, cfg, "2026-10-19T10:00:00+08:00")             # Monday, seen on Friday
    assert run_reminders(db, cfg, at(10, 16)).appointments == 1
    assert run_reminders(db, cfg, at(10, 16, 14)).appointments == 0
    assert [e["data"]["clause"] for e in db.finding_events(fid) if e["action"] == "remind"] == [
        "DB33/T 2036.7 §5.1.3.1"]
    assert outbox(db, cfg, at(10, 16))[-1] == ("O1", "reminder")


def test_appointment_further_away_or_already_reminded_is_left_alone(db, cfg):
    appointment(db, cfg, "2026-10-20T10:00:00+08:00")                   # two working days away
    assert run_reminders(db, cfg, at(10, 16)).appointments == 0
    appointment(db, cfg, "2026-10-19T10:00:00+08:00", reminded_at="2026-10-16T08:00:00+08:00")
    assert run_reminders(db, cfg, at(10, 16)).appointments == 0
