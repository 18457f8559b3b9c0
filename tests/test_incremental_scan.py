"""The incremental scan equals a full rescan: every change bumps `_seq` (the database's triggers stamp a
row written in SQL without one), and random sequences of imports, SQL edits, deletions, clock
advances over working days and holidays, and findings verified or acknowledged leave the same
findings after an incremental scan as after a full one of the same data at the same `now`."""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checker.config import HallCalendar
from checker.evaluate.scan import run_scan
from checker.rules import load_packs
from checker.store import Store

from conftest import _POOL, _new_schema, _reset, pg_schema_url, PG_URL
from scanworld import active, load, people, touch
from test_engines_agree import seeded_records

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

ROOT = Path(__file__).resolve().parent.parent
PACKS = [ROOT / "rules" / "db33", ROOT / "rules" / "db50"]
TZ = ZoneInfo("Asia/Shanghai")


# ---------------------------------------------------------------- the triggers

def _seq(store, case_no: str) -> int:
    return int(store.scalar("SELECT _seq FROM cases WHERE case_no = ?", (case_no,)))


def test_a_row_written_in_sql_without_a_change_number_gets_one_above_the_current(store, cfg, tmp_path):
    load(store, cfg, {k: v for k, v in seeded_records(3, 20).items() if k in ("orgs", "items", "cases")}, tmp_path)
    seq = store.current_seq()
    assert _seq(store, "C00001") == seq                       # the import's own number (its deadlines too)
    run_scan(store, cfg, load_packs(PACKS), datetime(2026, 10, 14, 8, 30, tzinfo=TZ))
    covered, seq = store.last_scan_seq(), store.current_seq()
    assert seq > covered >= _seq(store, "C00001")
    with store.transaction() as c:
        c.execute("UPDATE cases SET status = 'closed' WHERE case_no = 'C00001'")
        c.execute("INSERT INTO cases (case_no, item_code, org, channel, accepted_at, status) "
                  "VALUES ('X1', 'I1', 'H1', 'window', '2026-10-09T09:00:00+08:00', 'processing')")
        c.execute(f"UPDATE cases SET status = 'closed', _seq = {seq + 7} WHERE case_no = 'C00002'")
    assert _seq(store, "C00001") == seq + 1
    assert _seq(store, "X1") in (0, seq + 1)          # SQLite: stamped as the next scan starts (no INSERT trigger)
    with store.transaction() as c:                            # again before a scan: still above the last
        c.execute("UPDATE cases SET status = 'processing' WHERE case_no = 'C00001'")
    assert _seq(store, "C00001") == seq + 1
    assert _seq(store, "C00002") == seq + 7                   # a writer that sets it keeps its own
    assert store.deleted_seq() <= covered
    with store.transaction() as c:
        c.execute("DELETE FROM cases WHERE case_no = 'C00003'")
    assert store.deleted_seq() == seq + 1
    run_scan(store, cfg, load_packs(PACKS), datetime(2026, 10, 14, 9, 30, tzinfo=TZ))
    assert covered < _seq(store, "X1") <= store.last_scan_seq()


def test_the_scan_takes_a_change_number_so_a_stamped_row_is_looked_at_once(store, cfg, tmp_path):
    load(store, cfg, {k: v for k, v in seeded_records(3, 20).items() if k in ("orgs", "items", "cases")}, tmp_path)
    book = load_packs(PACKS)
    when = datetime(2026, 10, 14, 8, 30, tzinfo=TZ)
    run_scan(store, cfg, book, when)
    key = store.scalar("SELECT min(case_no) FROM cases WHERE status = 'closed' AND due_at < '2026-10-13'")
    with store.transaction() as c:                            # closed by mistake: open again, overdue
        c.execute("UPDATE cases SET status = 'processing', closed_at = NULL WHERE case_no = ?", (key,))
    stamped = _seq(store, key)
    assert stamped > store.last_scan_seq()                    # the next scan looks at it …
    run_scan(store, cfg, book, when + timedelta(hours=1))
    assert stamped <= store.last_scan_seq()                   # … and the one after does not again
    assert f"db33.case.overdue:{key}" in active(store)


# ---------------------------------------------------------------- incremental = full, step by step

_COMPARED = ("fingerprint, rule, subject, subject_kind, org, severity, status, message, assignee, supervisor, "
             "opened_at, due_at, resolved_at, verified_at, cleared_at, reopen_count, rebound_count, persist_count, data")


