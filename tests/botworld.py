"""A small world for notification and bot tests: orgs, officers of every role, findings made by the
real findings lifecycle (checker.findings.reconcile), imported through the real importer."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from checker import findings as findings_mod
from checker import notify
from checker.ingest import import_file

import shipped  # tests/shipped.py: the real rule packs

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 10, 14, 10, 0, tzinfo=TZ)       # a Wednesday, working day, outside quiet hours

ORGS = [
    {"code": "330100", "name": "杭州市", "level": "city"},
    {"code": "330102", "name": "上城区", "parent": "330100", "level": "district"},
    {"code": "330102001", "name": "上城区行政服务中心", "parent": "330102", "level": "hall"},
    {"code": "330200", "name": "宁波市", "level": "city"},
]
# telegram ids: officer 1001, supervisor 2001, city supervisor 3001, admin 4001, outsider 9001
OFFICERS = [
    {"id": "E1", "name": "张三", "org": "330102001", "role": "officer", "telegram_id": 1001},
    {"id": "E2", "name": "李四", "org": "330102001", "role": "officer"},
    {"id": "S1", "name": "王监管", "org": "330102", "role": "supervisor", "telegram_id": 2001},
    {"id": "S0", "name": "赵市监", "org": "330100", "role": "supervisor", "telegram_id": 3001},
    {"id": "A1", "name": "管理员", "org": "330100", "role": "admin", "telegram_id": 4001},
    {"id": "E9", "name": "宁波窗口", "org": "330200", "role": "officer", "telegram_id": 9001},
]
CASES = [
    {"case_no": "C001", "item_code": "I001", "org": "330102001", "channel": "window",
     "accepted_at": "2026-10-09T09:00:00+08:00", "status": "processing", "handler": "E1"},
]
ITEMS = [
    {"code": "I001", "name": "食品经营许可", "org": "330102001", "type": "行政许可", "in_scope": True,
     "one_visit": True, "statutory_days": 20, "promised_days": 5},
]


def seed(store, cfg, tmp_path) -> None:
    batches = [("orgs", [o]) for o in ORGS] + [("officers", OFFICERS), ("items", ITEMS), ("cases", CASES)]
    for n, (kind, rows) in enumerate(batches):
        path = tmp_path / f"{kind}-{n}.json"
        path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        result = import_file(store, cfg, kind, path, rejects_dir=tmp_path)
        assert result.rejected == 0, kind


def fire(store, cfg, specs, now=DAY, scan_id=1):
    """Open findings: specs are (rule, subject, message, handler[, org]). Returns their ids by subject."""
    firings = [findings_mod.Firing(rule, subject, "cases", org, message, "2026-10-20T23:59:59+08:00", handler,
                                   {"rule_title": rule.title})
               for rule, subject, message, handler, org in (_spec(s) for s in specs)]
    findings_mod.reconcile(store, cfg, scan_id, now, firings, {})
    return {r["subject"]: r["id"] for r in findings_mod.list_findings(store)}


def _spec(s):
    return s if len(s) == 5 else (*s, "330102001")


def Rule(rule_id: str):
    """The shipped rule of that id (tests name the rules they fire)."""
    return shipped.rule(rule_id)


def deliver(store, cfg, notifier, now=DAY):
    """The outbox delivered once through an HTTP channel's notifier, its client closed after."""
    async def go():
        try:
            return await notify.deliver_pending(store, cfg, notifier, now)
        finally:
            await notifier.http.close()
    return asyncio.run(go())


def wait_for(condition, what: str, limit: float = 60, step: float = 0.05) -> None:
    """Poll until the condition holds: a deadline for a hung process or worker, not a timing assertion."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for: {what}")
