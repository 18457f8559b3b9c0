"""The kept indicator roll-ups (checker.store.indicators.keep_rollups) against a computation from
scratch: a seeded generator applies imports, raw-SQL edits (a row's date or org moved, its status,
closing and rectification changed; rows appended), clock moves forwards and backwards, and after
every step P1–P9 (and the db50 figures) must equal, for every org and period, what a pass over the
records gives at that `now`."""
from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checker.evaluate import indicators as ind
from checker.ingest import import_file
from checker.periods import Period
from checker.rules import load_packs
from checker.store import indicators as store_indicators

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 10, 14, 9, 0, tzinfo=TZ)
PERIODS = [Period.parse(p) for p in ("2026-08", "2026-09", "2026-10", "2026-Q3", "2026")]
ORGS = [
    {"code": "330000", "name": "浙江省", "level": "province"},
    {"code": "330100", "name": "杭州市", "parent": "330000", "level": "city"},
    {"code": "330102", "name": "上城区", "parent": "330100", "level": "district"},
    {"code": "330102H", "name": "上城区行政服务中心", "parent": "330102", "level": "hall"},
    {"code": "330105", "name": "拱墅区", "parent": "330100", "level": "district"},
    {"code": "330200", "name": "宁波市", "parent": "330000", "level": "city"},
]
PLACES = ["330102H", "330102", "330105", "330200"]
ITEMS = [{"code": f"I{i}", "name": f"事项{i}", "org": PLACES[i % 4], "in_scope": True, "one_visit": i % 2 == 0,
          "comprehensive_window": True, "centralized": True, "immediate": i == 3, "type": "行政许可",
          "statutory_days": 20, "promised_days": 0 if i == 3 else 2 + i, "online_depth": 3 + i % 2}
         for i in range(1, 6)]
STATUSES = ["accepted", "processing", "suspended", "closed", "closed", "closed", "rejected", "withdrawn"]


def _at(day: datetime, rnd: random.Random) -> str:
    return (day + timedelta(hours=rnd.randrange(8, 20), minutes=rnd.randrange(60))).strftime("%Y-%m-%dT%H:%M")


def _day(rnd: random.Random) -> datetime:
    return datetime(2026, 8, 1) + timedelta(days=rnd.randrange(0, 100))


def _case(no: str, rnd: random.Random) -> dict:
    accepted = _day(rnd)
    status = rnd.choice(STATUSES)
    row = {"case_no": no, "org": rnd.choice(PLACES), "item_code": f"I{rnd.randrange(1, 6)}",
           "channel": rnd.choice(["window", "online", "online"]), "accepted_at": _at(accepted, rnd), "status": status}
    if status in ("closed", "rejected"):
        row["closed_at"] = _at(accepted + timedelta(days=rnd.randrange(1, 12)), rnd)
    return row


def _complaint(i: str, rnd: random.Random) -> dict:
    received = _day(rnd)
    row = {"id": i, "org": rnd.choice(PLACES), "received_at": _at(received, rnd), "valid": rnd.random() < 0.8}
    if rnd.random() < 0.6:
        row["rectified_at"] = _at(received + timedelta(days=rnd.randrange(1, 30)), rnd)
    return row


def _evaluation(i: str, rnd: random.Random, cases: list[str]) -> dict:
    return {"id": i, "org": rnd.choice(PLACES), "channel": rnd.choice(["window", "pad", "sms", "online"]),
            "level": rnd.randrange(1, 6), "evaluated_at": _at(_day(rnd), rnd), "case_no": rnd.choice(cases)}


def _load(store, cfg, tmp_path: Path, kind: str, rows: list[dict]) -> None:
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    assert import_file(store, cfg, kind, path).rejected == 0


