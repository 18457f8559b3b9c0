"""The Notifier of checker.notify over the Telegram Bot API (python-telegram-bot's Bot)."""
from __future__ import annotations

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from checker.notify import PermanentError, RetryableError

from .commands import keyboard

# BadRequest texts that mean the chat will never take a message.
GONE = ("chat not found", "user not found", "bot was blocked", "user is deactivated", "peer_id_invalid")


class TelegramNotifier:
    """send() → the message id; Telegram's errors mapped to retry-later or never."""

    def __init__(self, bot):
        self.bot = bot

    async def send(self, chat_id, text_html, buttons) -> str:
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
        except (TimedOut, NetworkError) as exc:
            raise RetryableError(str(exc)) from exc
        return f"{message.chat_id}:{message.message_id}"


def _seconds(exc: RetryAfter) -> float:
    """RetryAfter's delay in seconds (its public attribute warns of a coming type change in PTB 22)."""
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
