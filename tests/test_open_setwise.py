"""A scan opens its new record findings set-wise in SQL (checker.findings.opening, checker.store.opening):
each must be what the Python path (checker.evaluate.scan.complete_firings, checker.findings.routing)
makes of the same firing — message, facts, due date, org, routing, severity, its open event."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checker.config import HallCalendar
from checker.evaluate.scan import ScanContext, complete_firings, run_scan
from checker.findings import Firing
from checker.findings.routing import CachedDirectory, assign
from checker.rules import load_packs
from checker.store import Store, opening
from checker.store.findings import orgs_out

from conftest import PG_URL, _new_schema, pg_schema_url
from test_engines_agree import _load, seeded_records

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")


def _officers(records: dict) -> dict:
    """Officers, some of them the cases' handlers (routing decides on both)."""
    officers = [{"id": f"O{i}", "name": f"办事员{i}", "org": ["H1", "H2"][i % 2], "role": "officer"}
                for i in range(4)] + [{"id": "S1", "name": "督查", "org": "R", "role": "supervisor"}]
    for i, case in enumerate(records["cases"]):
        case["handler"] = [None, "O0", "O1", "O2", "O3"][i % 5]
    return {"orgs": records.pop("orgs"), "officers": officers, **records}


@pytest.mark.parametrize("seed", [4, 21])
def test_a_finding_opened_setwise_is_what_the_python_path_makes(seed, store, cfg, tmp_path):
    cfg = replace(cfg, calendar=replace(cfg.calendar, halls={"H2": HallCalendar(
        extra_holidays=("2026-10-09",), extra_workdays=("2026-10-11",))}))
    _load(store, cfg, _officers(seeded_records(seed, 300)), tmp_path)
    book = load_packs([ROOT / "rules" / "db33", ROOT / "rules" / "db50"])
    now = datetime(2026, 10, 14, 8, 30, tzinfo=TZ)
    result = run_scan(store, cfg, book, now)
    rows = orgs_out(store.rows("SELECT * FROM findings WHERE kind = 'record' AND rule != 'govwatch.data_quality' "
                               "ORDER BY id"))
    assert result.opened >= len(rows) > 100 and len({r["rule"] for r in rows}) >= 12
    rules = {r.id: r for r in book.of_kind("record")}
    ctx = ScanContext(store, cfg, book, now, True, 0)
    made = {f.fingerprint: f for f in complete_firings(
        ctx, [Firing(rules[r["rule"]], r["subject"], r["subject_kind"], None, None, None, None) for r in rows])}
    directory = CachedDirectory(store)
    for row in rows:
        firing = made[row["fingerprint"]]
        assert (row["message"], row["due_at"], row["org"], row["severity"], row["clause"], row["standard"]) == (
            firing.message, firing.due_at, firing.org, firing.rule.severity, firing.rule.clause,
            firing.rule.standard), row["fingerprint"]
        assert json.loads(row["data"]) == firing.facts, row["fingerprint"]
        if store.dialect.name == "sqlite":                     # the very text json.dumps writes
            assert row["data"] == json.dumps(firing.facts, ensure_ascii=False, sort_keys=True, default=str)
        assert (row["assignee"], row["supervisor"]) == assign(directory, cfg, firing.rule, firing.org, firing.handler)
        events = store.finding_events(row["id"])
        assert [(e["action"], e["from_status"], e["to_status"], e["actor"], e["at"], e["data"]) for e in events] == [
            ("open", None, "open", "system", now.isoformat(timespec="seconds"),
             {"scan_id": result.scan_id, "assignee": row["assignee"]})]
    ids = [r["id"] for r in rows]
    assert [r["fingerprint"] for r in sorted(rows, key=lambda r: r["id"])] == sorted(r["fingerprint"] for r in rows)
    assert ids == sorted(ids)
    events = store.rows("SELECT id, finding_id FROM finding_events WHERE action = 'open' ORDER BY id")
    assert [e["finding_id"] for e in events] == sorted(e["finding_id"] for e in events)    # the findings' order


def test_a_scan_plans_its_joins_on_statistics_of_what_it_staged(store, cfg, tmp_path):
    """PostgreSQL: the fired pairs a scan joins to the findings (temp._fired) and the findings after
    a big opening have statistics when the joins are planned (without them a 500,000-row join is
    planned for 10^9 rows: issue 17)."""
    if store.dialect.name != "postgresql":
        pytest.skip("SQLite plans without statistics of temporary tables")
    _load(store, cfg, _officers(seeded_records(4, 300)), tmp_path)
    book = load_packs([ROOT / "rules" / "db33"])
    result = run_scan(store, cfg, book, datetime(2026, 10, 14, 8, 30, tzinfo=TZ))
    assert result.opened > 100
    raw = store.conn.raw                      # the scan's own session: its temporary tables
    staged = dict(raw.execute("SELECT relname, reltuples FROM pg_class WHERE relnamespace = pg_my_temp_schema() "
                              "AND relname = '_fired'").fetchall())
    assert staged.get("_fired", 0) > 0, staged
    assert raw.execute("SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() "
                       "AND tablename = 'findings' AND attname = 'fingerprint'").fetchone()[0] == 1