def _both(store, cfg, rulebook, now: datetime, monkeypatch) -> None:
    """Every period's figures from the kept roll-ups equal those of a pass over the records."""
    for period in PERIODS:
        kept = ind.compute(store, cfg, rulebook, period, now=now)
        with monkeypatch.context() as m:
            m.setattr(store_indicators, "kept", lambda spec: False)
            scratch = ind.compute(store, cfg, rulebook, period, now=now)
        assert kept == scratch, (period.code, now)
        assert ind.compute(store, cfg, rulebook, period, org="330100", now=now) == \
            [v for v in scratch if v.org == "330100"]


def _raw_edit(store, rnd: random.Random, cases: list[str], complaints: list[str], appended: list[int]) -> str:
    """One edit in SQL, as a tool would make it: with a change number of its own, or (half the time)
    leaving `_seq` as it was, or 0 for a row appended, for the records' triggers to stamp."""
    seq = store.next_seq() if rnd.random() < 0.5 else None
    what = rnd.choice(["move_day", "move_org", "status", "close", "rectify", "append"])
    no = rnd.choice(cases)
    with store.transaction() as c:
        if what == "move_day":
            c.execute("UPDATE cases SET accepted_at = ?, _seq = COALESCE(?, _seq) WHERE case_no = ?", (_at(_day(rnd), rnd), seq, no))
        elif what == "move_org":
            c.execute("UPDATE cases SET org = ?, _seq = COALESCE(?, _seq) WHERE case_no = ?", (rnd.choice(PLACES), seq, no))
        elif what == "status":
            c.execute("UPDATE cases SET status = ?, _seq = COALESCE(?, _seq) WHERE case_no = ?", (rnd.choice(STATUSES), seq, no))
        elif what == "close":
            c.execute("UPDATE cases SET status = 'closed', closed_at = ?, _seq = COALESCE(?, _seq) WHERE case_no = ?",
                      (_at(_day(rnd), rnd), seq, no))
        elif what == "rectify":
            c.execute("UPDATE complaints SET rectified_at = ?, org = ?, _seq = COALESCE(?, _seq) WHERE id = ?",
                      (_at(_day(rnd), rnd), rnd.choice(PLACES), seq, rnd.choice(complaints)))
        else:
            new = f"R{len(appended)}"
            appended.append(1)
            row = _case(new, rnd)
            stamp = seq or 0
            c.execute("INSERT INTO cases (case_no, org, item_code, channel, accepted_at, status, closed_at, due_at, _seq) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (new, row["org"], row["item_code"], row["channel"], row["accepted_at"] + ":00+08:00",
                       row["status"], row.get("closed_at") and row["closed_at"] + ":00+08:00",
                       row["accepted_at"][:10] + "T23:59:59+08:00", stamp))
            cases.append(new)
    return what


@pytest.mark.parametrize("seed, chunk", [(1, 100_000), (2, 7)])
def test_kept_rollups_equal_a_computation_from_scratch(store, cfg, tmp_path, monkeypatch, seed, chunk):
    """(chunk 7: a build takes many steps, each a transaction of its own)"""
    monkeypatch.setattr(store_indicators, "BUILD_CHUNK", chunk)
    rnd = random.Random(seed)
    rulebook = load_packs(ROOT / "rules")
    cases = [f"C{i}" for i in range(60)]
    complaints = [f"K{i}" for i in range(20)]
    for kind, rows in [("orgs", ORGS), ("items", ITEMS), ("cases", [_case(n, rnd) for n in cases]),
                       ("complaints", [_complaint(k, rnd) for k in complaints]),
                       ("evaluations", [_evaluation(f"E{i}", rnd, cases) for i in range(30)])]:
        _load(store, cfg, tmp_path, kind, rows)
    now, appended = START, []
    _both(store, cfg, rulebook, now, monkeypatch)
    for step in range(10):
        what = rnd.choice(["import", "import", "raw", "raw", "clock"])
        if what == "import":           # an import batch: existing rows changed (moved too) and new ones
            fresh = [f"N{seed}_{step}_{i}" for i in range(3)]
            # (the rows appended in SQL among them: on PostgreSQL their keys are not in the key table
            # until an import adopts them, issue 17)
            rows = [_case(n, rnd) for n in rnd.sample(cases, 8) + fresh]
            cases += fresh
            _load(store, cfg, tmp_path, "cases", rows)
            _load(store, cfg, tmp_path, "complaints", [_complaint(k, rnd) for k in rnd.sample(complaints, 4)])
            _load(store, cfg, tmp_path, "evaluations", [_evaluation(f"E{rnd.randrange(40)}", rnd, cases)])
        elif what == "raw":
            for _ in range(3):
                _raw_edit(store, rnd, cases, complaints, appended)
        else:                          # the clock: a few hours to weeks on, or back (a report at an earlier now)
            now += timedelta(hours=rnd.choice([-400, -30, 5, 20, 30, 200]))
        _both(store, cfg, rulebook, now, monkeypatch)


