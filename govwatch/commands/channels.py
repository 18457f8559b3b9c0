"""`govwatch channels test [--to OFFICER]`: a test message through each enabled channel, and what each answered."""
from __future__ import annotations

import asyncio

from bot.channels import build_channels, check_secrets, dumps, format_results, test_channels

from ..shell import JSON, NOW, arg, command, parse_now


@command("channels", "消息渠道：test 通过每个已启用的渠道发送一条测试消息",
         arg("action", choices=["test"], help="test：发送测试消息并显示各渠道的答复"),
         arg("--to", metavar="OFFICER", help="接收人工号；默认：在该渠道有账号的每位管理员"),
         NOW, JSON)
def channels_cmd(ctx, ns) -> int:
    check_secrets(ctx.config)
    results = asyncio.run(_run(ctx, ns))
    print(dumps(results) if ns.json else format_results(results))
    return 0 if results and all(r["ok"] for r in results) else 1


async def _run(ctx, ns) -> list[dict]:
    cfg, bot = ctx.config, None
    if cfg.telegram.token():
        from telegram import Bot
        kw = {"base_url": cfg.telegram.base_url} if cfg.telegram.base_url else {}
        bot = Bot(cfg.telegram.token(), **kw)
        await bot.initialize()
    try:
        channels = build_channels(cfg, telegram_bot=bot)
        if [n.channel for n in channels] == ["console"]:
            return []
        return await test_channels(ctx.store, cfg, channels, ns.to, parse_now(ns.now, cfg.tz))
    finally:
        if bot is not None:
            await bot.shutdown()