def _findings(store) -> dict[str, dict]:
    rows = {r["fingerprint"]: r for r in store.rows(f"SELECT {_COMPARED} FROM findings")}
    seen = {r["id"]: r["last_seen_at"] for r in store.query_findings()}
    ids = dict(store.conn.execute("SELECT fingerprint, id FROM findings").fetchall())
    events: dict[int, list[tuple]] = {}                  # every finding's events in one read, not one each
    for e in store.rows("SELECT finding_id, action, from_status, to_status, at FROM finding_events "
                        "ORDER BY finding_id, at, action"):
        events.setdefault(e["finding_id"], []).append((e["action"], e["from_status"], e["to_status"], e["at"]))
    for fp, row in rows.items():
        row["last_seen_at"] = seen[ids[fp]]
        row["events"] = events.get(ids[fp], [])
    return rows


@pytest.fixture
def twin(store_kind, tmp_path):
    """A second store of the same kind (the full rescans' copy of the history)."""
    if store_kind == "sqlite":
        s = Store(str(tmp_path / "twin.db"))
        yield s
        s.close()
        return
    schema = _POOL.pop() if _POOL else _new_schema()
    s = Store(pg_schema_url(PG_URL, schema))
    yield s
    s.close()
    if _reset(schema):
        _POOL.append(schema)


def _edit(rng: random.Random, stores, now: datetime) -> str:
    """One SQL edit the import did not make (no `_seq` set), the same in both stores."""
    pick = rng.randrange(6)
    key = f"C{rng.randrange(300):05d}"
    stamp = (now - timedelta(hours=rng.randint(1, 72))).isoformat()
    sql, params = {
        0: ("UPDATE cases SET status = 'closed', closed_at = max(accepted_at, ?) WHERE case_no = ?", (stamp, key)),
        1: ("UPDATE cases SET status = 'processing', closed_at = NULL WHERE case_no = ?", (key,)),
        2: ("UPDATE cases SET promised_at = ? WHERE case_no = ?",      # its deadline follows (the scan's refresh)
            ((now + timedelta(days=rng.randint(-6, 6), hours=rng.randint(0, 12))).isoformat(), key)),
        3: ("UPDATE consultations SET answered_at = max(received_at, ?) WHERE id = ?", (stamp, f"Q{rng.randrange(100):05d}")),
        4: ("UPDATE evaluations SET callback_at = NULL, level = 1 WHERE id = ?", (f"E{rng.randrange(100):05d}",)),
        5: ("DELETE FROM complaints WHERE id = ?", (f"P{rng.randrange(100):05d}",)),
    }[pick]
    for s in stores:
        with s.transaction() as c:
            c.execute(sql, params)
    return ["close", "reopen", "promise", "answer", "bad evaluation", "delete"][pick]


def _change(what: str, rng: random.Random, stores, records: dict, cfg, now: datetime, tmp_path) -> str:
    """A change to the data of every store alike: "import" re-imports a batch of touched records,
    "edit" changes rows in SQL; the step's label."""
    if what == "edit":
        return _edit(rng, stores, now)
    batch = touch(rng, records, now)
    for s in stores:
        load(s, cfg, batch, tmp_path)
    return what


@pytest.mark.parametrize("seed", [2, 13])
def test_an_incremental_scan_leaves_the_findings_a_full_rescan_leaves(seed, store, twin, cfg, tmp_path):
    cfg = replace(cfg, calendar=replace(cfg.calendar, halls={"H2": HallCalendar(
        extra_holidays=("2026-10-09", "2026-10-20"), extra_workdays=("2026-10-11",))}))
    rng = random.Random(seed)
    records = seeded_records(seed, 300)
    stores = (store, twin)                    # incremental, full
    for s in stores:
        load(s, cfg, records, tmp_path)
    book = load_packs(PACKS)
    now = datetime(2026, 9, 27, 8, 30, tzinfo=TZ)          # the Sunday worked before National Day
    incremental = []                                        # the rules evaluated only where they can change
    fire_changes = store.fire_changes
    store.fire_changes = lambda *a: (incremental.append(a[2]), fire_changes(*a))
    steps = []
    for step in range(14):
        what = rng.choice(["clock", "clock", "import", "edit", "edit", "people"])
        if what == "clock" or step == 0:
            now += timedelta(hours=rng.choice([1, 6, 20, 24, 24, 30, 50, 75]))
        elif what in ("import", "edit"):
            what = _change(what, rng, stores, records, cfg, now, tmp_path)
        else:
            people(rng, stores, now)
        steps.append(f"{what} → {now:%m-%d %H:%M}")
        a = run_scan(store, cfg, book, now)
        b = run_scan(twin, cfg, book, now, full=True)
        assert (a.opened, a.resolved, a.reopened, a.open) == (b.opened, b.resolved, b.reopened, b.open), steps
        mine, theirs = _findings(store), _findings(twin)
        assert mine.keys() == theirs.keys(), steps
        differ = [fp for fp in mine if mine[fp] != theirs[fp]]
        assert not differ, (steps, [(mine[fp], theirs[fp]) for fp in differ[:2]])
    assert len(incremental) > 50                                # the incremental path did run
    assert len(active(store)) > 20                              # over findings that exist


