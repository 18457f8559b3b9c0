"""Bot commands and buttons register here, next to their handler (decorators), not in hand-kept tables.

Every registered handler is wrapped once: it learns who the Telegram user is (a `checker.access.Scope`
or nobody), refuses strangers and wrong roles with a short Chinese text, and turns a GovwatchError
into its message.
"""
from __future__ import annotations

import asyncio
import functools
import html
import logging
from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable

from checker import redact
from checker.access import Scope
from checker.errors import GovwatchError
from checker.store import Store

from .notifiers.telegram import keyboard

log = logging.getLogger(__name__)

BOT_COMMANDS: list[tuple[str, str]] = []          # (name, Chinese description), in menu order
COMMANDS: dict[str, "Registered"] = {}
BUTTONS: dict[str, "Registered"] = {}             # callback data prefix → handler

UNKNOWN_USER = ("您还没有绑定效能监管助手。请向本单位管理员索取绑定码，收到后直接把绑定码发给我即可。"
                "绑定之前看不到任何监管数据。")
HINT = "想查看自己的问题，请发送 /findings；全部命令见 /help。处理提醒请点消息下方的按钮。"
STRANGER_MENU = ("start", "help")              # the menu everyone sees before binding
NOT_IN_MENU = ("start", "bind")                # what a bound user's menu and /help leave out
STORE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govwatch-bot-store")
PRIVATE_ONLY = "为保护监管数据，效能监管助手只在与您的私聊中回答，请私聊机器人使用。"
ROLE_NAMES = {"officer": "窗口人员", "supervisor": "监管人员", "admin": "管理员"}


@dataclass(frozen=True)
class Registered:
    name: str
    description: str
    fn: Callable
    roles: tuple[str, ...] | None      # None: anyone bound; () : anyone, even strangers


def bot_command(name: str, description: str, roles: tuple[str, ...] | None = None):
    """Register a /command: its menu description (Chinese) and who may use it."""
    def register(fn):
        wrapped = _guard(fn, roles)
        COMMANDS[name] = Registered(name, description, wrapped, roles)
        BOT_COMMANDS.append((name, description))
        return wrapped
    return register


def button(prefix: str, roles: tuple[str, ...] | None = None):
    """Register an inline-button handler for callback data `<prefix>:<args>`."""
    def register(fn):
        wrapped = _guard(fn, roles)
        BUTTONS[prefix] = Registered(prefix, fn.__doc__ or prefix, wrapped, roles)
        return wrapped
    return register


def _guard(fn, roles):
    @functools.wraps(fn)
    async def handler(update, context):
        chat = update.effective_chat
        if chat is not None and chat.type != "private":     # a group would show the data to every member
            if update.callback_query is not None:
                await update.callback_query.answer()
            return await context.bot.send_message(chat.id, PRIVATE_ONLY)
        g = Guarded(update, context)
        await g.identify()
        if roles != () and g.scope is None:
            return await g.reply(UNKNOWN_USER)
        if roles and g.scope.role not in roles:
            names = "、".join(ROLE_NAMES[r] for r in roles)
            return await g.reply(f"此操作仅限{names}使用。")
        try:
            return await fn(g)
        except GovwatchError as exc:
            return await g.reply(html.escape(str(exc), quote=False))
    return handler


def menu_for(role: str | None) -> list[tuple[str, str]]:
    """The (command, description) pairs a role's command menu shows; None: a stranger's."""
    if role is None:
        return [(n, d) for n, d in BOT_COMMANDS if n in STRANGER_MENU]
    return [(n, d) for n, d in BOT_COMMANDS if n not in NOT_IN_MENU
            and (COMMANDS[n].roles in (None, ()) or role in COMMANDS[n].roles)]


class Guarded:
    """What a handler needs: the update, shared objects, who is asking, the clock, and a reply."""

    def __init__(self, update, context):
        self.update, self.context = update, context
        data = context.application.bot_data
        self.store, self.cfg, self.rules = data["store"], data["cfg"], data["rules"]
        self.user_id = update.effective_user.id if update.effective_user else None
        self.scope: Scope | None = None
        self.now: datetime = data["clock"]()
        self.args: list[str] = list(context.args or [])

    async def identify(self) -> None:
        if self.user_id:
            self.scope = await self.call(Scope.for_telegram, self.store, self.user_id)

    async def call(self, fn, *args, **kwargs):
        """fn(*args, **kwargs) off the event loop, on the bot's one store thread (the bot's SQLite
        connection is used by one thread at a time): the bot keeps answering while SQLite waits."""
        return await asyncio.get_running_loop().run_in_executor(STORE_THREAD, functools.partial(fn, *args, **kwargs))

    async def aside(self, fn, *args, **kwargs):
        """fn(store, *args, **kwargs) in a thread of its own on a connection of its own (report building:
        seconds of work that must hold up neither the event loop nor the other commands)."""
        def run():
            with Store(self.store.path) as store:
                return fn(store, *args, **kwargs)
        return await asyncio.to_thread(run)

    @property
    def audit(self) -> dict:
        """What every action adds to the audit trail: the Telegram user behind it."""
        return {"telegram_id": self.user_id, "via": "telegram"}

    async def reply(self, text: str, buttons=None, html: bool = True):
        """Answer in the chat (and close the button's spinner when a button was pressed)."""
        query = self.update.callback_query
        if query is not None:
            await query.answer()
        markup = keyboard(buttons) if buttons else None
        return await self.context.bot.send_message(      # no secret leaves the process, even in an error text
            self.update.effective_chat.id, redact.text(text), parse_mode="HTML" if html else None, reply_markup=markup)


from . import handlers  # noqa: E402,F401  (the handlers register themselves; importing commands is enough)
