"""`govwatch schedule`: when every scheduled job runs next (DB50/T 957.7 §4.2 cadence)."""
from __future__ import annotations

from datetime import datetime

from checker.errors import InputError
from govwatch.cli import JSON, NOW, command, emit_json
from scheduler.service import next_runs


def parse_now(text: str | None, tz) -> datetime:
    """--now as a tz-aware datetime (local time when it has no offset); the real clock without it."""
    if not text:
        return datetime.now(tz)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--now {text!r} 不是 ISO 8601 时间（例如 2026-10-09T09:00+08:00）") from None
    return when if when.tzinfo else when.replace(tzinfo=tz)


@command("schedule", "next run of every scheduled job", NOW, JSON)
def schedule(ctx, ns) -> int:
    rows = next_runs(ctx.config, parse_now(ns.now, ctx.config.tz))
    if ns.json:
        emit_json(rows)
        return 0
    for r in rows:
        when = r["next_run"] or "（已停用）"
        print(f"{r['job']:<20} {r['title']:<8} {when:<27} {r['trigger']}")
    return 0