def test_a_changed_spec_or_calendar_rebuilds_the_rollup(store, cfg, tmp_path, monkeypatch):
    """A changed config (P9's satisfied level) is another spec, changed items rebuild P7's: their
    figures are those of a pass; the rows of the roll-ups replaced are dropped."""
    import dataclasses
    monkeypatch.setattr(store_indicators, "BUILD_CHUNK", 5)
    rnd = random.Random(7)
    rulebook = load_packs(ROOT / "rules")
    cases = [f"C{i}" for i in range(20)]
    for kind, rows in [("orgs", ORGS), ("items", ITEMS), ("cases", [_case(n, rnd) for n in cases]),
                       ("evaluations", [_evaluation(f"E{i}", rnd, cases) for i in range(30)])]:
        _load(store, cfg, tmp_path, kind, rows)
    _both(store, cfg, rulebook, START, monkeypatch)
    strict = dataclasses.replace(cfg, indicators=dataclasses.replace(cfg.indicators, p9_satisfied_level=5))
    _both(store, strict, rulebook, START, monkeypatch)
    _load(store, cfg, tmp_path, "items", [{**ITEMS[0], "online_depth": 1}, {**ITEMS[1], "online_depth": 4}])
    _both(store, cfg, rulebook, START, monkeypatch)
    # one per kind and date (E1 is not kept), and P9 under the config before (one older spec is kept)
    assert store.scalar("SELECT count(*) FROM indicator_rollups") == 4
    assert store.scalar("SELECT count(*) FROM indicator_rollup_rows WHERE grp NOT IN "
                        "(SELECT id FROM indicator_rollups)") == 0
    assert store.scalar("SELECT count(*) FROM indicator_rollups WHERE built_to IS NOT NULL") == 0


def test_a_reader_that_may_not_write_gets_the_figures_of_a_pass(store, cfg, tmp_path, monkeypatch):
    """A PostgreSQL role that may only read cannot keep the roll-ups: its figures come from the
    records, the same. (SQLite has no such reader: any connection that may open the file writes.)"""
    if store.dialect.name != "postgresql":
        pytest.skip("a role that may only read is PostgreSQL's")
    rnd = random.Random(11)
    cases = [f"C{i}" for i in range(20)]
    for kind, rows in [("orgs", ORGS), ("items", ITEMS), ("cases", [_case(n, rnd) for n in cases])]:
        _load(store, cfg, tmp_path, kind, rows)
    rulebook = load_packs(ROOT / "rules")
    role = f"gw_reader_{os.getpid()}"
    raw = store.conn.raw
    schema = raw.execute("SELECT current_schema()").fetchone()[0]
    raw.execute(f'DROP ROLE IF EXISTS "{role}"')
    raw.execute(f'CREATE ROLE "{role}"')
    try:
        raw.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        raw.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
        raw.execute(f'SET ROLE "{role}"')
        _both(store, cfg, rulebook, START, monkeypatch)
        raw.execute("RESET ROLE")
        assert store.scalar("SELECT count(*) FROM indicator_rollups") == 0
    finally:
        raw.execute("RESET ROLE")
        raw.execute(f'DROP OWNED BY "{role}"')
        raw.execute(f'DROP ROLE "{role}"')


