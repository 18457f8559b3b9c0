"""A newly bound officer's open backlog: one outbox row per active finding assigned to them, once
(the dedup key names officer and finding, so binding again sends nothing twice)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ..findings.messages import current_messages
from ..statuses import ACTIVE_STATUSES
from ..findings.repo import FindingQuery, MessageRepo
from .model import parse_json


class BacklogRepo(MessageRepo, FindingQuery, Protocol):
    """What enqueueing a newly bound officer's backlog calls on the store."""
    def finding_data(self, finding_id: int) -> str | None: ...
    def enqueue(self, rows: list[dict[str, Any]], cursor: int | None = None) -> int: ...


def enqueue_backlog(store: BacklogRepo, officer_id: str, now: datetime) -> int:
    """Outbox rows (kind `backlog`) for the officer's active findings; the number written."""
    rows = current_messages(store, store.query_findings(statuses=ACTIVE_STATUSES, assignee=officer_id), now)
    at = now.isoformat(timespec="seconds")
    out = []
    for f in rows:
        facts = parse_json(store.finding_data(f["id"]))
        payload = {"event_id": None, "action": "backlog", "finding_id": f["id"], "rule": f["rule"],
                   "title": facts.get("rule_title"), "clause": f["clause"], "standard": f["standard"],
                   "subject": f["subject"], "org": f["org"], "severity": f["severity"], "message": f["message"],
                   "due_at": f["due_at"], "note": None, "actor": None, "assignee": officer_id,
                   "status": f["status"]}
        out.append({"dedup_key": f"backlog:{officer_id}:{f['id']}", "finding_id": f["id"], "recipient": officer_id,
                    "kind": "backlog", "severity": f["severity"], "payload": payload, "created_at": at})
    return store.enqueue(out)
