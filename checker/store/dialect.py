"""Where SQLite and PostgreSQL differ: the one place in govwatch that knows.

govwatch's SQL is written once, in SQLite's spelling (the embedded default). A store on a
`postgresql://` URL opens a `PgConnection`, which offers the subset of the sqlite3 connection API
the store uses and translates each statement once (cached):

- placeholders `?` and `:name` → `%s` and `%(name)s` (a literal `%` doubled);
- `INSERT OR IGNORE` → `INSERT … ON CONFLICT DO NOTHING`; `BEGIN IMMEDIATE` → `BEGIN`;
- `INDEXED BY ix` (a SQLite planner hint) dropped;
- DDL: `INTEGER PRIMARY KEY AUTOINCREMENT` → an identity column, INTEGER → BIGINT (SQLite's
  integers are 64-bit), REAL → DOUBLE PRECISION, TEXT columns with the binary "C" collation (ISO
  times and codes sort and compare as in SQLite whatever the cluster's locale), `WITHOUT ROWID` dropped;
- `PRAGMA table_info(t)` → the same rows from information_schema;
- `temp.` tables → PostgreSQL temporary tables; a recursive query's parameter seed `(SELECT ? UNION`
  gets the "C" collation of the columns it meets;
- JSON: `json_each(?)` (a JSON array of values) → `json_array_elements_text(…) AS value`,
  `json_extract(x, '$.key')` → `x::json ->> 'key'`;

and SQL functions of SQLite that PostgreSQL lacks are defined in the database by `PG_FUNCTIONS`
(scalar `max(a, b)`/`min(a, b)`, `sum(boolean)`, `round(double, n)`, `unixepoch`, `json_set`, `json_quote`,
`regexp_full`).
Values come back as SQLite gives them: numeric → int or float, booleans sent as 0/1.

What cannot be a translation is a method of the dialect object (`store.dialect`): the row
identity of a record table, table columns, bulk-load tuning and COPY, the packed fetch.
"""
from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Literal, Union, overload
from urllib.parse import urlsplit

from ..ingest.records import KINDS

if TYPE_CHECKING:
    import psycopg

    from .base import StoreBase

PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: object) -> bool:
    return isinstance(target, str) and target.startswith(PG_SCHEMES)


def redact(url: str) -> str:
    """A URL fit to print: the password (if one was written in it) replaced."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


# ------------------------------------------------------------------------------ SQLite

class SQLiteDialect:
    name = "sqlite"
    parses_csv = False        # the bulk import's raw CSV staging (`stage_csv`): not here
    errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.DataError,
                                           OverflowError, ValueError)
    locked: tuple[type[Exception], ...] = (sqlite3.OperationalError,)

    def prepare(self, conn: sqlite3.Connection) -> None:
        """Nothing to install: SQLite has every function govwatch's SQL names (regexp_full is
        registered per connection by the scan store)."""

    def rowid(self, alias: str | None = None, kind: str | None = None) -> str:
        """A record row's identity within a statement (SQLite: the rowid)."""
        return f"{alias}.rowid" if alias else "rowid"

    @staticmethod
    def columns(conn: sqlite3.Connection, table: str) -> list[str]:
        return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]

    def upsert(self, conn: sqlite3.Connection, table: str, columns: Sequence[str], key: Sequence[str],
               rows: Sequence[Sequence[Any]], conflict: str) -> None:
        """Insert or update `rows` by `key` (`conflict`: the ON CONFLICT clause): row by row."""
        cols = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        conn.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks}) {conflict}', rows)

    skip_locked = ""          # SQLite has one writer at a time: nothing to skip
    epoch_now = "((julianday('now') - 2440587.5) * 86400.0)"     # the database's clock, epoch seconds

    def session_id(self, conn: sqlite3.Connection) -> str | None:
        """The database session's identity, when the database can tell whether it still lives (SQLite: none;
        a claim's holder is then its process on its host)."""
        return None

    def dead_sessions(self, conn: sqlite3.Connection, holders: Iterable[str]) -> set[str]:
        """The outbox claim holders whose database session has ended (SQLite: not known)."""
        return set()

    # -- the bulk import's staging tables (checker.store.staging)
    def stage(self, conn: sqlite3.Connection, table: str, width: int, rows: Iterable[Sequence[Any]]) -> None:
        """Append rows of `width` values to a temporary table."""
        conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})", rows)

    fence = ""                # what keeps a subquery's values computed once a row (see PostgresDialect)

    @staticmethod
    def edge_codes(expr: str) -> tuple[str, str]:
        """SQL of the code points of the first and the last character of a text (NULL when empty)."""
        return f"unicode({expr})", f"unicode(substr({expr}, -1))"

    def empty(self, conn: sqlite3.Connection, table: str) -> None:
        """Delete every row of a (temporary) table: SQLite truncates on a DELETE without WHERE."""
        conn.execute(f"DELETE FROM {table}")

    def stage_csv(self, conn: sqlite3.Connection, table: str, columns: Sequence[str], first: int,
                  data: bytes) -> int | None:
        """SQLite cannot parse CSV in the database: the import reads every row in Python (None)."""
        return None

    def upsert_counting(self, conn: sqlite3.Connection, upsert: str, params: dict[str, Any], existing: str) -> int:
        """Run an INSERT … ON CONFLICT DO UPDATE; how many rows it updated (`existing`: a count of
        them, run before it)."""
        updated = int(conn.execute(existing).fetchone()[0])
        conn.execute(upsert, params)
        return updated

    def loaded(self, conn: sqlite3.Connection, table: str) -> None:
        """A record table a bulk import wrote to (PostgreSQL analyses it at the end)."""

    def analyze(self, conn: sqlite3.Connection, table: str, added: int | None = None) -> None:
        """A table just filled within a transaction, before the statements that join it (PostgreSQL
        analyses it). SQLite: nothing (its planner estimates from the indexes; ANALYZE would read
        every index of the table, and sqlite_stat1 is what `govwatch db` maintenance writes)."""

    def replan(self, conn: sqlite3.Connection) -> None:
        """Before a statement whose foreign-key checks must be planned on the table as it will be
        (PostgreSQL drops the session's cached plans). SQLite: nothing (it enforces no foreign keys)."""

    # Whether a WITH may insert (INSERT … RETURNING feeding another INSERT in one statement):
    # SQLite's WITH holds only SELECTs.
    modifying_with = False

    # How an incremental scan's record statements look a record's finding up (checker.store.scan:
    # fire_changes, select_records, unevaluable_records). SQLite: from the record's statement itself
    # (a correlated EXISTS or an IN subquery over findings, probing the fingerprint and status
    # indexes for the few changed rows: the cheapest in process). PostgreSQL: the findings needed are
    # read into a temporary table first and the records joined to that, the form a Citus cluster
    # plans (findings and the record tables are distributed by org but looked up by the record key:
    # docs/postgresql.md "Citus"). Both forms give the same rows (tests/test_incremental_scan.py).
    stages_findings = False

    def deferred_indexes(self, conn: sqlite3.Connection, table: str) -> list[tuple[str, str]] | None:
        """(name, CREATE statement) of the secondary indexes a big load may drop and build again
        after it, or None: SQLite keeps them (a sorted build would need the whole load in one
        transaction, and its write-ahead log would then hold the whole database)."""
        return None

    def build_indexes(self, conn: sqlite3.Connection, statements: list[str]) -> None:
        """Build the indexes a big load deferred (SQLite defers none: `deferred_indexes`)."""
        for sql in statements:
            conn.execute(sql)

    def estimated_rows(self, conn: sqlite3.Connection, table: str) -> int:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])

    def last_rowid(self, conn: sqlite3.Connection, table: str) -> int | None:
        """The table's highest rowid (rows appended after it have higher ones, whatever their `_seq`;
        it goes back when the table is rebuilt). PostgreSQL: None (no stable rowid)."""
        value = conn.execute(f'SELECT max(rowid) FROM "{table}"').fetchone()[0]
        return int(value or 0)

    @staticmethod
    def read_only(exc: BaseException) -> bool:
        """Whether a write failed because this connection may only read (PRAGMA query_only, a
        read-only file or medium)."""
        return isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc).replace("read-only", "readonly")

    def serialize(self, conn: sqlite3.Connection, name: str) -> None:
        """Within a write transaction, one process at a time past this point (SQLite: BEGIN
        IMMEDIATE already is)."""

    def tables(self, conn: sqlite3.Connection) -> list[str]:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def ensure_partitions(self, conn: sqlite3.Connection, table: str, months: Iterable[str]) -> list[str]:
        """SQLite keeps plain tables: no partitions."""
        return []

    def key_table(self, conn: sqlite3.Connection, table: str) -> str | None:
        """SQLite keeps plain tables, each unique by its own key: no key tables."""
        return None

    def maintain(self, conn: sqlite3.Connection) -> None:
        """Nothing to make ahead at open (PostgreSQL: next months' partitions)."""

    def packed(self, store: StoreBase, sql: str, columns: Iterable[str],
               params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        """The `columns` of the rows of `sql` as tuples, fetched as one JSON value. One step instead of
        one a row: a thread that queries beside Python-bound work (the scan's indicator thread) waits
        for the GIL once, not once a row (up to the 5 ms switch interval each time)."""
        names = ", ".join(f'"{c}"' for c in columns)
        value = store.scalar(f"SELECT json_group_array(json_array({names})) FROM ({sql})", params)
        return [tuple(r) for r in json.loads(value)]

    @contextmanager
    def bulk_session(self, conn: sqlite3.Connection, cache_mb: int, checkpoint_pages: int) -> Iterator[None]:
        """Bulk-load tuning around a big import: a bounded larger page cache, fewer WAL checkpoints,
        the WAL folded back at the end (so the next writer does not pay for the import's pages)."""
        cache = conn.execute("PRAGMA cache_size").fetchone()[0]
        auto = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        conn.execute(f"PRAGMA cache_size = {-int(cache_mb) * 1024}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_pages)}")
        try:
            yield
        finally:
            conn.execute(f"PRAGMA cache_size = {int(cache)}")
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(auto)}")
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @contextmanager
    def deferred_checkpoints(self, conn: sqlite3.Connection, pages: int) -> Iterator[None]:
        """No automatic WAL checkpoint in this connection's commits until the WAL holds `pages`
        pages (a bound: past it a commit checkpoints as usual); the setting restored afterwards.
        Whoever defers calls `checkpoint` once its lock is released."""
        auto = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        conn.execute(f"PRAGMA wal_autocheckpoint = {max(int(auto), int(pages))}")
        try:
            yield
        finally:
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(auto)}")

    def checkpoint(self, conn: sqlite3.Connection) -> tuple[int, int] | None:
        """A PASSIVE WAL checkpoint: copies what it can without waiting on readers or writers (a
        writer meanwhile is not blocked). (pages in the WAL, pages checkpointed); None when the
        store keeps no WAL (in memory) or another checkpoint is running."""
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return None if busy or log < 0 else (int(log), int(done))

    def size_bytes(self, store: StoreBase) -> int:
        if store.path == ":memory:":
            return 0
        return sum(os.path.getsize(p) for p in (store.path, store.path + "-wal") if os.path.exists(p))


