"""`govwatch schedule`: when every scheduled job runs next (DB50/T 957.7 §4.2 cadence)."""
from __future__ import annotations


from govwatch.cli import JSON, NOW, command, emit_json, parse_now
from scheduler.service import next_runs


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
