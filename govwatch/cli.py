"""Command-line entry point. Each command parses, calls one library function, and turns errors
into a one-line message and an exit code (0 done, 1 problems found, 2 bad usage or input)."""
from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import logging
import os
import sqlite3
import sys
from pathlib import Path

from checker import config as config_mod
from checker import redact
from checker.errors import GovwatchError
from checker.store import DatabaseBusy, Store, is_busy

from .commands import COMMANDS

CREATES_DATABASE = ("import", "demo", "sample")


class Context:
    """What a command needs: the config, and the store opened on first use."""

    def __init__(self, ns: argparse.Namespace):
        self.ns = ns
        self.config = config_mod.load(ns.config, database=ns.db)
        self._store = None

    @property
    def store(self):
        if self._store is None:
            # Only these commands may make a new database; the others refuse a missing file.
            self._store = Store(self.config.database, create=self.ns.command in CREATES_DATABASE,
                                password_env=self.config.database_password_env)
        return self._store

    def close(self):
        if self._store is not None:
            self._store.close()


# argparse's own words (usage, section heads, errors), in Chinese. argparse looks them up through
# its module-level gettext `_` when a parser is built and when it reports an error; `chinese()`
# swaps that lookup for the length of a govwatch run only.
ZH = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "optional arguments": "选项",
    "show this help message and exit": "显示本帮助并退出",
    "show program's version number and exit": "显示版本号并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "the following arguments are required: %s": "缺少必需的参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选择：%(value)r（可选：%(choices)s）",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "expected one argument": "需要一个值",
    "expected at most one argument": "最多一个值",
    "expected at least one argument": "至少需要一个值",
    "invalid %(type)s value: %(value)r": "无效的 %(type)s 值：%(value)r",
    "ambiguous option: %(option)s could match %(matches)s": "有歧义的选项：%(option)s 可以是 %(matches)s",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "参数 %s 中必须给出一个",
    "ignored explicit argument %r": "忽略了显式给出的值 %r",
    "unexpected option string: %s": "意外的选项：%s",
    "%(prog)s: error: ": "%(prog)s：错误：",
}


@contextlib.contextmanager
def chinese():
    """argparse speaks Chinese inside the block (help texts, usage and error messages)."""
    saved, saved_n = argparse._, argparse.ngettext
    argparse._ = lambda text: ZH.get(text, saved(text))
    argparse.ngettext = lambda one, many, n: (f"需要 %s 个值" if "expected" in one else saved_n(one, many, n))
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved, saved_n


def version() -> str:
    try:
        number = importlib.metadata.version("govwatch")
    except importlib.metadata.PackageNotFoundError:
        number = "未安装"
    return f"govwatch {number}（效能监管助手；Python {sys.version.split()[0]}）"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="govwatch", description="效能监管助手 govwatch：依据 DB33/T 2036.7 和 DB50/T 957.7 "
                                "检查政务服务工作，发送提醒，生成报告。用 govwatch 命令 --help 查看各命令的用法。")
    p.add_argument("--version", action="version", version=version(), help="显示版本号并退出")
    p.add_argument("--config", help="配置文件（默认：当前目录下的 config.yaml，如有）")
    p.add_argument("--db", help="SQLite 数据库文件或 postgresql:// 地址（优先于配置项 database）")
    sub = p.add_subparsers(dest="command", metavar="命令", required=True, title="命令",
                           help="下列之一；govwatch 命令 --help 查看其用法")
    for cmd in COMMANDS.values():
        sp = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        for flags, kw in cmd.args:
            sp.add_argument(*flags, **kw)
    return p


def main(argv: list[str] | None = None) -> int:
    with chinese():
        ns = build_parser().parse_args(argv)
    if ns.config is None:
        ns.config = "config.yaml" if Path("config.yaml").is_file() else None
    try:
        ctx = Context(ns)
    except GovwatchError as exc:
        print(f"govwatch: {redact.text(exc)}", file=sys.stderr)
        return exc.exit_code
    _setup_logging(ctx.config)
    try:
        return COMMANDS[ns.command].run(ctx, ns) or 0
    except GovwatchError as exc:
        print(f"govwatch: {redact.text(exc)}", file=sys.stderr)
        return exc.exit_code
    except sqlite3.DatabaseError as exc:        # a lock held past the wait, a damaged file: one line
        text = DatabaseBusy(ctx.config.database) if is_busy(exc) else f"数据库 {ctx.config.database} 出错：{exc}"
        print(f"govwatch: {redact.text(text)}", file=sys.stderr)
        return 2
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
    redact.install(cfg)        # the token and every channel secret: masked in every log line and traceback
    # httpx logs full request URLs, and a Bot API URL contains the token: keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