# ------------------------------------------------------------------------------ PostgreSQL

# SQLite's functions that govwatch's SQL uses and PostgreSQL lacks (created in the store's schema).
PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION max(a bigint, b bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE GREATEST(a, b) END';
CREATE OR REPLACE FUNCTION min(a bigint, b bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE LEAST(a, b) END';
CREATE OR REPLACE FUNCTION max(a text, b text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE GREATEST(a, b) END';
CREATE OR REPLACE FUNCTION min(a text, b text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE LEAST(a, b) END';
CREATE OR REPLACE FUNCTION _gw_sum_bool(acc bigint, v boolean) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT CASE WHEN v IS NULL THEN acc ELSE COALESCE(acc, 0) + v::int END';
CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = _gw_sum_bool, STYPE = bigint);
CREATE OR REPLACE FUNCTION round(v double precision, n integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT round(v::numeric, n)::double precision';
CREATE OR REPLACE FUNCTION unixepoch(t text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT floor(extract(epoch FROM t::timestamptz))::bigint';
CREATE OR REPLACE FUNCTION json_set(doc text, path text, v anyelement) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT jsonb_set(doc::jsonb, string_to_array(substr(path, 3), ''.''), to_jsonb(v))::text';
CREATE OR REPLACE FUNCTION json_quote(v anyelement) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT COALESCE(to_json(v)::text, ''null'')';
CREATE OR REPLACE FUNCTION regexp_full(pattern text, v anyelement) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT CASE WHEN v IS NULL THEN 0 WHEN v::text ~ (''^(?:'' || pattern || '')$'') THEN 1 ELSE 0 END';
"""
PG_FUNCTIONS_VERSION = "pg-functions-4"

_TOKEN = re.compile(r"""
    (?P<str>'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*")
  | (?P<comment>--[^\n]*)
  | (?P<qmark>\?)
  | (?P<named>(?<!:):[A-Za-z_]\w*)
  | (?P<pct>%)
  | (?P<word>[A-Za-z_]\w*)
""", re.X)

_RESERVED = {"full"}                       # reserved in PostgreSQL, a column name in govwatch (scans.full)
_JOIN = re.compile(r"\s+(outer|join)\b", re.I)
_WORDS = {"integer": "BIGINT", "real": "DOUBLE PRECISION"}


@functools.lru_cache(maxsize=4096)
def translate(sql: str, with_params: bool = True) -> str:
    """SQLite-spelled SQL as PostgreSQL (see the module's docstring)."""
    pragma = re.fullmatch(r"\s*PRAGMA\s+table_info\(\s*[\"']?(\w+)[\"']?\s*\)\s*;?\s*", sql, flags=re.I)
    if pragma:      # SQLite's (cid, name, type, notnull, dflt_value, pk) rows of a table
        return ("SELECT ordinal_position - 1 AS cid, column_name AS name, data_type AS type, "
                "CAST(is_nullable = 'NO' AS INT) AS notnull, column_default AS dflt_value, 0 AS pk "
                "FROM information_schema.columns WHERE table_schema = current_schema() "
                f"AND table_name = '{pragma.group(1)}' ORDER BY ordinal_position")
    sql = re.sub(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                 sql, flags=re.I)
    sql = re.sub(r"\bCREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?temp\.", r"CREATE TEMP TABLE \1", sql, flags=re.I)
    sql = re.sub(r"\bCREATE\s+TEMP\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?", r"CREATE TEMP TABLE \1", sql, flags=re.I)
    sql = re.sub(r"\btemp\.(?=[A-Za-z_\"])", "", sql)
    sql = re.sub(r"\bBEGIN\s+IMMEDIATE\b", "BEGIN", sql, flags=re.I)
    sql = re.sub(r"\)\s*WITHOUT\s+ROWID\b", ")", sql, flags=re.I)
    sql = re.sub(r"\bINDEXED\s+BY\s+(\w+|\"\w+\")", "", sql, flags=re.I)        # SQLite's planner hint
    # A recursive query seeded by a parameter: the seed takes the text columns' "C" collation.
    sql = re.sub(r"\(\s*SELECT\s+\?\s+UNION\b", '(SELECT CAST(? AS TEXT) COLLATE "C" UNION', sql, flags=re.I)
    ignore = re.search(r"\bINSERT\s+OR\s+IGNORE\b", sql, flags=re.I) is not None
    if ignore:
        sql = re.sub(r"\bINSERT\s+OR\s+IGNORE\b", "INSERT", sql, flags=re.I)
    previous = [""]

    def one(m: re.Match[str]) -> str:
        kind = m.lastgroup
        text = m.group()
        if kind == "str":
            return text.replace("%", "%%") if with_params else text
        if kind == "ident":
            return text
        if kind == "comment":
            return ""
        if kind == "qmark":
            return "%s"
        if kind == "named":
            return f"%({text[1:]})s"
        if kind == "pct":
            return "%%" if with_params else "%"
        low, before = text.lower(), previous[0]
        previous[0] = low
        if low in _WORDS:
            return _WORDS[low]
        if low == "text" and before != "as":      # a column's type, not CAST(x AS TEXT)
            return 'TEXT COLLATE "C"'
        if low in _RESERVED and not _JOIN.match(m.string, m.end()):   # a column named like a keyword
            return f'"{low}"'
        return text

    out = _TOKEN.sub(one, sql)
    out = re.sub(r"\bjson_each\(\s*(%s|%\(\w+\)s|\?)\s*\)", r"json_array_elements_text(CAST(\1 AS json)) AS value", out)
    out = re.sub(r"\bjson_extract\(\s*([\w.\"]+)\s*,\s*'\$\.(\w+)'\s*\)", r"(CAST(\1 AS json) ->> '\2')", out)
    if ignore:
        out = out.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return out


def _plain(value: Any) -> Any:
    """A parameter as SQLite would store it: booleans as 0/1."""
    return int(value) if isinstance(value, bool) else value


@overload
def _params(params: None) -> None: ...
@overload
def _params(params: Sequence[Any] | Mapping[str, Any]) -> list[Any] | dict[str, Any]: ...
def _params(params: Sequence[Any] | Mapping[str, Any] | None) -> list[Any] | dict[str, Any] | None:
    if params is None:
        return None
    if isinstance(params, dict):
        return {k: _plain(v) for k, v in params.items()}
    return [_plain(v) for v in params]


def _first(row: Sequence[Any] | None) -> Any:
    """The first value of the row a query always returns (count(*), EXISTS)."""
    if row is None:
        raise RuntimeError("the query returned no row")
    return row[0]


class PgCursor:
    """The sqlite3 cursor surface over a psycopg cursor (lastrowid from RETURNING id)."""

    def __init__(self, cur: psycopg.Cursor[Any], lastrowid: int | None = None):
        self._cur = cur
        self.lastrowid = lastrowid

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def fetchone(self) -> Any:
        return self._cur.fetchone() if self._cur.description else None

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall() if self._cur.description else []

    def fetchmany(self, size: int) -> list[Any]:
        return self._cur.fetchmany(size) if self._cur.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cur) if self._cur.description else iter(())

    def close(self) -> None:
        self._cur.close()


class PgConnection:
    """A psycopg 3 connection (autocommit; explicit BEGIN … COMMIT like the SQLite store) with the
    sqlite3 methods the store calls: execute, executemany, executescript, in_transaction,
    `with conn:` as a transaction."""

    def __init__(self, raw: psycopg.Connection[Any]):
        self.raw = raw
        self._identity: set[str] | None = None
        self.bulk_loaded: set[str] = set()      # tables a bulk import loaded by COPY (analysed after it)
        self._owned: list[bool] = []            # per open `with conn:`: whether it began the transaction
        self.keyed: set[str] | None = None      # the record tables with a key table (partitioned), once known

    # -- sqlite3's surface
    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> PgCursor:
        with_params = bool(params)
        text = translate(sql, with_params)
        returning = False
        m = re.match(r'\s*INSERT\s+INTO\s+"?(\w+)"?', text, flags=re.I)
        if m and "RETURNING" not in text.upper() and m.group(1) in self.identity_tables():
            text += " RETURNING id"
            returning = True
        cur = self.raw.cursor()
        cur.execute(text, _params(params) if with_params else None)
        lastrowid = None
        if returning:
            row = cur.fetchone() if cur.rowcount else None
            lastrowid = row[0] if row else None
        elif re.match(r"\s*(CREATE|DROP)\s+TABLE\b", text, flags=re.I):
            self._identity = self.keyed = None
        return PgCursor(cur, lastrowid)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any] | Mapping[str, Any]]) -> PgCursor:
        cur = self.raw.cursor()
        cur.executemany(translate(sql, True), [_params(p) for p in seq])
        return PgCursor(cur)

    def executescript(self, script: str) -> None:
        self.raw.execute(translate(script, False))
        if re.search(r"\b(CREATE|DROP)\s+TABLE\b", script, flags=re.I):
            self._identity = self.keyed = None

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        """SQLite registers Python functions; PostgreSQL has them as SQL (PG_FUNCTIONS)."""

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> PgConnection:
        owned = not self.in_transaction            # `with conn:` nests: only the outermost commits
        if owned:
            self.raw.execute("BEGIN")
        self._owned.append(owned)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> Literal[False]:
        if self._owned.pop():
            self.raw.execute("ROLLBACK" if exc_type else "COMMIT")
        return False

    # -- helpers
    def identity_tables(self) -> set[str]:
        if self._identity is None:
            self._identity = {r[0] for r in self.raw.execute(
                "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE a.attname = 'id' AND a.attidentity <> '' AND c.relnamespace = "
                "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())")}
        return self._identity


class PostgresDialect:
    name = "postgresql"
    parses_csv = True         # the bulk import stages raw CSV records by COPY (`stage_csv`)

    def __init__(self, password_env: str | None = None):
        import psycopg
        self.psycopg = psycopg
        self.password_env = password_env
        self.errors: tuple[type[Exception], ...] = (psycopg.IntegrityError, psycopg.DataError, psycopg.ProgrammingError,
                              OverflowError, ValueError)
        self.locked: tuple[type[Exception], ...] = (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected)

    def connect(self, url: str) -> PgConnection:
        psycopg = self.psycopg
        kwargs: dict[str, str] = {}
        if self.password_env and os.environ.get(self.password_env):
            kwargs["password"] = os.environ[self.password_env]
        # No JIT compilation, as the session's default: govwatch's statements
        # run for milliseconds to a second, and compiling one costs 0.1-0.6 s; measured at 100,000
        # cases, the daily scan took 1.74 s with JIT and 0.56 s without, the full rescan 1.4-2.0 s
        # and 0.5-0.65 s (the planner's cost estimates of the scan's CASE-heavy queries exceed the
        # JIT thresholds although they read the table once).
        info = psycopg.conninfo.conninfo_to_dict(url)
        info["options"] = f"{info.get('options') or ''} -c jit=off".strip()
        raw = psycopg.connect(psycopg.conninfo.make_conninfo(**info), autocommit=True, **kwargs)
        raw.execute("SET TIME ZONE 'UTC'")        # a stored time without offset reads as SQLite reads it
        assert _NUMERIC_LOADER is not None          # psycopg imported: its loader class was made
        raw.adapters.register_loader("numeric", _NUMERIC_LOADER)
        return PgConnection(raw)

    def prepare(self, conn: PgConnection) -> None:
        """Create the SQLite functions govwatch's SQL uses (once per schema and version)."""
        have = conn.raw.execute(
            "SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.proname = 'regexp_full' AND n.nspname = current_schema()").fetchone()
        if have and have[0] == PG_FUNCTIONS_VERSION:
            return
        with conn:
            conn.raw.execute("SELECT pg_advisory_xact_lock(7170001)")      # two processes opening a new store
            conn.raw.execute(PG_FUNCTIONS)
            conn.raw.execute(f"COMMENT ON FUNCTION regexp_full(text, anyelement) IS '{PG_FUNCTIONS_VERSION}'")

    def last_rowid(self, conn: PgConnection, table: str) -> int | None:
        """No stable rowid: what changed is known from `_seq` alone."""
        return None

    @staticmethod
    def read_only(exc: BaseException) -> bool:
        """Whether a write failed because this session may only read (a role without the privilege,
        a read-only transaction or standby)."""
        return type(exc).__name__ in ("InsufficientPrivilege", "ReadOnlySqlTransaction")

    def rowid(self, alias: str | None = None, kind: str | None = None) -> str:
        """A record row's identity within a statement: its key column (PostgreSQL has no stable rowid)."""
        if kind is None:
            raise ValueError("a PostgreSQL row identity needs the record kind (its key column)")
        key = f'"{KINDS[kind].key[0]}"'
        return f"{alias}.{key}" if alias else key

    COPY_FROM = 64            # rows from which an upsert goes through COPY

    def upsert(self, conn: PgConnection, table: str, columns: Sequence[str], key: Sequence[str],
               rows: Sequence[Sequence[Any]], conflict: str) -> None:
        """Insert or update `rows` by `key`: COPY into a temporary staging table, then one
        INSERT … SELECT … ON CONFLICT (a key twice in `rows`: its last row wins, as row by row)."""
        cols = ", ".join(f'"{c}"' for c in columns)
        if key_table(conn, table):
            upsert_keyed_rows(conn, table, columns, rows)
            return
        if len(rows) < self.COPY_FROM:
            marks = ", ".join("?" * len(columns))
            conn.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks}) {conflict}', rows)
            return
        stage = f"_stage_{table}"
        keys = ", ".join(f'"{k}"' for k in key)
        raw = conn.raw
        raw.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "{table}" INCLUDING DEFAULTS, _ord BIGINT)')
        raw.execute(f'TRUNCATE "{stage}"')
        conn.bulk_loaded.add(table)
        with raw.cursor().copy(f'COPY "{stage}" ({cols}, _ord) FROM STDIN') as copy:
            for i, row in enumerate(rows):
                copy.write_row([*map(_plain, row), i])
        raw.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM (SELECT DISTINCT ON ({keys}) {cols} '
                    f'FROM "{stage}" ORDER BY {keys}, _ord DESC) AS s {conflict}')

    skip_locked = " FOR UPDATE SKIP LOCKED"     # several delivery workers claim disjoint rows
    epoch_now = "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)"

    def session_id(self, conn: PgConnection) -> str | None:
        """This connection's backend: "pg:<pid>:<backend start>" (a pid is reused, with a new start)."""
        row = conn.raw.execute("SELECT 'pg:' || pid || ':' || extract(epoch FROM backend_start)::text "
                               "FROM pg_stat_activity WHERE pid = pg_backend_pid()").fetchone()
        return row[0] if row else None

    def dead_sessions(self, conn: PgConnection, holders: Iterable[str]) -> set[str]:
        """Claim holders whose backend (the last "|" part of the holder) is no longer connected; a
        holder without one (copied from a SQLite store) counts as dead."""
        backends = {h: h.rsplit("|", 1)[-1] for h in holders}
        pids = sorted({int(b.split(":")[1]) for b in backends.values() if re.fullmatch(r"pg:\d+:[\d.]+", b)})
        live = {r[0] for r in conn.raw.execute(
            "SELECT 'pg:' || pid || ':' || extract(epoch FROM backend_start)::text FROM pg_stat_activity "
            "WHERE pid = ANY(%s)", (pids,))} if pids else set()
        return {h for h, b in backends.items() if b not in live}

    # -- the bulk import's staging tables (checker.store.staging)
    def stage(self, conn: PgConnection, table: str, width: int, rows: Iterable[Sequence[Any]]) -> None:
        """Append rows to a temporary table by COPY."""
        with conn.raw.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    fence = " OFFSET 0"       # a subquery the planner keeps whole: its values computed once a row, not
                              # expanded into each outer expression naming them

    @staticmethod
    def edge_codes(expr: str) -> tuple[str, str]:
        """SQL of the code points of the first and the last character of a text (0 when empty; ascii()
        of a UTF-8 database reads a code point). right(): cheaper than substr at the length."""
        return f"ascii({expr})", f"ascii(right({expr}, 1))"

    def empty(self, conn: PgConnection, table: str) -> None:
        """TRUNCATE, not DELETE: a temporary table emptied and filled again and again (a roll-up build's
        chunks, a server's daily scans in one session) would keep every dead row, autovacuum never
        visiting it, and each scan of it would read them all."""
        conn.raw.execute(f"TRUNCATE {translate(table, False)}")       # `temp.x` spelled as PostgreSQL's

    def stage_csv(self, conn: PgConnection, table: str, columns: Sequence[str], first: int, data: bytes) -> int | None:
        """Append whole CSV records (UTF-8 bytes, no header) to `table`'s `columns` by COPY, each row
        numbered in `table`'s `_n` (from `first`, in file order, by a sequence); the rows staged, or
        None when COPY refused the data (a row of another width, mixed line ends, bytes that are not
        UTF-8, NUL …): nothing is staged then, and the transaction goes on."""
        raw, sequence = conn.raw, f"{table}_n"
        raw.execute(f"CREATE TEMP SEQUENCE IF NOT EXISTS {sequence}")
        raw.execute(f"ALTER TABLE {table} ALTER COLUMN _n SET DEFAULT nextval('{sequence}')")
        raw.execute("SELECT setval(%s, %s, false)", (sequence, first))
        cols = ", ".join(columns)
        savepoint = conn.in_transaction
        if savepoint:
            raw.execute("SAVEPOINT _gw_copy")
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv, ENCODING 'UTF8')") as copy:
                view = memoryview(data)
                for at in range(0, len(data), 1 << 20):
                    copy.write(view[at:at + (1 << 20)])
        except self.psycopg.DataError:
            if savepoint:
                raw.execute("ROLLBACK TO SAVEPOINT _gw_copy")
            return None
        if savepoint:
            raw.execute("RELEASE SAVEPOINT _gw_copy")
        return cur.rowcount

    def upsert_counting(self, conn: PgConnection, upsert: str, params: dict[str, Any], existing: str) -> int:
        """Run an INSERT … ON CONFLICT DO UPDATE; how many rows it updated (an updated row carries
        the inserting transaction as its xmax, a new one none)."""
        rows = conn.execute(upsert + " RETURNING xmax::text <> '0'", params).fetchall()
        return sum(1 for r in rows if r[0])

    def loaded(self, conn: PgConnection, table: str) -> None:
        conn.bulk_loaded.add(table)

    def analyze(self, conn: PgConnection, table: str, added: int | None = None) -> None:
        """A table just filled within a transaction (a scan's temporary tables; the findings after a
        big opening), analysed before the statements that join it: autovacuum never analyses a
        temporary table, nor sees rows before their transaction commits, and without statistics a
        join on a key is planned for 200 distinct values (500,000 × 500,000 rows estimated at 10^9).
        `added`: the rows just added to a table that has statistics, analysed only when they are at
        least a tenth of the rows its statistics count (autovacuum's own threshold). ANALYZE reads a
        sample of 30,000 rows: 0.4 s for the 533,000 staged findings of a 10M-case first scan."""
        if added is not None:
            known = _reltuples(conn, translate(table, False))
            if known is not None and known >= 0 and added * 10 < known:
                return
        conn.raw.execute(f"ANALYZE {translate(table, False)}")

    def replan(self, conn: PgConnection) -> None:
        """The session's cached plans dropped (DISCARD PLANS), those of its foreign-key checks with
        them. PostgreSQL checks a foreign key by a query planned once a session and kept: planned while
        the referenced table was small and its statistics said empty (an ANALYZE of the new store, as
        after a bulk load, then a few rows), it is a sequential scan, and a statement that then adds
        many rows checks each by reading all of them (issue 17: a 3M first scan's 20,000 first open
        events checked in 66 s, 3.3 ms each). Dropped, the check is planned again at its next use, on
        the table as it is then: by its key."""
        conn.raw.execute("DISCARD PLANS")

    modifying_with = True
    stages_findings = True        # see SQLiteDialect.stages_findings

    def deferred_indexes(self, conn: PgConnection, table: str) -> list[tuple[str, str]] | None:
        """(name, CREATE statement) of a table's secondary (not unique) indexes: a load that is big
        beside the table drops them and builds them again by sorting, several times faster than
        inserting into each row by row (PostgreSQL's "Populating a Database"). A partitioned table's
        index is described `ON ONLY` the table (the parent's alone, invalid until each partition has
        one): built again on the whole table, every partition's with it."""
        return [(r[0], re.sub(r" ON ONLY ", " ON ", r[1], count=1)) for r in conn.raw.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(%s) AND NOT i.indisunique ORDER BY c.relname", (f'"{table}"',))]

    def estimated_rows(self, conn: PgConnection, table: str) -> int:
        """The planner's row count of a table (a count when it was never analysed)."""
        n = _reltuples(conn, f'"{table}"')
        if n is None or n < 0:
            return int(_first(conn.raw.execute(f'SELECT count(*) FROM "{table}"').fetchone()))
        return int(n)

    def build_indexes(self, conn: PgConnection, statements: list[str]) -> None:
        conn.raw.execute("SET maintenance_work_mem = '256MB'")
        try:
            for sql in statements:
                conn.raw.execute(sql)
        finally:
            conn.raw.execute("RESET maintenance_work_mem")

    def serialize(self, conn: PgConnection, name: str) -> None:
        """Within a write transaction, one process at a time past this point (a transaction-level
        advisory lock on the name; rows are otherwise locked one by one, not the database)."""
        conn.raw.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))

    @staticmethod
    def columns(conn: PgConnection, table: str) -> list[str]:
        return [r[0] for r in conn.raw.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s ORDER BY ordinal_position", (table,))]

    def tables(self, conn: PgConnection) -> list[str]:
        """The schema's tables; a partition is part of its table, not one of its own."""
        return [r[0] for r in conn.raw.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
            "AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname")]

    def ensure_partitions(self, conn: PgConnection, table: str, months: Iterable[str]) -> list[str]:
        """The monthly partitions of `table` for `months` ("YYYY-MM"), made where missing (rows of
        such a month already in the default partition are moved into the new one); the names made.
        A table not partitioned (not yet migrated), or a month not of that form: nothing."""
        return ensure_partitions(conn, table, months)

    def maintain(self, conn: PgConnection) -> None:
        """At open: the partitions of this month, the last and the next PARTITION_MONTHS_AHEAD, and of
        the months whose rows went to the default partition (moved into their own). A role that may
        not make them (a read-only reader, a read-only transaction) opens the store all the same: its
        reads see every row, and a writer's next open makes them."""
        for table in MONTHLY:
            if not may_partition(conn, table):
                continue
            ensure_partitions(conn, table, [*_months_around(PARTITION_MONTHS_AHEAD), *stray_months(conn, table)])

    def key_table(self, conn: PgConnection, table: str) -> str | None:
        """The key table of a record table partitioned by month (its key unique across partitions),
        or None: the table keeps its own key (the kinds not partitioned; a store not yet migrated)."""
        return key_table(conn, table)

    def packed(self, store: StoreBase, sql: str, columns: Iterable[str],
               params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        names = ", ".join(f'"{c}"' for c in columns)
        return [tuple(r) for r in store.conn.execute(f"SELECT {names} FROM ({sql}) AS _p", params).fetchall()]

    @contextmanager
    def deferred_checkpoints(self, conn: PgConnection, pages: int) -> Iterator[None]:
        """PostgreSQL checkpoints in its own background process: nothing to defer."""
        yield

    def checkpoint(self, conn: PgConnection) -> tuple[int, int] | None:
        """The server checkpoints by itself: nothing to do."""
        return None

    @contextmanager
    def bulk_session(self, conn: PgConnection, cache_mb: int, checkpoint_pages: int) -> Iterator[None]:
        """PostgreSQL needs no page-cache or checkpoint tuning per import; the tables loaded by COPY
        are analysed at the end (a plan made on stale statistics after a bulk load can be 10× slower);
        commit is asynchronous within the import's transactions (a crash loses at most the last moments of an import that
        is re-run anyway: re-importing a record updates it). JIT is off for every session (`connect`)."""
        conn.raw.execute("SET synchronous_commit = off")
        conn.raw.execute("SET work_mem = '64MB'")  # a batch's sorts (its keys counted) in memory
        conn.bulk_loaded.clear()
        try:
            yield
        finally:
            conn.raw.execute("RESET synchronous_commit")
            conn.raw.execute("RESET work_mem")
            for table in sorted(conn.bulk_loaded):      # fresh statistics: the planner sees the new rows now
                conn.raw.execute(f'ANALYZE "{table}"')
            conn.bulk_loaded.clear()

    def size_bytes(self, store: StoreBase) -> int:
        return int(store.scalar("SELECT COALESCE(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0) "
                                "FROM pg_tables WHERE schemaname = current_schema()") or 0)


_NUMERIC_LOADER: type[Any] | None = None      # None without psycopg (only a PostgreSQL store needs it)
try:
    from psycopg.adapt import Loader as _Loader

    class _NumericLoader(_Loader):
        """numeric (sum() of bigint, avg()) as SQLite gives it: an int when whole, else a float."""

        def load(self, data: Any) -> int | float:
            value = Decimal(bytes(data).decode())
            return int(value) if value == value.to_integral_value() else float(value)

    _NUMERIC_LOADER = _NumericLoader
except ImportError:          # psycopg is only needed for a PostgreSQL store
    pass


def table_columns(conn: sqlite3.Connection | PgConnection, table: str) -> list[str]:
    """The columns of a table, on either store's connection (for migrations)."""
    if isinstance(conn, PgConnection):
        return PostgresDialect.columns(conn, table)
    return SQLiteDialect.columns(conn, table)


# ------------------------------------------------------------------------------ change stamps

# A record row written without a change number of its own (an UPDATE leaving `_seq` as it was, an
# INSERT leaving it 0: a test, a tool, a DBA's SQL) gets one above the store's current change_seq, so
# the next scan sees it as changed; a deleted row raises meta's deleted_seq the same way (the next
# scan then evaluates every record). A row already above the current number is left as it is: no
# scan has covered that number yet (a scan moves change_seq one past its own, RecordStore.scan_seq),
# so the next scan sees it anyway. The import sets `_seq` itself (and its deadline refresh updates
# rows at its current number), so the triggers leave its rows alone. The one difference: SQLite has
# no INSERT trigger (an AFTER INSERT trigger doubles a plain insert's cost even when its WHEN is
# false: 100,000 cases 2.8 s → 5.6 s); a row inserted at `_seq` 0 is stamped by the next scan as it
# starts (RecordStore.scan_seq), which PostgreSQL's BEFORE INSERT trigger does at once.
_PG_STAMP = """
CREATE OR REPLACE FUNCTION govwatch_stamp_seq() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    current BIGINT := (SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'change_seq');
BEGIN
    IF TG_OP = 'INSERT' OR OLD._seq < current THEN
        NEW._seq := current + 1;
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION govwatch_deleted_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE meta SET value = CAST((SELECT CAST(value AS BIGINT) + 1 FROM meta WHERE key = 'change_seq') AS TEXT)
    WHERE key = 'deleted_seq';
    RETURN NULL;
END $$;
"""


def seq_triggers(conn: Any, table: str) -> None:
    """A migration's step: the change-stamp triggers of one record table, in the store's own spelling."""
    drop_sqlite_insert_trigger(conn, table)
    if isinstance(conn, PgConnection):
        raw = conn.raw
        raw.execute(_PG_STAMP)
        raw.execute(f'CREATE TRIGGER "seq_{table}_insert" BEFORE INSERT ON "{table}" FOR EACH ROW '
                    "WHEN (NEW._seq = 0) EXECUTE FUNCTION govwatch_stamp_seq()")
        raw.execute(f'CREATE TRIGGER "seq_{table}_update" BEFORE UPDATE ON "{table}" FOR EACH ROW '
                    "WHEN (NEW._seq = OLD._seq) EXECUTE FUNCTION govwatch_stamp_seq()")
        raw.execute(f'CREATE TRIGGER "seq_{table}_delete" AFTER DELETE ON "{table}" FOR EACH ROW '
                    "EXECUTE FUNCTION govwatch_deleted_seq()")
        return
    stamp = (f'UPDATE "{table}" SET _seq = (SELECT CAST(value AS INTEGER) + 1 FROM meta '
             "WHERE key = 'change_seq') WHERE rowid = NEW.rowid;")
    conn.execute(f'CREATE TRIGGER "seq_{table}_update" AFTER UPDATE ON "{table}" WHEN NEW._seq = OLD._seq AND '
                 f"OLD._seq < (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'change_seq') BEGIN {stamp} END")
    conn.execute(f'CREATE TRIGGER "seq_{table}_delete" AFTER DELETE ON "{table}" BEGIN UPDATE meta SET value = '
                 "CAST((SELECT CAST(value AS INTEGER) + 1 FROM meta WHERE key = 'change_seq') AS TEXT) "
                 "WHERE key = 'deleted_seq'; END")


def drop_sqlite_insert_trigger(conn: Any, table: str) -> None:
    """SQLite: no INSERT trigger of `_seq` (see above; migration 0192 drops the one 0190 made)."""
    if not isinstance(conn, PgConnection):
        conn.execute(f'DROP TRIGGER IF EXISTS "seq_{table}_insert"')


@contextmanager
def serialized(conn: sqlite3.Connection | PgConnection, key: int = 7170002) -> Iterator[None]:
    """One process at a time past this point (PostgreSQL: a session advisory lock; SQLite: the
    migrations' own write transactions already serialise)."""
    if not isinstance(conn, PgConnection):
        yield
        return
    conn.raw.execute("SELECT pg_advisory_lock(%s)", (key,))
    try:
        yield
    finally:
        conn.raw.execute("SELECT pg_advisory_unlock(%s)", (key,))


# ------------------------------------------------------------------------------ monthly partitions

# Tables partitioned by month on PostgreSQL (SQLite keeps plain tables): the table → its time column,
# ISO 8601 text, so that a month is a range of the text ('2026-10-01' <= at < '2026-11-01'; a local
# time is in its local month). Each has a DEFAULT partition, so that an odd value never fails a write.
MONTHLY: dict[str, str] = {"finding_events": "at", "cases": "accepted_at", "evaluations": "evaluated_at",
                           "complaints": "received_at", "consultations": "received_at"}
# The record tables among them: a partitioned table's unique key must hold its partition column, so
# each is keyed (record key, org, time) and a key table (record key PRIMARY KEY, org, time) keeps the
# record key unique across partitions and says where each record lives (upsert_keyed).
KEYED: dict[str, str] = {"cases": "case_keys", "evaluations": "evaluation_keys",
                         "complaints": "complaint_keys", "consultations": "consultation_keys"}
PARTITION_MONTHS_AHEAD = 3
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _month_bounds(month: str) -> tuple[str, str]:
    year, mon = int(month[:4]), int(month[5:7])
    nxt = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return f"{year:04}-{mon:02}-01", f"{nxt[0]:04}-{nxt[1]:02}-01"


def _months_around(ahead: int) -> list[str]:
    from datetime import date
    today = date.today()
    index = today.year * 12 + today.month - 1
    return [f"{i // 12:04}-{i % 12 + 1:02}" for i in range(index - 1, index + ahead + 1)]


def partition_name(table: str, month: str) -> str:
    return f"{table}_{month.replace('-', '')}"


def _partitions(conn: PgConnection, table: str) -> set[str] | None:
    """The partitions of `table`, or None when it is not a partitioned table."""
    raw = conn.raw
    kind = raw.execute("SELECT c.relkind FROM pg_class c WHERE c.relname = %s AND c.relnamespace = "
                       "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())", (table,)).fetchone()
    if not kind or kind[0] != "p":
        return None
    return {r[0] for r in raw.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s AND p.relnamespace = "
        "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())", (table,))}


