"""The connection every store mixin shares."""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import sqlite_utils

from ..errors import GovwatchError, InputError
from ..ingest.records import KINDS
from .dialect import Dialect, PostgresDialect, dialect_for, is_postgres

# The environment variable holding the password of a PostgreSQL URL, remembered per URL so that a
# store reopened elsewhere in the process (a scan's indicator thread, the bot's worker) finds it.
_PASSWORD_ENV: dict[str, str] = {}

LOCK_WAIT_SECONDS = 30

Params = Sequence[Any] | Mapping[str, Any]     # positional (?) or named (:name) parameters


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


def require_file(path: str | Path) -> None:
    """A read command on a mistyped --db must not make an empty database and report nothing."""
    if str(path) != ":memory:" and not is_postgres(str(path)) and not Path(path).is_file():
        raise InputError(f"数据库文件 {path} 不存在：请检查 --db 或配置项 database"
                         "（新建数据库请先 govwatch import 或 govwatch demo）")


def is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class StoreBase:
    """One SQLite file (WAL) or one PostgreSQL database (a `postgresql://` URL). Mixins add the SQL
    of one concept each; `self.dialect` (checker.store.dialect) is where the two differ."""

    path: str
    dialect: Dialect

    def __init__(self, path: str | Path, password_env: str | None = None):
        """A file that is not SQLite is an InputError, not a traceback."""
        self.path = str(path)
        if password_env and is_postgres(self.path):
            _PASSWORD_ENV[self.path] = password_env
        self.dialect = dialect_for(self.path, _PASSWORD_ENV.get(self.path))
        if isinstance(self.dialect, PostgresDialect):
            self.conn: Any = self.dialect.connect(self.path)   # the dialect's PgConnection, or a sqlite3.Connection
            self.db: sqlite_utils.Database | _Tables = _Tables(self)
        else:
            self.conn = self._open_sqlite()
            self.db = sqlite_utils.Database(self.conn)
        self.dialect.prepare(self.conn)

    def _open_sqlite(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        wait = LOCK_WAIT_SECONDS
        conn = sqlite3.connect(self.path, timeout=wait, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise not_a_database(self.path, exc) from None
        return conn

    @property
    def is_postgres(self) -> bool:
        return bool(self.dialect.name == "postgresql")

    @property
    def files_dir(self) -> Path:
        """Where files kept with the store live (rectification evidence): beside a SQLite file; for
        PostgreSQL the folder named by GOVWATCH_FILES (else the working directory)."""
        if self.is_postgres:
            return Path(os.environ.get("GOVWATCH_FILES") or Path.cwd()).resolve()
        return Path.cwd() if self.path == ":memory:" else Path(self.path).resolve().parent

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Any:        # the concrete store (Store), whatever the subclass
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
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

    def rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def packed(self, sql: str, columns: Sequence[str], params: Params = ()) -> list[tuple[Any, ...]]:
        """The `columns` of the rows of `sql` as tuples (SQLite: fetched as one JSON value, see the dialect)."""
        packed: list[tuple[Any, ...]] = self.dialect.packed(self, sql, columns, params)
        return packed

    def row(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Params = ()) -> Any:
        r = self.conn.execute(sql, params).fetchone()
        return r[0] if r else None

    def current_seq(self) -> int:
        """The store's change number (meta change_seq): the last one an import batch or a scan took."""
        return int(self.scalar("SELECT value FROM meta WHERE key = 'change_seq'"))

    def pass_stamps(self) -> int:
        """Move change_seq two on, past every number the change-stamp triggers have given out (they
        stamp change_seq + 1, checker.store.dialect seq_triggers): a row written in SQL from now on
        is stamped above all rows seen so far. Returns the number skipped (no trigger gives it out
        again). Call inside a transaction."""
        self.conn.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 2 AS TEXT) WHERE key = 'change_seq'")
        return self.current_seq() - 1

    def count_rows(self, table: str) -> int:
        """Rows of any table of the store (the names come from the store's own catalog)."""
        if table not in self.dialect.tables(self.conn):
            raise KeyError(table)
        return int(self.scalar(f'SELECT count(*) FROM "{table}"'))

    def size_bytes(self) -> int:
        """The database's size on disk (SQLite: the file and its WAL; PostgreSQL: the schema's relations)."""
        return int(self.dialect.size_bytes(self))


class _Tables:
    """`store.db[table].insert_all(rows)` on PostgreSQL: the one sqlite-utils call made on a store
    (by tests and tools seeding rows)."""

    def __init__(self, store: StoreBase):
        self.store = store

    def __getitem__(self, table: str) -> "_Table":
        return _Table(self.store, table)


class _Table:
    def __init__(self, store: StoreBase, name: str):
        self.store, self.name = store, name

    def insert_all(self, rows: Iterable[dict[str, Any]], replace: bool = False, **_: Any) -> "_Table":
        rows = list(rows)
        columns = sorted({k for r in rows for k in r})
        if rows and replace:            # replace=True: a row of the same key goes first
            key = KINDS[self.name].key
            where = " AND ".join(f'"{k}" = ?' for k in key)
            self.store.conn.executemany(f'DELETE FROM "{self.name}" WHERE {where}',
                                        [tuple(r.get(k) for k in key) for r in rows])
        if rows:
            cols = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            self.store.conn.executemany(f'INSERT INTO "{self.name}" ({cols}) VALUES ({marks})',
                                        [tuple(r.get(c) for c in columns) for r in rows])
        return self

    def insert(self, row: dict[str, Any], **kw: Any) -> "_Table":
        return self.insert_all([row], **kw)
