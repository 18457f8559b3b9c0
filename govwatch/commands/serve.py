"""`govwatch serve`: the scheduler (and the Telegram bot when a token is set) until SIGTERM."""
from __future__ import annotations

import sys
from datetime import datetime

from checker.evaluate import holiday_years
from checker.rules.choice import choose_packs
from checker.rules.holder import RulesHolder
from scheduler.service import serve as run_service

from ..shell import command


@command("serve", "运行定时任务与消息渠道：按监管节奏扫描、报告并发送通知，直到停止")
def serve(ctx, ns) -> int:
    ctx.store                                             # open and migrate the database before jobs run
    holder = RulesHolder.from_config(ctx.config, ctx.store)    # bad rules: exit 1 with every problem
    if warning := choose_packs(ctx.config, ctx.store).warning:
        print(warning, file=sys.stderr, flush=True)
    if text := holiday_years.warning(holiday_years.missing_years(ctx.store, ctx.config, datetime.now(ctx.config.tz))):
        print(text, file=sys.stderr, flush=True)        # the daily scan also keeps an admin finding per year
    ctx.close()
    return run_service(ctx.config, holder)