def stray_months(conn: PgConnection, table: str) -> list[str]:
    """The months of the rows in `table`'s default partition (none when it is not partitioned)."""
    if _partitions(conn, table) is None:
        return []
    column = MONTHLY[table]
    return [r[0] for r in conn.raw.execute(
        f'SELECT DISTINCT substr("{column}", 1, 7) FROM "{table}_default" '
        f"""WHERE "{column}" ~ '^[0-9]{{4}}-(0[1-9]|1[0-2])'""")]


def ensure_partitions(conn: sqlite3.Connection | PgConnection, table: str, months: Iterable[str]) -> list[str]:
    """See PostgresDialect.ensure_partitions (on a PostgreSQL connection; SQLite: nothing)."""
    if not isinstance(conn, PgConnection):
        return []
    wanted = sorted({m for m in months if m and _MONTH.fullmatch(m)})
    have = _partitions(conn, table)
    if have is None or all(partition_name(table, m) in have for m in wanted):
        return []
    column, made = MONTHLY[table], list[str]()
    with conn:
        conn.raw.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"partitions:{table}",))
        have = _partitions(conn, table) or set()        # made meanwhile by another process
        cols = ", ".join(f'"{c}"' for c in PostgresDialect.columns(conn, table))
        for month in wanted:
            name = partition_name(table, month)
            if name in have:
                continue
            lo, hi = _month_bounds(month)
            bounds = f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
            where = f""""{column}" >= '{lo}' AND "{column}" < '{hi}'"""
            stray = _first(conn.raw.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}_default" WHERE {where})').fetchone())
            if stray:        # that month's rows wrote to the default partition: they move to their own
                conn.raw.execute(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
                conn.raw.execute(f'WITH moved AS (DELETE FROM "{table}_default" WHERE {where} RETURNING {cols}) '
                                 f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM moved')
                conn.raw.execute(f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" {bounds}')
            else:
                conn.raw.execute(f'CREATE TABLE "{name}" PARTITION OF "{table}" {bounds}')
            made.append(name)
    return made


def may_partition(conn: PgConnection, table: str) -> bool:
    """Whether this session may make partitions of `table`: it owns the table (or is a member of its
    owner), may create in its schema, and is not in a read-only transaction."""
    row = conn.raw.execute(
        "SELECT pg_has_role(c.relowner, 'USAGE') AND has_schema_privilege(c.relnamespace, 'CREATE') "
        "AND current_setting('transaction_read_only') = 'off' FROM pg_class c WHERE c.oid = to_regclass(%s)",
        (f'"{table}"',)).fetchone()
    return bool(row and row[0])


def partition_by_month(conn: sqlite3.Connection | PgConnection, table: str, key: tuple[str, ...],
                       indexes: dict[str, str] | None = None) -> None:
    """A migration's step on PostgreSQL (SQLite: nothing): remake `table` partitioned by month of its
    MONTHLY column, its rows kept (in their months' partitions), its identity continued. `key`: the
    primary key, which must contain the partition column; `indexes`: name → columns, made again
    (None: the table's own secondary indexes, as they are). Its triggers are made again too."""
    if not isinstance(conn, PgConnection):
        return
    column, raw = MONTHLY[table], conn.raw
    if column not in key:
        raise ValueError(f"the key of {table} must contain its partition column {column}")
    old = f"{table}_unpartitioned"
    cols = ", ".join(f'"{c}"' for c in PostgresDialect.columns(conn, table))
    own = [str(r[0]) for r in raw.execute(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = to_regclass(%s) AND NOT indisprimary "
        "ORDER BY indexrelid", (f'"{table}"',))] if indexes is None else []
    triggers = [str(r[0]) for r in raw.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal "
        "ORDER BY tgname", (f'"{table}"',))]
    identity = table in conn.identity_tables()
    raw.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    raw.execute(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS) '
                f'PARTITION BY RANGE ("{column}")')
    raw.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
    months = {r[0] for r in raw.execute(f'SELECT DISTINCT substr("{column}", 1, 7) FROM "{old}"')}
    ensure_partitions(conn, table, [*months, *_months_around(PARTITION_MONTHS_AHEAD)])
    raw.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM "{old}"')
    fks = raw.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                      "AND contype = 'f'", (f'"{old}"',)).fetchall()
    raw.execute(f'DROP TABLE "{old}"')
    for (definition,) in fks:
        raw.execute(f'ALTER TABLE "{table}" ADD {definition}')
    raw.execute(f'ALTER TABLE "{table}" ADD PRIMARY KEY ({", ".join(chr(34) + k + chr(34) for k in key)})')
    for name, columns in (indexes or {}).items():
        raw.execute(f'CREATE INDEX "{name}" ON "{table}" ({columns})')
    for definition in [*own, *triggers]:       # written when the old table had the name: they name the new one
        raw.execute(definition)
    if identity:
        raw.execute(f"""SELECT setval(pg_get_serial_sequence('"{table}"', 'id'),
                        COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)""")
    conn._identity = None


