"""Lists people ask for by name: 超期办件 — open cases past their promised deadline (DB33/T 2036.7
§5.2.1.5: 按时办结) — and 升级督办 — escalated findings; in a scope, the longest overdue first."""
from __future__ import annotations

from typing import Any

from datetime import datetime

from .. import findings as fnd
from ..calendar import WorkCalendar
from ..config import Config
from .access import Scope
from .repo import CaseworkRepo

OPEN = ("accepted", "processing")          # a suspended case (特别程序) is not overdue while suspended


def overdue_cases(store: CaseworkRepo, cfg: Config, scope: Scope, now: datetime, org: str | None = None) -> list[dict[str, Any]]:
    """Open cases whose deadline has passed, visible in `scope` (an officer: the cases they handle),
    each with `overdue_days` (working days past the deadline) and the item and handler names."""
    found = store.overdue_open_cases(now.astimezone(cfg.tz).isoformat(timespec="seconds"),
                                     handler=scope.officer_id if scope.role == "officer" else None)
    orgs = store.org_subtree(org) if org else (None if scope.sees_all or scope.role == "officer" else scope.org_codes)
    rows = [r for r in found if (orgs is None or r["org"] in orgs)
            and datetime.fromisoformat(r["due_at"]) < now]
    calendars: dict[str | None, WorkCalendar] = {}
    for r in rows:
        cal = calendars.get(r["hall"]) or calendars.setdefault(
            r["hall"], WorkCalendar.from_config(cfg.calendar, cfg.tz, hall=r["hall"]))
        r["overdue_days"] = max(0, -cal.working_days_left(datetime.fromisoformat(r["due_at"]), now))
    return sorted(rows, key=lambda r: (-r["overdue_days"], r["due_at"], r["case_no"]))


def escalated(store: CaseworkRepo, cfg: Config, scope: Scope, now: datetime) -> list[dict[str, Any]]:
    """Active escalated findings (督办) in `scope`, each with the responsible officer's name and the
    working days past its deadline, the longest overdue first."""
    ids = store.escalated_finding_ids()
    rows = [r for r in fnd.list_findings(store, status="active", scope=scope, now=now) if r["id"] in ids]
    cal = WorkCalendar.from_config(cfg.calendar, cfg.tz)
    names = store.officer_names()
    for r in rows:
        due = datetime.fromisoformat(r["due_at"]) if r.get("due_at") else None
        r["overdue_days"] = max(0, -cal.working_days_left(due, now)) if due else 0
        r["assignee_name"] = names.get(r["assignee"], r["assignee"])
    return sorted(rows, key=lambda r: (-r["overdue_days"], r["id"]))
