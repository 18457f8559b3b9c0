"""Secrets never leave the process (issue 12 item 3): not in a log line, a traceback on stderr, a run
log detail or a message sent to someone.

Every configured secret (the bot token and each channel's secrets, read from the environment) is
registered at start-up; `text()` replaces each with `***`. Libraries put secrets where they like
(python-telegram-bot's InvalidToken quotes the token, an httpx debug line holds the Bot API URL), so
redaction works on the final text: the logging formatter's output, the excepthook's traceback, and
the text a notifier is handed. Anything shaped like a Telegram bot token is redacted even when it
was never registered.
"""
from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config

MASK = "***"
MIN_LENGTH = 6                       # shorter "secrets" would mask ordinary words
BOT_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}")
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()


def register(*values: str | None) -> None:
    """Add secret values (blank and very short ones are ignored)."""
    global _pattern
    with _lock:
        for v in values:
            if v and len(v) >= MIN_LENGTH:
                _secrets.add(v)
                if ":" in v:                      # a bot token's secret half travels alone too
                    tail = v.split(":", 1)[1]
                    if len(tail) >= MIN_LENGTH:
                        _secrets.add(tail)
        alternatives = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(map(re.escape, alternatives))) if alternatives else None


def text(value: object) -> str:
    """`value` as text with every known secret and every bot-token-shaped string masked."""
    s = value if isinstance(value, str) else str(value)
    pattern = _pattern
    if pattern is not None:
        s = pattern.sub(MASK, s)
    return BOT_TOKEN.sub(MASK, s)


def config_secrets(cfg: Config) -> list[str]:
    """Every secret the config names, read from the environment (absent ones skipped)."""
    found = [cfg.telegram.token()]
    channels = getattr(cfg, "channels", None)
    for name in ("dingtalk", "wecom", "webhook"):
        channel = getattr(channels, name, None)
        for getter in ("app_key", "app_secret", "secret", "token"):
            fn = getattr(channel, getter, None)
            if callable(fn):
                try:
                    found.append(fn())
                except Exception:   # noqa: BLE001 — a missing secret is the channel's problem, not ours
                    pass
    return [s for s in found if s]


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output (message, arguments, traceback) is redacted."""

    def __init__(self, inner: logging.Formatter | None = None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return text(self.inner.format(record))


def install(cfg: Config, handlers: Iterable[logging.Handler] | None = None) -> None:
    """Register the config's secrets; redact every root handler's output and uncaught tracebacks."""
    register(*config_secrets(cfg))
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    sys.stderr.write(text("".join(traceback.format_exception(kind, value, tb))))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread else "?"
    sys.stderr.write(text(f"Exception in thread {name}:\n"
                          + "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))))