# Indexes PostgreSQL does without (SQLite keeps them: its daily scan reads them, partly by INDEXED BY).
# Each is the leading column of a wider index of its table, which PostgreSQL reads for the same
# look-ups (equality, a range, min/max): ix_cases_org of ix_cases_org_accepted (org, accepted_at),
# ix_cases_date of ix_cases_period (accepted_at, org, …). On a 1M store no statement of the daily
# scan, P1–P9 or the bulletin read either (pg_stat_user_indexes), and with them dropped the
# statements that could use them keep their plans, on the wider index; a big import builds each
# again after its load (1M: 0.5 s each).
POSTGRES_DROPPED_INDEXES = ("ix_cases_org", "ix_cases_date")


def drop_redundant_indexes(conn: sqlite3.Connection | PgConnection) -> None:
    """A migration's step on PostgreSQL (SQLite: nothing): drop POSTGRES_DROPPED_INDEXES (a partitioned
    table's, every partition's with it)."""
    if not isinstance(conn, PgConnection):
        return
    for name in POSTGRES_DROPPED_INDEXES:
        conn.raw.execute(f'DROP INDEX IF EXISTS "{name}"')


# ------------------------------------------------------------------------------ keys and constraints

def set_not_null(conn: sqlite3.Connection | PgConnection, table: str, column: str, default: str) -> None:
    """A migration's step: the text `column` of `table` NOT NULL DEFAULT `default`, its NULLs set to
    `default`. PostgreSQL alters the column; SQLite cannot change a column's constraints, so the table
    is made again from its own CREATE statement with the column's new definition, its rows, indexes,
    triggers and AUTOINCREMENT counter kept, in one savepoint (a crash leaves the old table)."""
    literal = "'" + default.replace("'", "''") + "'"
    if isinstance(conn, PgConnection):
        conn.raw.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET DEFAULT {literal}')
        conn.raw.execute(f'UPDATE "{table}" SET "{column}" = {literal} WHERE "{column}" IS NULL')
        conn.raw.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET NOT NULL')
        return
    info = {r[1]: r for r in conn.execute(f'PRAGMA table_info("{table}")')}
    if info[column][3]:                          # NOT NULL already (made again before)
        return
    create = str(conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0])
    create, n = re.subn(rf'(?<=[(,\s])"?{column}"?\s+TEXT(?=\s*[,)])', f'"{column}" TEXT NOT NULL DEFAULT {literal}', create)
    head = re.match(rf'\s*CREATE\s+TABLE\s+"?{table}"?', create, flags=re.I)
    if n != 1 or head is None:
        raise RuntimeError(f"cannot find the column {column} of {table} in its CREATE statement")
    made = f"_{table}_remade"
    extras = [str(r[0]) for r in conn.execute("SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                                              "AND tbl_name = ? AND sql IS NOT NULL ORDER BY type, name", (table,))]
    has_seq = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone() is not None
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone() if has_seq else None
    cols = ", ".join(f'"{c}"' for c in info)
    picked = ", ".join(f'COALESCE("{c}", {literal})' if c == column else f'"{c}"' for c in info)
    conn.execute("SAVEPOINT gw_remake")
    try:
        conn.execute(f'CREATE TABLE "{made}"' + create[head.end():])
        conn.execute(f'INSERT INTO "{made}" ({cols}) SELECT {picked} FROM "{table}"')
        conn.execute(f'DROP TABLE "{table}"')
        conn.execute(f'ALTER TABLE "{made}" RENAME TO "{table}"')
        for sql in extras:
            conn.execute(sql)
        if seq is not None and conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?",
                                            (seq[0], table)).rowcount == 0:
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, seq[0]))
    except BaseException:
        conn.execute("ROLLBACK TO gw_remake")
        conn.execute("RELEASE gw_remake")
        raise
    conn.execute("RELEASE gw_remake")


