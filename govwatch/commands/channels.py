"""`govwatch channels test [--to OFFICER]`: a test message through each enabled channel, and what each answered."""
from __future__ import annotations

import asyncio

from ..cli import JSON, NOW, arg, command, parse_now


@command("channels", "messenger channels: `test` sends a test message through each enabled channel",
         arg("action", choices=["test"], help="test: send a test message and print each channel's answer"),
         arg("--to", metavar="OFFICER", help="the officer (工号) to send to; default: every admin with an id there"),
         NOW, JSON)
def channels_cmd(ctx, ns) -> int:
    from bot.channels import check_secrets, dumps, format_results
    check_secrets(ctx.config)
    results = asyncio.run(_run(ctx, ns))
    print(dumps(results) if ns.json else format_results(results))
    return 0 if results and all(r["ok"] for r in results) else 1


async def _run(ctx, ns) -> list[dict]:
    from bot.channels import build_channels, test_channels
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
