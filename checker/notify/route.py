"""The route stage: finding events past the cursor → outbox rows, one per (event, person told)."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from ..calendar import WorkCalendar
from ..findings import review
from ..findings.messages import current_messages
from .model import Ctx, OutboxRepo, parse_json


def route(ctx: Ctx, batch: tuple[()] = ()) -> tuple[()]:
    """Finding events past the cursor → outbox rows, durably; the cursor moves in the same transaction."""
    while True:
        events = ctx.store.events_after(ctx.store.route_cursor())
        if not events:
            return batch
        messages = _messages(ctx, events)
        rows = [row for ev in events for row in _rows_for_event(ctx, {**ev, "f_message": messages[ev["id"]]})]
        ctx.stats["routed"] += ctx.store.enqueue(rows, cursor=events[-1]["id"])


def _messages(ctx: Ctx, events: list[dict[str, Any]]) -> dict[int, str]:
    """Each event's finding message as read now (checker.findings.messages: the clock-moving figures of this moment)."""
    rows = [{"id": ev["finding_id"], "message": ev["f_message"], "event": ev["id"]} for ev in events]
    current_messages(ctx.store, rows, ctx.now)
    return {r["event"]: r["message"] for r in rows}


def _rows_for_event(ctx: Ctx, ev: dict[str, Any]) -> list[dict[str, Any]]:
    payload = {**_payload(ev), "assignee": ev["f_assignee"] or supervisor(ctx.store, ev)}
    if ev["action"] == "submit":
        payload.update(_review(ctx.store, ev["finding_id"]))
    told = recipients(ctx.store, ev)
    if any(kind == "escalation" for _, kind in told):
        payload.update(_overdue(ctx, ev))
    return [{"dedup_key": f"{ev['id']}:{who}", "finding_id": ev["finding_id"], "recipient": who,
             "kind": kind, "severity": ev["f_severity"], "payload": payload, "created_at": ctx.now_iso,
             "not_before": digest_time(ctx) if kind == "escalation" else None}
            for who, kind in told]


def digest_time(ctx: Ctx) -> str:
    """The next `schedule.escalation_digest_time` (today's, or tomorrow's once it has passed): escalations
    reach a supervisor once a day, together."""
    local = ctx.now.astimezone(ctx.cfg.tz)
    at = datetime.combine(local.date(), time.fromisoformat(ctx.cfg.schedule.escalation_digest_time), tzinfo=local.tzinfo)
    return (at if at >= local else at + timedelta(days=1)).isoformat(timespec="seconds")


def _overdue(ctx: Ctx, ev: dict[str, Any]) -> dict[str, Any]:
    """Who is responsible and how many working days the finding is past its deadline."""
    officer = ctx.store.officer(ev["f_assignee"]) if ev["f_assignee"] else None
    days = None
    if ev["f_due_at"]:
        cal = WorkCalendar.from_config(ctx.cfg.calendar, ctx.cfg.tz)
        days = max(0, -cal.working_days_left(datetime.fromisoformat(ev["f_due_at"]), ctx.now))
    return {"assignee_name": (officer or {}).get("name") or ev["f_assignee"], "overdue_days": days}


def recipients(store: OutboxRepo, ev: dict[str, Any]) -> list[tuple[str, str]]:
    """Who is told of an event (docs/ARCHITECTURE.md "Findings ↔ notifications"), deduplicated."""
    action, data = ev["action"], parse_json(ev["data"])
    assignee = ev["f_assignee"] or supervisor(store, ev)
    told: list[tuple[str | None, str]] = []
    if action in ("open", "reopen", "rebound", "assign"):
        kind = "new" if action in ("open", "assign") else "reopened"
        told = [(assignee, kind)]
        if (ev["f_escalation_level"] or 0) >= 1:
            told.append((supervisor(store, ev), kind))
    elif action == "persist":          # 复查后仍存在: back to the supervisor whose 复查 the data contradicts
        told = [(data.get("verifier") or supervisor(store, ev), "persisted"), (assignee, "reopened")]
    elif action == "submit":
        told = [(supervisor(store, ev), "verify_request")]
    elif action in ("verify_fail", "verify_pass", "remind"):
        told = [(assignee, {"verify_fail": "rejected", "verify_pass": "verified", "remind": "reminder"}[action])]
    elif action == "escalate":
        told = [(data.get("to") or _escalation_target(store, ev, data), "escalation")]
    return list(dict.fromkeys((who, kind) for who, kind in told if who))


def supervisor(store: OutboxRepo, ev: dict[str, Any]) -> str | None:
    named: str | None = ev["f_supervisor"]
    if named:
        return named
    found = store.supervisor_for(ev["f_org"]) if ev["f_org"] else None
    return found["id"] if found else None


def _escalation_target(store: OutboxRepo, ev: dict[str, Any], data: dict[str, Any]) -> str | None:
    level = data.get("level") or ev["f_escalation_level"] or 1
    if level < 2 or not ev["f_org"]:
        return supervisor(store, ev)
    parents = store.org_ancestors(ev["f_org"])
    found = store.supervisor_for(parents[0]) if parents else None
    return found["id"] if found else supervisor(store, ev)


def _review(store: OutboxRepo, finding_id: int) -> dict[str, Any]:
    """What a 复查 request shows beside the note: the evidence and what the latest scan says."""
    finding = store.finding_row(finding_id)
    assert finding is not None, "a finding event's finding exists"
    still, said = review.scan_state(store, finding)
    found = review.evidence(store, finding_id)
    return {"scan_state": said, "still_fires": still, "evidence": found[0] if found else None,
            "evidence_path": str(found[1]) if found else None}


def _payload(ev: dict[str, Any]) -> dict[str, Any]:
    facts = parse_json(ev["f_data"])
    return {"event_id": ev["id"], "action": ev["action"], "finding_id": ev["finding_id"],
            "rule": ev["f_rule"], "title": facts.get("rule_title"), "clause": ev["f_clause"],
            "standard": ev["f_standard"], "subject": ev["f_subject"], "org": ev["f_org"],
            "severity": ev["f_severity"], "message": ev["f_message"], "due_at": ev["f_due_at"],
            "note": ev["note"], "actor": ev["actor"]}
