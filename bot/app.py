"""All the wiring of the Telegram bot in one function: `build_application(cfg)`.

Shared objects live in `application.bot_data`: `cfg`, `store` (opened in post_init, closed in
post_shutdown), `rules` (an object with `.rulebook` and `.reload_if_changed()`, i.e. a
checker.rules.holder.RulesHolder) and `clock` (returns the aware `now`). `govwatch serve` (scheduler.service)
runs the Application beside the scheduler, whose delivery job sends the outbox through every enabled channel
(checker.notify.deliver_pending); `deliver(application)` does the same through this bot alone (bench/delivery.py).
"""
from __future__ import annotations

import logging
from datetime import datetime

from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler,
                          MessageHandler, filters)

from checker import notify
from checker.errors import ConfigError
from checker.rules.holder import RulesHolder
from checker.store import Store

from . import handlers
from .commands import ANYONE, COMMANDS, SUPERVISING, guard, menu_for
from .conversations import conversations
from .notifiers.telegram import TelegramNotifier

log = logging.getLogger(__name__)


def build_application(cfg, store_path=None, request=None, rules=None, clock=None) -> Application:
    """The bot: token from the environment (never logged), rate limits and Bot API URLs from config."""
    tg = cfg.telegram
    token = tg.token()
    if not token:
        raise ConfigError(f"未设置 Telegram 令牌：请在环境变量 {tg.token_env} 中提供（见 docs/operations.md 的“Telegram 机器人”一节）")
    builder = ApplicationBuilder().token(token).rate_limiter(AIORateLimiter(
        overall_max_rate=tg.rate_limit.overall_per_second, overall_time_period=1,
        group_max_rate=tg.rate_limit.per_chat_per_minute, group_time_period=60,
        max_retries=tg.rate_limit.max_retries))
    if tg.base_url:
        builder = builder.base_url(tg.base_url)
    if tg.base_file_url:
        builder = builder.base_file_url(tg.base_file_url)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    app = builder.post_init(_post_init).post_shutdown(_post_shutdown).build()
    app.bot_data.update(cfg=cfg, store_path=str(store_path or cfg.database), rules=rules,
                        clock=clock or (lambda: datetime.now(cfg.tz)))
    register(app)
    return app


def register(app: Application) -> None:
    """Every handler of the bot, one line each: conversations first (they own their buttons' states),
    then the /commands (roles from the menu, bot.commands.MENU), the buttons by callback prefix, free text."""
    def command(name: str, fn) -> None:
        app.add_handler(CommandHandler(name, guard(fn, COMMANDS[name].roles)))

    def button(prefix: str, fn, roles: tuple[str, ...] | None = None) -> None:
        app.add_handler(CallbackQueryHandler(guard(fn, roles), pattern=rf"^{prefix}:"))

    for conversation in conversations(app.bot_data["cfg"]):
        app.add_handler(conversation)
    command("start", handlers.start)
    command("help", handlers.help_)
    command("bind", handlers.bind)
    command("status", handlers.status)
    command("findings", handlers.findings)
    command("overdue", handlers.overdue)
    command("overdue_fixes", handlers.overdue_fixes)
    command("escalations", handlers.escalations)
    command("case", handlers.case)
    command("indicators", handlers.indicators)
    command("report", handlers.report)
    command("rules", handlers.rules)
    command("silence", handlers.silence)
    command("unsilence", handlers.unsilence)
    command("reload", handlers.reload)
    command("history", handlers.history)
    command("evidence", handlers.evidence)
    button("pg", handlers.page)
    button(notify.PAGE_VERB, handlers.digest_page)
    button("ack", handlers.ack)
    button("vp", handlers.verify_pass, SUPERVISING)
    button("vpc", handlers.verify_pass_confirmed, SUPERVISING)
    button("vpx", handlers.verify_pass_withdrawn, SUPERVISING)
    button("hist", handlers.history_button)
    button("ev", handlers.evidence_button)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, guard(handlers.text, ANYONE)))
    app.add_error_handler(_on_error)


async def _post_init(app: Application) -> None:
    """Open the store, load the rules when nobody handed them in, publish the command menu."""
    data = app.bot_data
    if data.get("store") is None:                  # post_init is retried when the Bot API is down
        data["store"] = Store(data["store_path"], password_env=data["cfg"].database_password_env)
    if data["rules"] is None:
        data["rules"] = RulesHolder.from_config(data["cfg"], data["store"])
    await publish_menus(app)


async def publish_menus(app: Application) -> None:
    """The strangers' menu for every private chat, and each bound user's role menu in their chat."""
    await app.bot.set_my_commands([BotCommand(name, desc) for name, desc in menu_for(None)])
    for officer in app.bot_data["store"].rows("SELECT telegram_id, role FROM officers WHERE telegram_id IS NOT NULL"):
        try:
            await handlers.publish_menu(app.bot, officer["telegram_id"], officer["role"])
        except TelegramError as exc:             # a chat that is gone keeps the default menu
            log.warning("command menu not set for a chat: %s", type(exc).__name__)


async def _post_shutdown(app: Application) -> None:
    store = app.bot_data.pop("store", None)
    if store is not None:
        store.close()


async def _on_error(update, context) -> None:
    log.error("bot handler failed: %s", type(context.error).__name__, exc_info=context.error)


async def start(app: Application) -> None:
    """For embedding (tests, `serve`): initialize and run post_init, which run_polling does itself."""
    await app.initialize()
    await app.post_init(app)


async def stop(app: Application) -> None:
    await app.shutdown()
    await app.post_shutdown(app)


async def deliver(app: Application, now: datetime | None = None) -> notify.DeliveryResult:
    """Deliver the outbox through this bot (the scheduler's delivery job when a token is set)."""
    data = app.bot_data
    return await notify.deliver_pending(data["store"], data["cfg"], TelegramNotifier(app.bot),
                                        now or data["clock"]())
