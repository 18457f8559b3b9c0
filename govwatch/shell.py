"""What every command module uses: `@command` (a function with its name, help and arguments becomes a
Command), `arg`, the shared --json and --now arguments, parse_now and emit_json.
govwatch/commands/__init__.py lists the commands in COMMANDS; govwatch/cli.py builds the parser from
it and runs one."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from checker.errors import InputError


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable
    args: tuple = ()


def arg(*flags, **kw):
    """One argparse argument of a command."""
    return (flags, kw)


JSON = arg("--json", action="store_true", help="在标准输出打印机器可读的 JSON")
NOW = arg("--now", help="固定当前时间（ISO 8601，如 2026-10-09T09:00+08:00）")


def command(name: str, help: str, *args) -> Callable[[Callable], Command]:
    """A command defined next to its function: @command("scan", "…", arg(...), JSON) makes it a Command
    (listed in govwatch/commands/__init__.py COMMANDS)."""
    def make(fn: Callable) -> Command:
        return Command(name, help, fn, args)
    return make


def parse_now(text: str | None, tz) -> datetime:
    """--now as a tz-aware datetime (naive text is local time); the current time when absent."""
    if not text:
        return datetime.now(tz)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--now 不是 ISO 8601 时间：{text!r}（如 2026-10-09T09:00+08:00）") from None
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt


def emit_json(data) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
