"""A daily scan reaches the live appointments, consultations and bad evaluations through indexes
that cover what the shipped rules read of them (migration 0207, issue 11: at 10M cases each table
row read was a random read of a 9 GB file): the count of the live records and each rule's walk of
the rows its truth can have moved on read no table row. The findings are those of the same scan
without the wider indexes."""
from __future__ import annotations

import re
import sqlite3

from checker import config
from checker.evaluate.scan import run_scan
from checker.rules import load_packs
from checker.store import Store
from checker.store.scan import LIVE_SQL

from scanworld import load
from test_engines_agree import seeded_records
from test_scan_memory import NEXT, NOW, PACKS

KINDS = ("appointments", "consultations", "evaluations")
PARAMS = {"since": "2026-10-14T08:30:00+08:00", "until": "2026-10-22T08:30:00+08:00"}
# The narrowed clock walks (fire_changes' first statement): a rule's rows by a column range
_WALK = re.compile(r'^INSERT INTO temp\._delta .* FROM "(appointments|consultations|evaluations)"\s+WHERE \(\("', re.S)
_OLD = """
DROP INDEX ix_appointments_status; CREATE INDEX ix_appointments_status ON appointments (status, slot_at);
DROP INDEX ix_consultations_answered; CREATE INDEX ix_consultations_answered ON consultations (answered_at);
DROP INDEX ix_evaluations_level; CREATE INDEX ix_evaluations_level ON evaluations (level);
DROP INDEX ix_evaluations_period; CREATE INDEX ix_evaluations_period ON evaluations (evaluated_at, org, channel, level);
"""


def _searches(conn: sqlite3.Connection, sql: str, params: dict) -> list[str]:
    return [d for *_, d in conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall() if d.startswith("SEARCH")]


def _daily(tmp_path, name: str, old: bool) -> tuple[list[tuple[str, ...]], list[tuple[str, list[str]]]]:
    """The findings of a first scan, then of a daily scan after changed rows, and the daily scan's statements."""
    cfg = config.load(None, database=str(tmp_path / name))
    with Store(cfg.database) as store:
        if old:
            store.conn.executescript(_OLD)
        load(store, cfg, seeded_records(21, 400), tmp_path)
        book = load_packs(PACKS)
        run_scan(store, cfg, book, NOW, full=True)
        load(store, cfg, {"cases": seeded_records(22, 40)["cases"]}, tmp_path)
        seen: list[str] = []
        store.conn.set_trace_callback(seen.append)
        run_scan(store, cfg, book, NEXT)
        store.conn.set_trace_callback(None)
        plans = [(sql, _searches(store.conn, sql[sql.index("SELECT"):], {})) for sql in seen if _WALK.match(sql)]
        rows = store.conn.execute("SELECT fingerprint, status, message, data, due_at FROM findings "
                                  "ORDER BY fingerprint").fetchall()
    return rows, plans


def test_the_live_counts_read_only_an_index(tmp_path):
    with Store(str(tmp_path / "count.db")) as store:
        for kind in KINDS:
            searches = _searches(store.conn, f'SELECT count(*) FROM "{kind}" WHERE {LIVE_SQL[kind]}', PARAMS)
            assert searches and all("COVERING INDEX" in s for s in searches), (kind, searches)


def test_the_clock_walks_read_only_an_index_and_find_what_they_found_before(tmp_path):
    before, _ = _daily(tmp_path, "old.db", old=True)
    after, plans = _daily(tmp_path, "new.db", old=False)
    assert {re.search(r'FROM "(\w+)"', sql).group(1) for sql, _ in plans} == set(KINDS), "every kind's walk ran"
    for sql, searches in plans:
        kind = re.search(r'FROM "(\w+)"', sql).group(1)
        assert [s for s in searches if f"SEARCH {kind} " in s and "COVERING INDEX" not in s] == [], (sql[:300], searches)
    assert after == before and len(after) > 50
