"""The connection every store mixin shares."""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from ..errors import GovwatchError, InputError

LOCK_WAIT_SECONDS = 30


class DatabaseBusy(GovwatchError):
    """Another process held the database's write lock longer than the wait (exit 2); a scheduled
    job that meets it fails this slot and runs again at its next one."""

    def __init__(self, path: str):
        super().__init__(f"数据库 {path} 正被其他进程占用，等待 {LOCK_WAIT_SECONDS:g} 秒后仍未释放，本次操作未执行、"
                         "未写入任何数据。请稍后重试（定时任务会在下一个时点自动再运行）")


def not_a_database(path: str, exc: Exception) -> GovwatchError:
    """The error for a sqlite3 failure at open: busy, or not a (govwatch) SQLite file."""
    if is_busy(exc):
        return DatabaseBusy(path)
    return InputError(f"{path} 不是可用的 SQLite 数据库（{exc}）：请检查 --db 或配置项 database")


def require_file(path) -> None:
    """A read command on a mistyped --db must not make an empty database and report nothing."""
    if str(path) != ":memory:" and not Path(path).is_file():
        raise InputError(f"数据库文件 {path} 不存在：请检查 --db 或配置项 database"
                         "（新建数据库请先 govwatch import 或 govwatch demo）")


def is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class StoreBase:
    """One SQLite file (WAL), opened through sqlite-utils. Mixins add the SQL of one concept each."""

    def __init__(self, path: str | Path):
        """A file that is not SQLite is an InputError, not a traceback."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        wait = LOCK_WAIT_SECONDS
        self.conn = sqlite3.connect(self.path, timeout=wait, check_same_thread=False, isolation_level=None)
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise not_a_database(self.path, exc) from None
        self.db = sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on error: nothing half-written."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def rows(self, sql: str, params=()) -> list[dict]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def packed(self, sql: str, columns, params=()) -> list[tuple]:
        """The `columns` of the rows of `sql` as tuples, fetched as one JSON value. One step instead of
        one a row: a thread that queries beside Python-bound work (the scan's indicator thread) waits
        for the GIL once, not once a row (up to the 5 ms switch interval each time)."""
        names = ", ".join(f'"{c}"' for c in columns)
        value = self.scalar(f"SELECT json_group_array(json_array({names})) FROM ({sql})", params)
        return [tuple(r) for r in json.loads(value)]

    def row(self, sql: str, params=()) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params=()):
        r = self.conn.execute(sql, params).fetchone()
        return r[0] if r else None