def rekey(conn: sqlite3.Connection | PgConnection, table: str, primary: Sequence[str],
          unique: Sequence[Sequence[str]] = ()) -> None:
    """A migration's step on PostgreSQL (SQLite keeps its keys): `table`'s primary key made `primary`
    and its unique constraints exactly `unique` (the others dropped; on a partitioned table, every
    partition's with them). A foreign key that needs a dropped key must be dropped first
    (drop_foreign_keys_to)."""
    if not isinstance(conn, PgConnection):
        return
    raw = conn.raw
    for (name,) in raw.execute("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) "
                               "AND contype IN ('p', 'u') ORDER BY contype, conname", (f'"{table}"',)).fetchall():
        raw.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    raw.execute(f'ALTER TABLE "{table}" ADD PRIMARY KEY ({", ".join(chr(34) + c + chr(34) for c in primary)})')
    for columns in unique:
        raw.execute(f'ALTER TABLE "{table}" ADD UNIQUE ({", ".join(chr(34) + c + chr(34) for c in columns)})')


def drop_foreign_keys_to(conn: sqlite3.Connection | PgConnection, table: str) -> list[str]:
    """A migration's step on PostgreSQL (SQLite enforces no foreign keys: nothing): drop every foreign
    key that refers to `table` (a partitioned table's once, its partitions' with it); the tables
    they were on."""
    if not isinstance(conn, PgConnection):
        return []
    raw, out = conn.raw, []
    for name, on in raw.execute("SELECT conname, conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
                                "AND confrelid = to_regclass(%s) AND conparentid = 0 ORDER BY 2, 1",
                                (f'"{table}"',)).fetchall():
        raw.execute(f'ALTER TABLE {on} DROP CONSTRAINT "{name}"')
        out.append(str(on).strip('"'))
    return out


