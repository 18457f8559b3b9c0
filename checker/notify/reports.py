"""Telling supervisors and admins that a scheduled report was written."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Protocol

from ..config import Config
from ..periods import Period


class ReportNoticeRepo(Protocol):
    """What announcing a generated report calls on the store: who is told, the outbox."""
    def officer_ids_with_roles(self, roles: Iterable[str]) -> list[str]: ...
    def enqueue(self, rows: list[dict[str, Any]], cursor: int | None = None) -> int: ...

REPORT_NAMES = {"daily": "日扫描报表", "weekly": "周调度报表", "monthly": "月通报",
                "quarterly": "季分析报告", "annual": "年考评报告"}


def announce_report(store: ReportNoticeRepo, cfg: Config, kind: str, period: Period, result: object, now: datetime) -> int:
    """Tell every supervisor and admin that a report was written (an outbox row each, once)."""
    people = [{"id": officer} for officer in store.officer_ids_with_roles(("supervisor", "admin"))]
    text = f"{period.label}{REPORT_NAMES.get(kind, kind)}已生成：{getattr(result, 'html_path', '')}"
    rows = [{"dedup_key": f"report:{kind}:{period.code}:{p['id']}", "finding_id": None, "recipient": p["id"],
             "kind": "report", "severity": None, "created_at": now.isoformat(timespec="seconds"),
             "payload": {"text": text, "kind": kind, "period": period.code}} for p in people]
    return store.enqueue(rows)