@pytest.fixture
def other_database(store_kind, tmp_path):
    """A second freshly migrated, empty store of the test's kind."""
    if store_kind == "sqlite":
        yield str(tmp_path / "other.db")
        return
    import psycopg
    schema = _new_schema()
    yield pg_schema_url(PG_URL, schema)
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _first_scan(database: str, cfg, tmp_path, chunk: int, monkeypatch) -> tuple[int, list, list]:
    monkeypatch.setattr(opening, "OPEN_CHUNK", chunk)
    (tmp_path / str(chunk)).mkdir()
    with Store(database) as store:
        _load(store, cfg, _officers(seeded_records(4, 300)), tmp_path / str(chunk))
        result = run_scan(store, cfg, load_packs([ROOT / "rules" / "db33", ROOT / "rules" / "db50"]),
                          datetime(2026, 10, 14, 8, 30, tzinfo=TZ))
        return (result.opened, store.rows("SELECT * FROM findings ORDER BY id"),
                store.rows("SELECT * FROM finding_events ORDER BY id"))


def test_a_first_scan_opening_in_several_statements_writes_what_one_statement_writes(
        cfg, database, other_database, tmp_path, monkeypatch):
    """The new findings go in OPEN_CHUNK at a time (PostgreSQL checks each open event's key to its
    finding at its statement's end: a bounded statement keeps what it checks in the buffer cache).
    Opened in chunks of 7, the findings, their numbers and their open events are those of one statement."""
    opened, findings, events = _first_scan(database, cfg, tmp_path, 7, monkeypatch)
    assert opened > 10 * 7                                      # many chunks, the last one partial
    assert (opened, findings, events) == _first_scan(other_database, replace(cfg, database=other_database),
                                                     tmp_path, opened + 1, monkeypatch)
    assert sum(e["action"] == "open" for e in events) >= opened


def test_a_first_scan_checks_its_open_events_by_the_findings_key(store, cfg, tmp_path):
    """PostgreSQL checks each open event's foreign key to its finding by a query it plans once a
    session and keeps. Planned while the findings were few and their statistics said empty (a new
    store analysed, as after a bulk load), it was a sequential scan, and the first scan then checked
    each of its events by reading every finding it had opened (issue 17). The opening plans the checks
    again, on the findings as they are then."""
    if store.dialect.name != "postgresql":
        pytest.skip("SQLite enforces no foreign keys")
    _load(store, cfg, _officers(seeded_records(4, 300)), tmp_path)
    store.conn.execute("ANALYZE findings")                         # a new store's statistics: empty
    store.conn.execute("BEGIN")                  # the scan's transaction nests in it: its counters are read
    try:
        for i in range(10):                                   # a few checks in the session plan the query
            store.conn.execute("WITH f AS (INSERT INTO findings (fingerprint, rule, clause, standard, kind, "
                               "subject, org, severity, status, message, opened_at) VALUES (?, 'pre', 'c', 's', "
                               "'record', ?, 'H1', 'low', 'open', 'm', '2026-10-13T08:30:00') RETURNING id, org) "
                               "INSERT INTO finding_events (finding_id, org, at, actor, action) "
                               "SELECT id, org, '2026-10-13T08:30:00', 'system', 'open' FROM f", (f"pre:{i}", str(i)))
        result = run_scan(store, cfg, load_packs([ROOT / "rules" / "db33"]), datetime(2026, 10, 14, 8, 30, tzinfo=TZ))
        read = store.row("SELECT seq_tup_read, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'findings' "
                         "AND schemaname = current_schema()")
    finally:
        store.conn.execute("ROLLBACK")
    # Most checks go by the key (an index scan of findings each; the few made before the opening, on
    # the tiny table, may scan it); sequentially read, every check would read half the findings on
    # average (201 opened: 23,526 rows read, 5 index scans; planned again: 4,400 and 136)
    assert result.opened > 100 and read["idx_scan"] > result.opened / 2, (result.opened, read)
    assert read["seq_tup_read"] < result.opened ** 2 / 4, (result.opened, read)