def add_foreign_key(conn: sqlite3.Connection | PgConnection, table: str, columns: Sequence[str], parent: str,
                    keys: Sequence[str]) -> None:
    """A migration's step on PostgreSQL (SQLite enforces no foreign keys: nothing)."""
    if not isinstance(conn, PgConnection):
        return
    names = ", ".join(f'"{c}"' for c in columns)
    conn.raw.execute(f'ALTER TABLE "{table}" ADD FOREIGN KEY ({names}) REFERENCES "{parent}" '
                     f'({", ".join(chr(34) + c + chr(34) for c in keys)})')


# ------------------------------------------------------------------------------ keyed record tables

NEW = "_gw_new"          # the keys of a batch that were new (a temporary table)


def key_table(conn: PgConnection, table: str) -> str | None:
    """See PostgresDialect.key_table (looked up once a connection)."""
    if table not in KEYED:
        return None
    if conn.keyed is None:
        conn.keyed = {t for t, k in KEYED.items()
                      if _first(conn.raw.execute("SELECT to_regclass(%s)", (f'"{k}"',)).fetchone()) is not None}
    return KEYED[table] if table in conn.keyed else None


def key_columns(table: str) -> tuple[str, str, str]:
    """(record key, org, partition column) of a keyed record table: its primary key, in that order
    (a lookup by the record key alone uses the key's index in each partition)."""
    return KINDS[table].key[0], "org", MONTHLY[table]


