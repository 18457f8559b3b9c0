"""Command-line entry point. Each command parses, calls one library function, and turns errors
into a one-line message and an exit code (0 done, 1 problems found, 2 bad usage or input)."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import pkgutil
import sys
from datetime import datetime
from dataclasses import dataclass
from typing import Callable

from checker import config as config_mod
from checker.errors import GovwatchError, InputError

COMMANDS: dict[str, "Command"] = {}


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable
    args: tuple = ()


def arg(*flags, **kw):
    """One argparse argument of a command."""
    return (flags, kw)


JSON = arg("--json", action="store_true", help="machine-readable output on stdout")
NOW = arg("--now", help="fix the clock (ISO 8601, e.g. 2026-10-09T09:00+08:00)")


def command(name: str, help: str, *args):
    """Register a command next to its definition: @command("scan", "…", arg(...), JSON)."""
    def register(fn):
        COMMANDS[name] = Command(name, help, fn, args)
        return fn
    return register


class Context:
    """What a command needs: the config, and the store opened on first use."""

    def __init__(self, ns: argparse.Namespace):
        self.ns = ns
        self.config = config_mod.load(ns.config, database=ns.db)
        self._store = None

    @property
    def store(self):
        if self._store is None:
            from checker.store import Store
            self._store = Store(self.config.database)
        return self._store

    def close(self):
        if self._store is not None:
            self._store.close()


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


def build_parser() -> argparse.ArgumentParser:
    _load_commands()
    p = argparse.ArgumentParser(prog="govwatch", description="效能监管助手 govwatch")
    p.add_argument("--config", help="config file (default: ./config.yaml if present)")
    p.add_argument("--db", help="SQLite database file (overrides config 'database')")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        sp = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        for flags, kw in cmd.args:
            sp.add_argument(*flags, **kw)
    return p


def _load_commands() -> None:
    from . import commands
    for mod in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{mod.name}")


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    if ns.config is None:
        from pathlib import Path
        ns.config = "config.yaml" if Path("config.yaml").is_file() else None
    try:
        ctx = Context(ns)
    except GovwatchError as exc:
        print(f"govwatch: {exc}", file=sys.stderr)
        return exc.exit_code
    _setup_logging(ctx.config)
    try:
        return COMMANDS[ns.command].run(ctx, ns) or 0
    except GovwatchError as exc:
        print(f"govwatch: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:               # `govwatch findings --json | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # as the Python docs advise
        return 0
    finally:
        ctx.close()


def _setup_logging(cfg) -> None:
    handlers = [logging.StreamHandler(sys.stderr)]
    if cfg.logging.file:
        handlers.append(logging.FileHandler(cfg.logging.file, encoding="utf-8"))
    logging.basicConfig(level=cfg.logging.level, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs full request URLs, and a Bot API URL contains the token: keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
