"""Rectification reminders and escalation (DB33/T 2036.7 §8.1, §8.3; DB50/T 957.7 §4.2 a 督办),
and appointment reminders (DB33/T 2036.7 §5.1.3.1).

Run once a working day by the scheduler (`run_reminders`). For every finding still with its
officer (open, acknowledged, rejected — a submitted one waits for the supervisor) that has a
rectification deadline (`due_at`):

1. from `schedule.remind_before_working_days` working days before the due day until it is due,
   the assignee is reminded — once per finding and due date (a new due date is reminded again);
2. once `due_at` has passed, the finding escalates to the supervisor (督办, level 1);
3. `schedule.escalate_parent_after_working_days` working days after that, still not rectified,
   it escalates to the supervisor of the parent org (level 2; an org without a parent stays at 1).

Appointments: the scan's appointment rule (record kind `appointments`) opens a finding for a
booked slot that nobody has reminded yet. For such a finding whose slot is today or on the next
working day, and whose appointment still has no `reminded_at`, the org's officer (the finding's
assignee) is reminded once per slot to tell the applicant (§5.1.3.1 第2款). govwatch does not
text applicants itself; the appointment system records `reminded_at`, and the finding clears.

Every step goes through checker.findings (`remind`, `escalate`), so it is in the audit trail
and the notify route stage turns it into outbox rows.
"""
from __future__ import annotations

from typing import Any

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from .. import findings
from ..calendar import WorkCalendar
from ..config import Config
from ..statuses import WITH_OFFICER
from .repo import FindingRepo

RECTIFY_CLAUSE = "DB33/T 2036.7 §8.1"          # 改进目标、措施、时限: the deadline being reminded of
APPOINTMENT_CLAUSE = "DB33/T 2036.7 §5.1.3.1"


@dataclass(frozen=True)
class ReminderResult:
    reminded: int = 0            # rectification deadline reminders
    escalated: int = 0           # to the org's supervisor (level 1)
    escalated_parent: int = 0    # to the parent org's supervisor (level 2)
    appointments: int = 0        # appointment reminders

    def __str__(self) -> str:
        return (f"提醒 {self.reminded}，升级督办 {self.escalated}，上报上级 {self.escalated_parent}，"
                f"预约提醒 {self.appointments}")


def run_reminders(store: FindingRepo, cfg: Config, now: datetime) -> ReminderResult:
    """Remind and escalate what is due at `now`; running it again at the same `now` does nothing."""
    cal = WorkCalendar.from_config(cfg.calendar, cfg.tz)
    steps: Counter[str] = Counter()
    for listed in findings.list_findings(store, status=WITH_OFFICER):
        row = store.finding_row(listed["id"])
        step = _step(store, cfg, cal, row, now) if row else None
        if step:
            steps[step] += 1
    return ReminderResult(**steps)


def _step(store: FindingRepo, cfg: Config, cal: WorkCalendar, row: dict[str, Any], now: datetime) -> str | None:
    if row["subject_kind"] == "appointments":
        return _appointment(store, cal, row, now)
    if not row["due_at"]:
        return None
    if now > datetime.fromisoformat(row["due_at"]):
        return _escalate(store, cfg, cal, row, now)
    return _remind(store, cfg, cal, row, now)


def _remind(store: FindingRepo, cfg: Config, cal: WorkCalendar, row: dict[str, Any], now: datetime) -> str | None:
    left = cal.working_days_left(datetime.fromisoformat(row["due_at"]), now)
    if left > cfg.schedule.remind_before_working_days or _reminded(store, row["id"], "due_at", row["due_at"]):
        return None
    findings.remind(store, row["id"], now, data={"due_at": row["due_at"], "working_days_left": left,
                                                  "clause": RECTIFY_CLAUSE})
    return "reminded"


def _escalate(store: FindingRepo, cfg: Config, cal: WorkCalendar, row: dict[str, Any], now: datetime) -> str | None:
    level = row["escalation_level"] or 0
    if level == 0:
        findings.escalate(store, row["id"], 1, now)
        return "escalated"
    if level == 1 and _parent_due(store, cfg, cal, row, now):
        findings.escalate(store, row["id"], 2, now)
        return "escalated_parent"
    return None


def _parent_due(store: FindingRepo, cfg: Config, cal: WorkCalendar, row: dict[str, Any], now: datetime) -> bool:
    if not row["escalated_at"] or not row["org"] or not store.org_ancestors(row["org"]):
        return False
    waited = cal.elapsed(datetime.fromisoformat(row["escalated_at"]), now)
    return waited >= cfg.schedule.escalate_parent_after_working_days


def _appointment(store: FindingRepo, cal: WorkCalendar, row: dict[str, Any], now: datetime) -> str | None:
    appt = store.get("appointments", row["subject"])
    if not appt or appt.get("reminded_at") or appt.get("status") != "booked":
        return None
    slot = datetime.fromisoformat(appt["slot_at"])
    today, day = now.astimezone(cal.tz).date(), slot.astimezone(cal.tz).date()
    if slot < now or cal.count(today, day) > 1 or _reminded(store, row["id"], "slot_at", appt["slot_at"]):
        return None
    findings.remind(store, row["id"], now, data={"slot_at": appt["slot_at"], "clause": APPOINTMENT_CLAUSE})
    return "appointments"


def _reminded(store: FindingRepo, finding_id: int, key: str, value: str) -> bool:
    """Whether this finding was already reminded for this due date (or appointment slot)."""
    return any(e["action"] == "remind" and (e["data"] or {}).get(key) == value
               for e in store.finding_events(finding_id))