# ---------------------------------------------------------------- the clock walk narrowed to its window

def _dense(start: datetime) -> dict:
    """Records at every day (and several hours) around `start`: deadlines, receptions, evaluations and
    slots on each side of every threshold the record rules compare with, in the global calendar and
    a hall's own."""
    orgs = [{"code": "R", "name": "市中心", "level": "city"},
            {"code": "H1", "name": "甲大厅", "parent": "R", "level": "hall"},
            {"code": "H2", "name": "乙大厅", "parent": "R", "level": "hall"}]
    items = [{"code": "I0", "name": "事项0", "org": "H1", "promised_days": 5},
             {"code": "I1", "name": "事项1", "org": "H1", "immediate": True, "promised_days": 0}]
    stamp = lambda days, hour: (start + timedelta(days=days)).replace(hour=hour, minute=15).isoformat()  # noqa: E731
    cases, consultations, complaints, evaluations, appointments = [], [], [], [], []
    for d in range(-25, 26):
        for h in (0, 9, 23):
            n = len(cases)
            cases.append({"case_no": f"D{n:04d}", "item_code": f"I{n % 2}", "org": "H1", "hall": [None, "H2"][n % 2],
                          "channel": "window", "accepted_at": stamp(d - 12, 10), "status": ["processing", "accepted"][h % 2],
                          "promised_at": stamp(d, h)})
            consultations.append({"id": f"Q{n:04d}", "org": "H1", "channel": ["hotline", "online", "onsite", "letter"][n % 4],
                                  "received_at": stamp(d, h), "promised_at": stamp(d + 2, h) if n % 3 else None})
            complaints.append({"id": f"P{n:04d}", "org": "H1", "received_at": stamp(d - 10, h), "valid": True})
            evaluations.append({"id": f"E{n:04d}", "org": "H1", "channel": "window", "level": 1 + n % 2,
                                "evaluated_at": stamp(d - 5, h)})
        for h in range(0, 24, 5):
            appointments.append({"id": f"A{len(appointments):04d}", "org": "H1", "item_code": "I0",
                                 "slot_at": stamp(d // 3, h), "status": "booked"})
    return {"orgs": orgs, "items": items, "cases": cases, "consultations": consultations, "complaints": complaints,
            "evaluations": evaluations, "appointments": appointments}


def test_the_clock_walk_reads_only_its_window_and_misses_no_flip(store, twin, cfg, tmp_path):
    """Each clock-reading rule's first walk is narrowed to the rows whose column lies where its
    truth can move (checker.evaluate.window): scanned every few hours or days across National Day
    and a hall's own days off, over records on every side of every threshold, the incremental
    scans leave what full rescans leave."""
    cfg = replace(cfg, calendar=replace(cfg.calendar, halls={"H2": HallCalendar(
        extra_holidays=("2026-10-09", "2026-10-12"), extra_workdays=("2026-10-11",))}))
    now = datetime(2026, 9, 26, 8, 30, tzinfo=TZ)
    for s in (store, twin):
        load(s, cfg, _dense(now + timedelta(days=8)), tmp_path)
    book = load_packs(PACKS)
    windows: dict[str, list] = {}
    fire_changes = store.fire_changes
    store.fire_changes = lambda *a: (windows.setdefault(a[5]["_rule"], []).append(a[6]), fire_changes(*a))
    for hours in [0, 3, 6, 15, 24, 24, 24, 24, 48, 24, 72, 1, 24, 24, 24, 24, 96, 30, 24]:
        now += timedelta(hours=hours)
        run_scan(store, cfg, book, now)
        run_scan(twin, cfg, book, now, full=True)
        mine, theirs = _findings(store), _findings(twin)
        assert mine.keys() == theirs.keys(), now
        assert [fp for fp in mine if mine[fp] != theirs[fp]] == [], now
    assert {r.id for r in book.of_kind("record") if r.record in _dense(now)} <= set(windows)
    assert all(w is not None for ws in windows.values() for w in ws), windows     # every walk narrowed
    assert len(active(store)) > 100


# ---------------------------------------------------------------- the two ways of looking a finding up

def _delta_rows(store) -> list[tuple]:
    return sorted(tuple(r) for r in store.conn.execute("SELECT fingerprint, rule, subject, kind, fires FROM temp._delta"))


def _retouch(stores) -> None:
    """The records of the findings not resolved changed without a new value (their change number
    moves, triggers): changed rows whose findings the incremental scan must look up."""
    for s in stores:
        with s.transaction() as c:
            for kind, key in (("cases", "case_no"), ("consultations", "id"), ("complaints", "id"), ("evaluations", "id")):
                c.execute(f'UPDATE {kind} SET org = org WHERE "{key}" IN (SELECT subject FROM findings '
                          "WHERE subject_kind = ? AND status <> 'resolved')", (kind,))


def _settle(stores) -> None:
    """The cases and consultations of the verified findings closed and answered: changed rows that no
    longer fire, whose verified findings the scan sees cleared."""
    for s in stores:
        with s.transaction() as c:
            c.execute("UPDATE cases SET status = 'closed', closed_at = accepted_at WHERE case_no IN "
                      "(SELECT subject FROM findings WHERE subject_kind = 'cases' AND status = 'verified')")
            c.execute("UPDATE consultations SET answered_at = received_at WHERE id IN "
                      "(SELECT subject FROM findings WHERE subject_kind = 'consultations' AND status = 'verified')")


def _lookups(store, book, now: datetime) -> dict:
    """What select_records and unevaluable_records give on this store, each kind, from the change
    number the last scan started at."""
    since_seq = int(store.scalar("SELECT from_seq FROM scans ORDER BY id DESC LIMIT 1"))
    state = store.workdays_state()             # the years the working days cover
    first, last = f"{state['first']}-01-01", f"{state['last']}-12-31"
    out = {}
    for kind in ("cases", "consultations", "complaints", "evaluations", "appointments"):
        rules = [r.id for r in book.of_kind("record") if r.record == kind]
        table = store.select_records(kind, rules, (now - timedelta(days=1)).isoformat(),
                                     (now + timedelta(days=7)).isoformat(), since_seq)
        out[kind] = (sorted(r[0] for r in store.conn.execute(f"SELECT rid FROM {table}")),
                     sorted(store.unevaluable_records(kind, first, last, since_seq,
                                                      "govwatch.data_quality")))
    return out


def test_both_ways_of_looking_a_finding_up_evaluate_the_same_rows(store, twin, cfg, tmp_path):
    """The incremental scan's record statements look a record's finding up as the dialect says
    (stages_findings): from the record's statement (SQLite's form) or through temporary tables first
    (PostgreSQL's, the form a Citus cluster plans). On this store kind, a store scanned in each form
    over seeded imports, SQL edits, clock advances and verified findings evaluates the same pairs
    (fire_changes), keeps the same findings, and selects the same records (select_records) and the
    same records it cannot evaluate (unevaluable_records) in either form."""
    twin.dialect.stages_findings = not store.dialect.stages_findings
    rng = random.Random(3)
    records = seeded_records(3, 150)
    stores = (store, twin)
    for s in stores:
        load(s, cfg, records, tmp_path)
        for key in ("BAD1", "BAD2"):         # records the scan cannot evaluate: data-quality findings
            s.conn.execute(f"""INSERT INTO cases (case_no, item_code, org, channel, accepted_at, promised_at, status)
                VALUES ('{key}', 'I1', 'H1', 'window', '2026-09-23T09:00:00+08:00', '2188-05-06T12:00:00+08:00', 'processing')""")
    book = load_packs(PACKS)
    now = datetime(2026, 9, 27, 8, 30, tzinfo=TZ)
    for s in stores:
        run_scan(s, cfg, book, now)
        run_scan(s, cfg, book, now)      # the first scans grew the working days to BAD1's year: a full scan again
    steps, evaluated, verified = [], 0, 0
    for what in ["people", "verify", "retouch", "import", "clock", "settle", "edit", "verify"]:
        now += timedelta(hours=rng.choice([6, 20, 24, 30]))
        if what in ("import", "edit"):
            what = _change(what, rng, stores, records, cfg, now, tmp_path)
        elif what == "verify":
            people(rng, stores, now)
        elif what == "people":
            people(rng, stores, now)
            _retouch(stores)                # some verified findings' records changed before the scan
        elif what == "retouch":
            _retouch(stores)
        elif what == "settle":
            people(rng, stores, now)
            _settle(stores)
        steps.append(f"{what} → {now:%m-%d %H:%M}")
        verified += store.scalar("SELECT count(*) FROM findings WHERE status = 'verified'")
        a, b = run_scan(store, cfg, book, now), run_scan(twin, cfg, book, now)
        assert (a.opened, a.resolved, a.reopened, a.open) == (b.opened, b.resolved, b.reopened, b.open), steps
        delta = _delta_rows(store)
        assert delta == _delta_rows(twin), steps
        evaluated += len(delta)
        mine, theirs = _findings(store), _findings(twin)
        assert mine == theirs, steps
        own, forms = store.dialect.stages_findings, []
        for staged in (False, True):           # the two stores hold the same rows: one is asked in both forms
            store.dialect.stages_findings = staged
            forms.append(_lookups(store, book, now))
        store.dialect.stages_findings = own
        assert forms[0] == forms[1], steps
    assert evaluated > 50 and verified > 0
    assert store.scalar("SELECT count(*) FROM findings WHERE rule = 'govwatch.data_quality' AND status = 'open'") == 2