def make_key_table(conn: sqlite3.Connection | PgConnection, table: str) -> None:
    """A migration's step on PostgreSQL (SQLite: nothing): the key table of a partitioned record
    table, filled from its rows."""
    if not isinstance(conn, PgConnection):
        return
    key, org, at = key_columns(table)
    conn.keyed = None
    conn.raw.execute(f'CREATE TABLE "{KEYED[table]}" ("{key}" TEXT COLLATE "C" PRIMARY KEY, '
                     f'"{org}" TEXT COLLATE "C" NOT NULL, "{at}" TEXT COLLATE "C" NOT NULL)')
    fill_key_table(conn, table)


def fill_key_table(conn: PgConnection, table: str) -> None:
    """The key table of `table` holds each of its rows' key and place (rows written around the store,
    as `db migrate-to` copies them)."""
    key, org, at = key_columns(table)
    conn.raw.execute(f'INSERT INTO "{KEYED[table]}" ("{key}", "{org}", "{at}") SELECT "{key}", "{org}", "{at}" '
                     f'FROM "{table}" ON CONFLICT ("{key}") DO UPDATE SET "{org}" = excluded."{org}", '
                     f'"{at}" = excluded."{at}"')


def _reltuples(conn: PgConnection, name: str) -> float | None:
    """The planner's row count of a table (`name` as to_regclass reads it): -1 when never analysed,
    None when there is no such table."""
    row = conn.raw.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (name,)).fetchone()
    return None if row is None else float(row[0])


def is_new(column: str, new: bool | None) -> str:
    """The condition on a batch's key `column`: one of the new keys (True), of the others (False), any (None)."""
    if new is None:
        return "1 = 1"
    if new:
        return f"{column} IN (SELECT k FROM {NEW})"
    return f"NOT EXISTS (SELECT 1 FROM {NEW} n WHERE n.k = {column})"    # not NOT IN: see findings._not_fired


