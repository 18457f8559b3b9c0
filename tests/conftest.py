"""Shared fixtures: a real SQLite file per test, the real config loader.

Store-facing test modules run against both stores: they set `pytestmark = pytest.mark.both_stores`
and get `store_kind` ∈ {sqlite, postgresql}. The PostgreSQL variant needs a server named by
GOVWATCH_TEST_PG (a `postgresql://` URL; `.ci/run` starts a throw-away cluster and sets it); each
test gets a schema of its own, dropped afterwards. Without the variable the PostgreSQL variants
skip, with the reason; under CI (CI=true) they fail instead of skipping.
"""
from __future__ import annotations

import importlib.util
import os
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from checker import config as config_mod
from checker.store import Store

ROOT = Path(__file__).resolve().parent.parent
STORE_KINDS = ("sqlite", "postgresql")


def _worker_url(base: str | None, worker: str | None) -> str | None:
    """Under pytest-xdist each worker has a database of its own on the server (made on first use,
    dropped at its end): the store's advisory locks are per database, so workers never wait on
    each other's. A plain `pytest` (no workers) uses the database named by GOVWATCH_TEST_PG."""
    if not base or not worker:
        return base
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/govwatch_test_{worker}_{os.getpid()}"))


PG_SERVER_URL = os.environ.get("GOVWATCH_TEST_PG")
PG_URL = _worker_url(PG_SERVER_URL, os.environ.get("PYTEST_XDIST_WORKER"))
_made_database: list[str] = []


def _ensure_database() -> None:
    if PG_URL == PG_SERVER_URL or _made_database:
        return
    import psycopg
    name = urlsplit(PG_URL).path.lstrip("/")
    with psycopg.connect(PG_SERVER_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    _made_database.append(name)


def pytest_addoption(parser):
    """A virtualenv made before pytest-xdist joined the test extra runs the suite in one process
    instead of failing on pyproject's `-n auto --dist loadfile` (`pip install -e '.[test]'` adds it)."""
    if importlib.util.find_spec("xdist") is None:    # _addoption: how xdist itself claims "-n"
        group = parser.getgroup("xdist", "pytest-xdist is not installed: one process")
        group._addoption("-n", dest="numprocesses", default=None, help="ignored without pytest-xdist")
        group._addoption("--dist", dest="dist", default=None, help="ignored without pytest-xdist")


def pytest_configure(config):
    config.addinivalue_line("markers", "both_stores: run the test against SQLite and PostgreSQL")


def pytest_generate_tests(metafunc):
    if "store_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store_kind", STORE_KINDS, indirect=True)


def require_pg() -> str:
    """The test server's URL; skip (locally) or fail (under CI) without one."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("GOVWATCH_TEST_PG is not set: CI must run the PostgreSQL variants")
        pytest.skip("PostgreSQL variant: set GOVWATCH_TEST_PG to a postgresql:// URL (.ci/run does)")
    _ensure_database()
    return PG_URL


@pytest.fixture
def pg_url() -> str:
    return require_pg()


@pytest.fixture
def store_kind(request) -> str:
    kind = getattr(request, "param", "sqlite")
    if kind == "postgresql":
        require_pg()
    return kind


def pg_schema_url(base: str, schema: str) -> str:
    """The URL of `base` with `schema` first on the search path."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


# Migrated schemas are reused: a test's schema is emptied afterwards (TRUNCATE, then the rows the
# migrations seed) and handed to the next test, instead of migrating a new one each time (~0.4 s).
_POOL: list[str] = []
_SEEDED: dict[str, list] = {}


def _new_schema() -> str:
    import psycopg
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    Store(pg_schema_url(PG_URL, schema)).close()          # migrate
    if not _SEEDED:
        with psycopg.connect(pg_schema_url(PG_URL, schema)) as conn:
            for table in _tables(conn):
                _SEEDED[table] = conn.execute(f'SELECT * FROM "{table}"').fetchall()
    return schema


def _tables(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                       "AND tablename <> '_migrations' ORDER BY tablename")]


def _reset(schema: str) -> bool:
    """Empty a used schema back to its freshly migrated state; False when it cannot be reused."""
    import psycopg
    try:
        with psycopg.connect(pg_schema_url(PG_URL, schema)) as conn:
            conn.execute("SET lock_timeout = '5s'")
            for (part,) in conn.execute("SELECT c.relname FROM pg_class c WHERE c.relispartition AND c.relkind = 'r' "
                                        "AND c.relnamespace = current_schema()::regnamespace").fetchall():
                if part not in _SEEDED:           # a month's partition a test made: gone with its rows
                    conn.execute(f'DROP TABLE "{part}"')
            tables = _tables(conn)
            if set(tables) != set(_SEEDED) or conn.execute("SELECT count(*) FROM pg_proc p JOIN pg_namespace n "
                                                            "ON n.oid = p.pronamespace WHERE n.nspname = %s",
                                                            (schema,)).fetchone()[0] == 0:
                return False
            # Only the tables the test touched: a table with storage (rows, or dead ones) or statistics
            # (ANALYZE) differs from a truncated one; truncating all 65 every time cost ~0.4 s of server CPU.
            used = [r[0] for r in conn.execute(
                "SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
                "AND c.relkind = 'r' AND c.relname <> '_migrations' "
                "AND (pg_relation_size(c.oid) > 0 OR c.reltuples <> -1 OR c.relname = ANY(%s))",
                ([t for t, rows in _SEEDED.items() if rows],))]
            if used:
                conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in used) + " RESTART IDENTITY CASCADE")
            for (seq,) in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() "
                                       "AND last_value IS NOT NULL").fetchall():
                conn.execute(f'ALTER SEQUENCE "{seq}" RESTART')      # one a test drew from without a row
            for table, rows in _SEEDED.items():
                if rows:
                    marks = ", ".join(["%s"] * len(rows[0]))
                    conn.cursor().executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        return True
    except psycopg.Error:
        return False


@pytest.fixture
def pg_database(pg_url):
    """A PostgreSQL schema of the test's own (as a URL), freshly migrated and empty."""
    schema = _POOL.pop() if _POOL else _new_schema()
    yield pg_schema_url(PG_URL, schema)
    if _reset(schema):
        _POOL.append(schema)


def pytest_sessionfinish(session, exitstatus):
    if PG_URL and _POOL and not _made_database:
        import psycopg
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            for schema in _POOL:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    if _made_database:
        import psycopg
        with psycopg.connect(PG_SERVER_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{_made_database[0]}" WITH (FORCE)')


@pytest.fixture
def database(request, store_kind, tmp_path, monkeypatch) -> str:
    """The test's database: a SQLite file in its temp dir, or a PostgreSQL schema of its own (its
    files, e.g. evidence, in the temp dir)."""
    if store_kind == "postgresql":
        monkeypatch.setenv("GOVWATCH_FILES", str(tmp_path))
        return request.getfixturevalue("pg_database")
    return str(tmp_path / "govwatch.db")


@pytest.fixture
def cfg(database):
    """Default configuration with the test's database."""
    return config_mod.load(None, database=database)


@pytest.fixture
def store(cfg):
    s = Store(cfg.database)
    yield s
    s.close()
