"""The bot's command menu (MENU: name, Chinese description, who may use it) and the guard every handler
is wrapped in; bot/app.py `register(app)` lists the handlers.

`guard(fn, roles)` wraps a handler once: it learns who the Telegram user is (a `checker.findings.access.Scope`
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

from checker import redact
from checker.findings.access import Scope
from checker.errors import GovwatchError
from checker.store import Store

from .notifiers.telegram import keyboard

log = logging.getLogger(__name__)

UNKNOWN_USER = ("您还没有绑定效能监管助手。请向本单位管理员索取绑定码，收到后直接把绑定码发给我即可。"
                "绑定之前看不到任何监管数据。")
HINT = "想查看自己的问题，请发送 /findings；全部命令见 /help。处理提醒请点消息下方的按钮。"
STRANGER_MENU = ("start", "help")              # the menu everyone sees before binding
NOT_IN_MENU = ("start", "bind")                # what a bound user's menu and /help leave out
STORE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govwatch-bot-store")
PRIVATE_ONLY = "为保护监管数据，效能监管助手只在与您的私聊中回答，请私聊机器人使用。"
ROLE_NAMES = {"officer": "窗口人员", "supervisor": "监管人员", "admin": "管理员"}


ANYONE: tuple[str, ...] = ()                    # even strangers
BOUND = None                                    # anyone bound to an officer
SUPERVISING = ("supervisor", "admin")
ADMIN = ("admin",)


@dataclass(frozen=True)
class MenuEntry:
    name: str
    description: str
    roles: tuple[str, ...] | None      # None: anyone bound; () : anyone, even strangers


# The /commands in menu order; bot/app.py register(app) gives each its handler.
MENU: tuple[MenuEntry, ...] = (
    MenuEntry("start", "开始使用，查看身份与帮助", ANYONE),
    MenuEntry("help", "查看可用命令", ANYONE),
    MenuEntry("bind", "用绑定码绑定工号：/bind 绑定码", ANYONE),
    MenuEntry("status", "本人范围内各状态、各等级问题数量", BOUND),
    MenuEntry("findings", "问题清单：/findings [状态]（默认未关闭；状态可写中文，如 已提交整改）", BOUND),
    MenuEntry("overdue", "超期办件（已过承诺办结时间未办结）：/overdue [机构编码]", BOUND),
    MenuEntry("overdue_fixes", "超过整改期限仍未关闭的问题：/overdue_fixes [机构编码]", BOUND),
    MenuEntry("escalations", "升级督办的问题明细（最久超期在前）：/escalations", SUPERVISING),
    MenuEntry("case", "办件详情与剩余工作日：/case 办件编号", BOUND),
    MenuEntry("indicators", "P1–P9 指标：/indicators [期间] [机构编码]", SUPERVISING),
    MenuEntry("report", "报表：/report daily|weekly|monthly|quarterly|annual", SUPERVISING),
    MenuEntry("rules", "当前启用的规则包及版本", BOUND),
    MenuEntry("silence", "静默提醒：/silence 规则 机构 时长 原因（管理员）", ADMIN),
    MenuEntry("unsilence", "取消静默：/unsilence 编号（管理员）", ADMIN),
    MenuEntry("reload", "校验并重新加载规则文件（管理员）", ADMIN),
    MenuEntry("history", "问题的处理经过：/history 问题编号", BOUND),
    MenuEntry("evidence", "查看整改证据文件：/evidence 问题编号", BOUND),
)
COMMANDS: dict[str, MenuEntry] = {m.name: m for m in MENU}
BOT_COMMANDS: list[tuple[str, str]] = [(m.name, m.description) for m in MENU]   # (name, description)


def guard(fn, roles: tuple[str, ...] | None):
    """The handler `fn(g: Guarded)` as python-telegram-bot calls it, refusing group chats, strangers
    (unless roles is ()) and roles not in `roles` (None: anyone bound)."""
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

