"""Telegram: HTML formatting under 4,096 UTF-16 units and the Notifier over python-telegram-bot's Bot."""
from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter,
                            TelegramError, TimedOut)

from checker.notify import Entry, Message, PermanentError, RetryableError

log = logging.getLogger(__name__)
MAX_MESSAGE = 4096           # Telegram's limit for one text message
# BadRequest texts that mean the chat will never take a message.
GONE = ("chat not found", "user not found", "bot was blocked", "user is deactivated", "peer_id_invalid")


def esc(value) -> str:
    """Escape a value that came from data for Telegram HTML."""
    return html.escape("" if value is None else str(value), quote=False)


def keyboard(rows) -> InlineKeyboardMarkup:
    """Inline buttons from rows of (label, callback data)."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                 for row in rows if row])


class TelegramFormatter:
    """Telegram HTML (b, pre); the actions are inline buttons, a row per finding. A digest longer than
    a page is one message whose 上一页/下一页 buttons edit it in place (checker.notify.digest)."""
    max_length = MAX_MESSAGE
    pages_in_place = True

    def length(self, text: str) -> int:
        """Length as Telegram counts it (UTF-16 code units); counting the raw HTML is conservative."""
        return len(text.encode("utf-16-le")) // 2

    def digest(self, name: str, entries: Sequence[Entry]) -> str:
        head = f"<b>效能监管通知</b>｜{esc(name)}（{len(entries)} 条）"
        return "\n\n".join([head, *(entry_html(e) for e in entries)])

    def digest_page(self, name: str, entries: Sequence[Entry], first: int, total: int, page: int, pages: int) -> str:
        """One page of a long digest: the head says which entries of how many it shows."""
        head = (f"<b>效能监管通知</b>｜{esc(name)}（共 {total} 条，第 {first}–{first + len(entries) - 1} 条，"
                f"第 {page}/{pages} 页）")
        return "\n\n".join([head, *(entry_html(e) for e in entries)])

    def buttons(self, entries: Sequence[Entry]):
        return tuple(e.actions for e in entries if e.actions)


def entry_html(e: Entry) -> str:
    """One finding in a message: what happened, the message, the clause it rests on, the deadline."""
    if not e.basis:
        return f"{e.icon} <b>{esc(e.heading)}</b>\n{esc(e.text)}"
    lines = [f"{e.icon} <b>{esc(e.heading)}</b> {esc(e.title)}", esc(e.text), f"依据 {esc(e.basis)}"]
    if e.due:
        lines[-1] += f"｜整改期限 {esc(e.due)}"
    if e.note:
        lines.append(f"{e.note_label}：{esc(e.note)}")
    lines.extend(esc(d) for d in e.details)
    return "\n".join(lines)


class TelegramNotifier:
    """send() → "chat:message id"; Telegram's errors mapped to retry-later or never."""
    channel = "telegram"
    formatter = TelegramFormatter()

    def __init__(self, bot):
        self.bot = bot

    def address(self, officer: dict):
        return officer.get("telegram_id")

    async def send(self, message: Message) -> str:
        ref = await self.send_text(message.address, message.text, [list(b) for b in message.buttons])
        for row in message.rows:
            if row.kind == "verify_request" and row.payload.get("evidence_path"):
                await self.send_evidence(message.address, row.payload)
        return ref

    async def send_evidence(self, chat_id, payload: dict) -> None:
        """The evidence itself under a 复查 request (best effort: /evidence N sends it again)."""
        path = Path(payload["evidence_path"])
        try:
            with path.open("rb") as fh:
                await self.bot.send_document(int(chat_id), fh, filename=payload.get("evidence") or path.name,
                                             caption=f"问题 #{payload.get('finding_id')} 的整改证据")
        except (OSError, TelegramError) as exc:
            log.warning("evidence of finding %s not sent: %s", payload.get("finding_id"), type(exc).__name__)

    async def send_text(self, chat_id, text_html: str, buttons) -> str:
        if chat_id is None:
            raise PermanentError("未绑定 Telegram（govwatch officers invite 生成绑定码）")
        try:
            message = await self.bot.send_message(int(chat_id), text_html, parse_mode="HTML",
                                                  reply_markup=keyboard(buttons) if buttons else None,
                                                  disable_web_page_preview=True)
        except RetryAfter as exc:
            raise RetryableError(str(exc), retry_after=_seconds(exc)) from exc
        except (Forbidden, ChatMigrated) as exc:
            raise PermanentError(str(exc)) from exc
        except BadRequest as exc:
            if any(g in str(exc).lower() for g in GONE):
                raise PermanentError(str(exc)) from exc
            raise PermanentError(f"Telegram 拒绝了消息：{exc}") from exc
        except InvalidToken as exc:      # 401: the channel as a whole is down until the token works again
            raise RetryableError("Telegram 拒绝了机器人令牌（401），消息保留待发", outage=True) from exc
        except (TimedOut, NetworkError) as exc:
            raise RetryableError(str(exc), outage=True) from exc
        return f"{message.chat_id}:{message.message_id}"


def _seconds(exc: RetryAfter) -> float:
    """RetryAfter's delay in seconds (its public attribute warns of a coming type change in PTB 22)."""
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
