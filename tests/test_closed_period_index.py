"""The cases concluded in a period (by closed_at: db50's E1, DB50/T 957.7 §5.4.2 b) are read from
an index that holds what the indicator reads of them (migration 0208, issue 11): without it SQLite
walked every case by its org index. The figures are those computed without the index."""
from __future__ import annotations

from checker import config
from checker.evaluate.indicators import compute
from checker.periods import Period
from checker.rules import load_packs
from checker.store import Store

from scanworld import load
from test_engines_agree import seeded_records
from test_scan_memory import NOW, PACKS


def _e1(tmp_path, name: str, drop: bool) -> tuple[list[tuple], list[str]]:
    """E1 of October 2026 for every org, and the query plans of the statements reading cases by closed_at."""
    cfg = config.load(None, database=str(tmp_path / name))
    with Store(cfg.database) as store:
        if drop:
            store.conn.execute("DROP INDEX ix_cases_closed")
        load(store, cfg, seeded_records(31, 600), tmp_path)
        seen: list[str] = []
        store.conn.set_trace_callback(seen.append)
        values = compute(store, cfg, load_packs(PACKS), Period.parse("2026-10"), now=NOW)
        store.conn.set_trace_callback(None)
        reads = [sql[sql.index("SELECT"):] for sql in seen if '"closed_at" >=' in sql and 'FROM "cases"' in sql]
        plans = [d for sql in reads for *_, d in store.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
    return sorted((v.code, v.org, v.numerator, v.denominator) for v in values if v.code == "E1"), plans


def test_e1_reads_the_concluded_cases_from_their_index_with_the_same_figures(tmp_path):
    figures, plans = _e1(tmp_path, "new.db", drop=False)
    before, old_plans = _e1(tmp_path, "old.db", drop=True)
    assert any(d.startswith("SEARCH cases USING COVERING INDEX ix_cases_closed (closed_at>? AND closed_at<?)")
               for d in plans), plans
    assert not any("ix_cases_closed" in d for d in old_plans)
    assert figures == before and any(d for *_, d in figures)          # some concluded cases counted
