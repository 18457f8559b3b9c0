"""A scan's memory does not grow with the data (issue 11: every step under 300 MB at 10M cases).

- No statement a scan runs on SQLite holds a rowid set of the records it matches: SQLite answers
  `a OR b` over two indexes with a MULTI-INDEX OR, whose rowid set keeps every matched row in memory
  (the data-quality check's `_seq > :since OR key IN (…)` held 232 MB at 10M cases in a first scan,
  which matches every record). A split selection (UNION ALL) streams.
- A first scan's Python heap stays flat as the findings it opens grow: the fired pairs that open are
  read and made whole a page at a time (checker.findings.CHUNK, checker.evaluate.scan.PREPARE_LIMIT),
  here made small so that a few hundred findings are many pages.
"""
from __future__ import annotations

import gc
import sqlite3
import tracemalloc
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import checker.evaluate.scan as scan_module
import checker.findings as findings_module
from checker import config
from checker.evaluate.scan import run_scan
from checker.rules import load_packs
from checker.store import Store
from checker.store.base import StoreBase

from scanworld import load
from test_engines_agree import seeded_records

ROOT = Path(__file__).resolve().parent.parent
PACKS = [ROOT / "rules" / "db33", ROOT / "rules" / "db50"]
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 10, 14, 8, 30, tzinfo=TZ)
NEXT = datetime(2026, 10, 15, 8, 30, tzinfo=TZ)
_EXPLAINED = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
# Tables sized by the organisation, not by the data (a rowid set of them is a few hundred rows)
_SMALL = {"orgs", "officers", "items", "workday_cals"}


def _traced(monkeypatch) -> list[tuple[sqlite3.Connection, str]]:
    """Every statement run on a SQLite connection a Store opens from now on, with its connection."""
    seen: list[tuple[sqlite3.Connection, str]] = []
    opened = StoreBase._open_sqlite

    def open_traced(self: StoreBase) -> sqlite3.Connection:
        conn = opened(self)
        conn.set_trace_callback(lambda sql, conn=conn: seen.append((conn, sql)))
        return conn
    monkeypatch.setattr(StoreBase, "_open_sqlite", open_traced)
    return seen


def _or_tables(plan: list[tuple[int, int, int, str]]) -> list[str]:
    """The tables a plan's MULTI-INDEX ORs search (their descendants' SEARCH lines)."""
    children: dict[int, list[tuple[int, str]]] = {}
    for node, parent, _, detail in plan:
        children.setdefault(parent, []).append((node, detail))
    out, todo = [], [node for node, _, _, detail in plan if detail.startswith("MULTI-INDEX OR")]
    while todo:
        for node, detail in children.get(todo.pop(), []):
            todo.append(node)
            if detail.startswith("SEARCH "):
                out.append(detail.split()[1])
    return out


def _plans(path: str, seen: list[tuple[sqlite3.Connection, str]]) -> tuple[int, list[tuple[str, str]]]:
    """(statements explained, [(statement, table)] of every MULTI-INDEX OR over a table of the data). A statement is explained
    on its own connection while that is open (its temp tables), else on a new one; one that reads a
    closed connection's temp tables cannot be, and is left out."""
    fresh = sqlite3.connect(path)
    explained, ors = 0, []
    for conn, sql in seen:
        if not sql.lstrip().upper().startswith(_EXPLAINED):
            continue
        for c in (conn, fresh):
            try:
                plan = c.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            except (sqlite3.ProgrammingError, sqlite3.OperationalError):
                continue
            explained += 1
            ors += [(sql, table) for table in _or_tables(plan) if table not in _SMALL]
            break
    fresh.close()
    return explained, ors


def test_no_statement_of_a_first_or_daily_scan_keeps_a_rowid_set_of_the_rows_it_matches(tmp_path, monkeypatch):
    seen = _traced(monkeypatch)
    cfg = config.load(None, database=str(tmp_path / "plans.db"))
    with Store(cfg.database) as store:
        load(store, cfg, seeded_records(11, 300), tmp_path)
        book = load_packs(PACKS)
        first = run_scan(store, cfg, book, NOW, full=True)
        assert first.opened > 0
        load(store, cfg, {"cases": seeded_records(12, 40)["cases"]}, tmp_path)   # changed rows
        run_scan(store, cfg, book, NEXT)
        explained, ors = _plans(store.path, seen)
    assert explained > 100, "the scans' statements were traced and explained"
    assert ors == [], "\n\n".join(f"{plan}\n  in {sql[:600]}" for sql, plan in ors)


def _first_scan_peak(tmp_path, cases: int) -> tuple[int, int]:
    """(findings opened, the Python heap's peak above its start) of a first scan of `cases` seeded cases."""
    cfg = config.load(None, database=str(tmp_path / f"peak-{cases}.db"))
    with Store(cfg.database) as store:
        load(store, cfg, seeded_records(7, cases), tmp_path)
        book = load_packs(PACKS)
        run_scan(store, cfg, book, NOW, full=True)      # what every scan creates once (workdays, roll-ups, caches)
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in ("finding_events", "finding_seen", "outbox", "findings", "scans", "rule_seen"):
            if table in tables:                         # what a scan wrote (finding_seen: older stores)
                store.conn.execute(f"DELETE FROM {table}")
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            result = run_scan(store, cfg, book, NOW, full=True)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    return result.opened, peak


def test_a_first_scans_python_peak_does_not_grow_with_the_findings_it_opens(tmp_path, monkeypatch):
    monkeypatch.setattr(findings_module, "CHUNK", 25)
    monkeypatch.setattr(scan_module, "PREPARE_LIMIT", 25)
    small_opened, small = _first_scan_peak(tmp_path, 300)
    big_opened, big = _first_scan_peak(tmp_path, 1500)
    assert big_opened > 3 * small_opened > 3 * 25 * 10    # both many pages, the second over three times as many
    # what grows with the data beside the pages (the org and rule caches do not) stays well under the
    # growth a finding kept per opened one would show (a few hundred bytes each)
    assert big - small < 100 * (big_opened - small_opened), (small, big, small_opened, big_opened)
