"""The connection every store mixin shares."""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils


class StoreBase:
    """One SQLite file (WAL), opened through sqlite-utils. Mixins add the SQL of one concept each."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
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