def upsert_keyed(conn: PgConnection, table: str, columns: Sequence[str], base: str,
                 rows: Callable[[bool | None], str], params: dict[str, Any] | None = None,
                 months_made: bool = False, orphans: bool = True, total: int | None = None) -> tuple[int, int]:
    """Insert or update the records of a keyed, partitioned table; (inserted, updated). `base`: a
    table with one row a record key, holding the key, org and time columns; `rows(new)`: the SELECT
    of the `columns`' values (alias `o`) of its records, new ones (True), the others (False) or all
    (None), as `is_new` picks them.

    The key table is written first: `INSERT … ON CONFLICT DO NOTHING RETURNING` names the new keys (a
    second importer of the same new key waits on it, then finds it existing); a named key whose record
    is in the table already (written in SQL, no key row: `adopt_orphans`) is an existing one. The
    existing records are updated where the key table says they are (their partition only); one whose
    org or time changed moves with that UPDATE to its new partition, and its key row follows. Then the new records are
    inserted, into the partitions of their months (made first, unless the caller did: `months_made`).
    `orphans=False`: the caller knows the table holds no record without a key row (it was empty when
    the caller locked it against every other writer), so none is looked for, and the key rows go in by
    a plain INSERT first (`_all_new`): when none was there, every record is inserted as new; when one
    was, that INSERT is undone and the batch takes the upsert above. `total`: the rows of `base`, when
    the caller knows it (counted otherwise)."""
    key, org, at = key_columns(table)
    missing = {key, org, at} - set(columns)
    if missing:
        raise ValueError(f"a write of {table} must carry its key columns {sorted(missing)}")
    keys, params = KEYED[table], params or {}
    if not months_made:
        ensure_partitions(conn, table, [r[0] for r in conn.raw.execute(
            f'SELECT DISTINCT substr("{at}", 1, 7) FROM {base}')])
    names = ", ".join(f'"{c}"' for c in columns)
    if total is None:
        total = int(_first(conn.raw.execute(f"SELECT count(*) FROM {base}").fetchone()))
    if not orphans and _all_new(conn, table, base):
        conn.execute(f'INSERT INTO "{table}" ({names}) {rows(None)}', params)
        conn.bulk_loaded.update((table, keys))
        return total, 0
    conn.raw.execute(f'CREATE TEMP TABLE IF NOT EXISTS {NEW} (k TEXT COLLATE "C")')
    conn.raw.execute(f"TRUNCATE {NEW}")
    new = conn.raw.execute(
        f'WITH n AS (INSERT INTO "{keys}" ("{key}", "{org}", "{at}") SELECT "{key}", "{org}", "{at}" FROM {base} '
        f'ON CONFLICT ("{key}") DO NOTHING RETURNING "{key}") INSERT INTO {NEW} (k) SELECT "{key}" FROM n').rowcount
    if new and orphans:     # orphans: records written around the store (raw SQL) whose keys the key table lacks
        new -= adopt_orphans(conn, table)
    if new < total:
        sets = ", ".join(f'"{c}" = o."{c}"' for c in columns if c != key)
        moved = conn.execute(
            f'UPDATE "{table}" AS t SET {sets} FROM ({rows(False)}) AS o JOIN "{keys}" AS k ON k."{key}" = o."{key}" '
            f'WHERE t."{key}" = k."{key}" AND t."{org}" = k."{org}" AND t."{at}" = k."{at}"', params).rowcount
        conn.raw.execute(f'UPDATE "{keys}" AS k SET "{org}" = b."{org}", "{at}" = b."{at}" FROM {base} AS b '
                         f'WHERE k."{key}" = b."{key}" AND (k."{org}" <> b."{org}" OR k."{at}" <> b."{at}")')
        if moved < total - new:      # records moved or deleted around the store (raw SQL): found by key
            moved += conn.execute(
                f'UPDATE "{table}" AS t SET {sets} FROM ({rows(False)}) AS o JOIN "{keys}" AS k ON k."{key}" = o."{key}" '
                f'WHERE t."{key}" = o."{key}" AND (t."{org}" <> k."{org}" OR t."{at}" <> k."{at}")', params).rowcount
            conn.execute(f'INSERT INTO "{table}" ({names}) SELECT * FROM ({rows(False)}) AS o WHERE NOT EXISTS '
                         f'(SELECT 1 FROM "{table}" AS t WHERE t."{key}" = o."{key}")', params)
    else:
        moved = 0
    if new:
        conn.execute(f'INSERT INTO "{table}" ({names}) {rows(True if new < total else None)}', params)
    conn.bulk_loaded.update((table, keys))
    return total - moved, moved


def _all_new(conn: PgConnection, table: str, base: str) -> bool:
    """Write the key rows of `base`'s records as new ones with a plain INSERT, in a savepoint: True when
    none was there; False, nothing written, when one was (another importer's, or an earlier batch's).
    Without the conflict arbiter, RETURNING and the list of new keys, 1M keys cost 1.9 s instead of 5.6 s
    (both measured on a loaded machine); only for a table holding no record without a key row."""
    from psycopg.errors import UniqueViolation        # psycopg: imported where a PostgreSQL store needs it
    key, org, at = key_columns(table)
    savepoint, raw = conn.in_transaction, conn.raw
    if savepoint:
        raw.execute("SAVEPOINT _gw_keys")
    try:
        raw.execute(f'INSERT INTO "{KEYED[table]}" ("{key}", "{org}", "{at}") SELECT "{key}", "{org}", "{at}" FROM {base}')
    except UniqueViolation:
        if not savepoint:
            raise
        raw.execute("ROLLBACK TO SAVEPOINT _gw_keys")
        return False
    if savepoint:
        raw.execute("RELEASE SAVEPOINT _gw_keys")
    return True


def adopt_orphans(conn: PgConnection, table: str) -> int:
    """The batch's keys just claimed as new (in NEW) whose records are already in `table` (inserted in
    SQL around the store, by a DBA or a tool, so without a key row): their key rows are set to where
    those records are and the keys are no longer new, so that the batch updates them in place instead
    of inserting a second record with the key. Looked up by key (each partition's primary key index
    leads with it), for the batch's new keys only; NEW analysed first, so that the planner knows the
    batch's size beside the table's (a big batch: one hash join rather than a probe of every partition
    a key). Returns how many keys were adopted."""
    key, org, at = key_columns(table)
    conn.raw.execute(f"ANALYZE {NEW}")
    return int(conn.raw.execute(
        f'WITH o AS (SELECT DISTINCT ON (t."{key}") t."{key}", t."{org}", t."{at}" FROM "{table}" AS t '
        f'WHERE t."{key}" IN (SELECT k FROM {NEW}) ORDER BY t."{key}", t."{at}" DESC, t."{org}"), '
        f'a AS (UPDATE "{KEYED[table]}" AS k SET "{org}" = o."{org}", "{at}" = o."{at}" FROM o '
        f'WHERE k."{key}" = o."{key}" RETURNING k."{key}") '
        f'DELETE FROM {NEW} WHERE k IN (SELECT "{key}" FROM a)').rowcount)


def upsert_keyed_rows(conn: PgConnection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """`upsert_keyed` of Python rows (the import's Python path): COPY into a staging table, a key
    twice in `rows` its last row (as row by row)."""
    key = key_columns(table)[0]
    stage = f"_stage_{table}"
    raw = conn.raw
    raw.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "{table}" INCLUDING DEFAULTS, _ord BIGINT)')
    raw.execute(f'TRUNCATE "{stage}"')
    cols = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor().copy(f'COPY "{stage}" ({cols}, _ord) FROM STDIN') as copy:
        for i, row in enumerate(rows):
            copy.write_row([*map(_plain, row), i])
    raw.execute(f'DELETE FROM "{stage}" AS s USING "{stage}" AS l WHERE l."{key}" = s."{key}" AND l._ord > s._ord')
    picked, column = ", ".join(f'o."{c}"' for c in columns), f'o."{key}"'
    upsert_keyed(conn, table, columns, f'"{stage}"',
                 lambda new: f'SELECT {picked} FROM "{stage}" AS o WHERE {is_new(column, new)}')


Dialect = Union[SQLiteDialect, "PostgresDialect"]


def dialect_for(target: str, password_env: str | None = None) -> Dialect:
    return PostgresDialect(password_env) if is_postgres(target) else SQLiteDialect()
