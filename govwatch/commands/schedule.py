"""`govwatch schedule`: when every scheduled job runs next (DB50/T 957.7 §4.2 cadence)."""
from __future__ import annotations

import sys
from datetime import datetime, timedelta

from checker.evaluate import holiday_years
from scheduler.service import next_runs

from ..shell import JSON, NOW, command, emit_json, parse_now


@command("schedule", "各定时任务的下次运行时间（DB50/T 957.7 §4.2）", NOW, JSON)
def schedule(ctx, ns) -> int:
    now = parse_now(ns.now, ctx.config.tz)
    rows = next_runs(ctx.config, now)
    soon = [datetime.fromisoformat(r["next_run"]) for r in rows if r["next_run"]]
    runs = tuple(r for r in soon if r - now <= timedelta(days=31))   # the next year's schedule comes in November
    if text := holiday_years.warning(holiday_years.missing_years(None, ctx.config, now, also=runs)):
        print(text, file=sys.stderr)
    if ns.json:
        emit_json(rows)
        return 0
    for r in rows:
        when = r["next_run"] or "（已停用）"
        print(f"{r['job']:<20} {r['title']:<8} {when:<27} {r['trigger']}")
    return 0