def _scenario(tmp_path: Path, seed: int) -> list:
    """Scans over a changing store (the indicator findings verified after the first, so that a
    figure still failing reopens them): each scan's indicator findings as they stand."""
    from checker import config as config_mod
    from checker.evaluate.scan import run_scan
    from checker.store import Store
    rnd = random.Random(seed)
    tmp_path.mkdir()
    cfg = config_mod.load(None, database=str(tmp_path / "govwatch.db"))
    rulebook = load_packs(ROOT / "rules")
    cases = [f"C{i}" for i in range(60)]
    complaints = [f"K{i}" for i in range(20)]
    out = []
    with Store(cfg.database) as store:
        for kind, rows in [("orgs", ORGS), ("items", ITEMS), ("cases", [_case(n, rnd) for n in cases]),
                           ("complaints", [_complaint(k, rnd) for k in complaints]),
                           ("evaluations", [_evaluation(f"E{i}", rnd, cases) for i in range(30)])]:
            _load(store, cfg, tmp_path, kind, rows)
        now, appended = START, []
        for step in range(6):
            run_scan(store, cfg, rulebook, now)
            out.append([tuple(r) for r in store.conn.execute(
                "SELECT fingerprint, status, reopen_count, rebound_count, persist_count, message FROM findings "
                "WHERE kind = 'indicator' ORDER BY fingerprint")])
            if step == 0:
                store.conn.execute("UPDATE findings SET status = 'verified', verified_at = ? WHERE kind = 'indicator'",
                                   (now.isoformat(),))
            if step % 2:
                _load(store, cfg, tmp_path, "cases", [_case(n, rnd) for n in rnd.sample(cases, 10)])
                _load(store, cfg, tmp_path, "complaints", [_complaint(k, rnd) for k in rnd.sample(complaints, 5)])
            else:
                for _ in range(3):
                    _raw_edit(store, rnd, cases, complaints, appended)
            now += timedelta(hours=rnd.choice([20, 30, 60]))
    return out


def test_scans_open_resolve_and_reopen_indicator_findings_as_a_recomputation_would(tmp_path, monkeypatch):
    """The same scans over the same changes, with kept roll-ups and with a pass over the records each
    time (SQLite: the scan's indicator threads on their own connections): the same indicator findings,
    statuses, reopen, rebound and persist counts and messages after every scan."""
    kept = _scenario(tmp_path / "kept", 5)
    monkeypatch.setattr(store_indicators, "kept", lambda spec: False)
    assert _scenario(tmp_path / "scratch", 5) == kept
    verified = {fp for fp, *_ in kept[0]}                   # all verified after the first scan
    assert any(fp in verified and status == "open" for fp, status, *_ in kept[1])    # still failing: back
    assert any(status == "resolved" for scan in kept for _, status, *_ in scan)


def test_rows_written_in_sql_one_after_another_are_each_seen(store, cfg, tmp_path, monkeypatch):
    """The records' triggers stamp a row written in SQL with change_seq + 1, the same number for every
    such write until change_seq moves: a roll-up brought up to date between two of them moves
    change_seq on (as a scan does), so the second is seen too."""
    rnd = random.Random(3)
    complaints = [f"K{i}" for i in range(6)]
    for kind, rows in [("orgs", ORGS), ("items", ITEMS), ("complaints", [_complaint(k, rnd) for k in complaints])]:
        _load(store, cfg, tmp_path, kind, rows)
    rulebook = load_packs(ROOT / "rules")
    _both(store, cfg, rulebook, START, monkeypatch)
    for i, k in enumerate(complaints):
        with store.transaction() as c:
            c.execute("UPDATE complaints SET valid = ?, received_at = ?, rectified_at = NULL WHERE id = ?",
                      (i % 2, f"2026-09-{10 + i}T10:00:00+08:00", k))
        _both(store, cfg, rulebook, START, monkeypatch)
