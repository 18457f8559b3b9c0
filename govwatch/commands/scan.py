"""`govwatch scan`: evaluate the rules, reconcile the findings (incremental unless --full)."""
from __future__ import annotations

import sys

from checker.evaluate import holiday_years
from checker.evaluate.scan import evaluate, run_scan
from checker.rules import load_configured
from checker.rules.choice import choose_packs

from ..shell import JSON, NOW, arg, command, emit_json, parse_now


@command("scan", "按规则检查数据并更新发现的问题",
         NOW, arg("--full", action="store_true", help="检查全部记录，而不只是未结和有变化的记录"),
         arg("--engine", choices=("sql", "durable"), default="sql",
             help="sql（默认）：每条记录规则一条 SQL 查询；durable：durable-rules 参考引擎"),
         arg("--dry-run", action="store_true", help="只在 --now 时刻试算并显示数量，不写入任何数据（可早于上次扫描）"),
         JSON)
def scan(ctx, ns) -> int:
    cfg = ctx.config
    now = parse_now(ns.now, cfg.tz)
    if ns.dry_run:                    # any --now, even before the last scan: nothing is written
        ev = evaluate(ctx.store, cfg, load_configured(cfg, ctx.store), now, full=True, engine=ns.engine)
        if ns.json:
            emit_json({"dry_run": True, "now": now.isoformat(timespec="seconds"), "evaluated": ev.count,
                       "firings": len(ev.firings)})
        else:
            print(f"试运行（未写入任何数据）{now.isoformat(timespec='seconds')}：评估 {ev.count} 条，"
                  f"触发 {len(ev.firings)} 条")
        return 0
    if warning := choose_packs(cfg, ctx.store).warning:
        print(warning, file=sys.stderr)
    result = run_scan(ctx.store, cfg, load_configured(cfg, ctx.store), now, full=ns.full, engine=ns.engine)
    if text := holiday_years.warning(holiday_years.missing_years(ctx.store, cfg, now)):
        print(text, file=sys.stderr)
    if ns.json:
        emit_json(result.as_json())
    else:
        print(f"扫描 #{result.scan_id}（{result.now}）：评估 {result.evaluated} 条，新增 {result.opened}，"
              f"消除 {result.resolved}，重开 {result.reopened}，当前未关闭 {result.open}")
    ctx.store.checkpoint()            # the scan's WAL folded back, reported first (run_scan)
    return 0
