"""The two engines agree: every record rule compiled to one SQL query (`--engine sql`, the default)
and the same conditions compiled to durable-rules rulesets (`--engine durable`, the reference) give
identical firing sets, messages included, on every shipped YAML rule test (the National Day
scenario among them) and on thousands of seeded random records at several `now`s."""
from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checker.config import HallCalendar
from checker.evaluate.scan import evaluate, run_scan
from checker.ingest import ImportRun, import_file
from checker.rules import load_packs
from checker.tools.rule_tests import _import, collect

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

ROOT = Path(__file__).resolve().parent.parent
PACKS = [ROOT / "rules" / "db33", ROOT / "rules" / "db50"]
TZ = ZoneInfo("Asia/Shanghai")


def firing_set(store, cfg, book, now, engine, full=True):
    out = evaluate(store, cfg, book, now, full=full, engine=engine)
    return {(f.rule.id, f.subject, f.message, f.due_at) for f in out.firings if f.rule.kind == "record"}


def _pack_tests():
    return [t for t in collect(PACKS) if t.spec.get("records")]


@pytest.mark.parametrize("test", _pack_tests(), ids=lambda t: t.id)
def test_engines_agree_on_every_shipped_rule_test(test, store, cfg, tmp_path):
    book = load_packs(PACKS)
    assert not _import(store, cfg, test.spec["records"], tmp_path)
    now = datetime.fromisoformat(str(test.spec["now"]))
    now = now if now.tzinfo else now.replace(tzinfo=TZ)
    sql = firing_set(store, cfg, book, now, "sql")
    assert sql == firing_set(store, cfg, book, now, "durable")


def test_the_national_day_scenario_is_among_them():
    assert any("国庆" in t.name for t in _pack_tests())


# ---------------------------------------------------------------- seeded random records

def _stamp(rng, base: datetime, days: int) -> str:
    return (base + timedelta(days=rng.randint(-days, days), minutes=rng.randint(0, 24 * 60 - 1))).isoformat()


def _after(rng, start: str, days: int) -> str:
    return (datetime.fromisoformat(start) + timedelta(days=rng.randint(0, days), minutes=rng.randint(1, 600))).isoformat()


def seeded_records(seed: int, n: int) -> dict:
    """Records meant to hit the edges: holidays, worked weekends, suspended cases, supplied promises
    moved by suspension, 即办件 on days off, missing values, a hall with a calendar of its own."""
    rng = random.Random(seed)
    base = datetime(2026, 10, 1, 9, 0, tzinfo=TZ)
    orgs = [{"code": "R", "name": "市中心", "level": "city"},
            {"code": "H1", "name": "甲大厅", "parent": "R", "level": "hall"},
            {"code": "H2", "name": "乙大厅", "parent": "R", "level": "hall"}]
    items = [{"code": f"I{i}", "name": f"事项{i}", "org": "H1", "immediate": i % 4 == 0,
              "promised_days": rng.choice([None, 0, 1, 3, 5, 10, 20]), "statutory_days": rng.choice([None, 5, 20]),
              "online_depth": rng.randint(1, 4)} for i in range(12)]
    maybe = lambda p, v: v if rng.random() < p else None  # noqa: E731
    cases = []
    for i in range(n):
        accepted = _stamp(rng, base, 40)
        status = rng.choice(["accepted", "processing", "suspended", "closed", "rejected", "withdrawn"])
        cases.append({"case_no": f"C{i:05d}", "item_code": f"I{rng.randrange(12)}", "org": rng.choice(["H1", "H2"]),
                      "hall": rng.choice([None, "H1", "H2"]), "channel": rng.choice(["online", "window"]),
                      "accepted_at": accepted, "status": status,
                      "promised_at": maybe(0.2, _after(rng, accepted, 20)),
                      "closed_at": _after(rng, accepted, 30) if status in ("closed", "rejected") else None,
                      "suspended_days": maybe(0.3, rng.randint(0, 6)), "extended_days": maybe(0.2, rng.randint(0, 4))})
    consultations = []
    for i in range(n // 3):
        received = _stamp(rng, base, 20)
        consultations.append({"id": f"Q{i:05d}", "org": rng.choice(["H1", "H2"]),
                              "channel": rng.choice(["hotline", "online", "onsite", "letter"]), "received_at": received,
                              "answered_at": maybe(0.4, _after(rng, received, 10)),
                              "promised_at": maybe(0.5, _after(rng, received, 10))})
    complaints = []
    for i in range(n // 3):
        received = _stamp(rng, base, 40)
        complaints.append({"id": f"P{i:05d}", "org": rng.choice(["H1", "H2"]), "received_at": received,
                           "valid": rng.random() < .7, "rectified_at": maybe(0.4, _after(rng, received, 30))})
    evaluations = []
    for i in range(n // 3):
        at = _stamp(rng, base, 30)
        evaluations.append({"id": f"E{i:05d}", "org": rng.choice(["H1", "H2"]), "case_no": f"C{i:05d}",
                            "channel": rng.choice(["window", "pad", "sms", "online", "phone"]),
                            "level": rng.randint(1, 5), "evaluated_at": at,
                            "callback_at": maybe(0.4, _after(rng, at, 5)), "rectified_at": maybe(0.3, _after(rng, at, 20))})
    appointments = []
    for i in range(n // 3):
        slot = _stamp(rng, base, 10)
        appointments.append({"id": f"A{i:05d}", "org": rng.choice(["H1", "H2"]), "item_code": f"I{rng.randrange(12)}",
                             "slot_at": slot, "reminded_at": maybe(0.3, _stamp(rng, base, 10)),
                             "status": rng.choice(["booked", "reminded", "attended", "missed", "cancelled"])})
    return {"orgs": orgs, "items": items, "cases": cases, "consultations": consultations, "complaints": complaints,
            "evaluations": evaluations, "appointments": appointments}


def _load(store, cfg, records: dict, tmp_path) -> None:
    run = ImportRun(store, cfg)
    for kind, rows in records.items():
        path = tmp_path / f"{kind}.json"
        path.write_text(json.dumps([{k: v for k, v in r.items() if v is not None} for r in rows],
                                   ensure_ascii=False), encoding="utf-8")
        result = import_file(store, cfg, kind, path, rejects_dir=tmp_path / "rejects", run=run)
        assert result.rejected == 0, (kind, Path(result.rejects_file).read_text(encoding="utf-8-sig")[:500]
                                      if result.rejects_file else "")


@pytest.mark.parametrize("seed", [11, 29])
def test_engines_agree_on_seeded_records(seed, store, cfg, tmp_path):
    cfg = replace(cfg, calendar=replace(cfg.calendar, halls={"H2": HallCalendar(
        extra_holidays=("2026-10-09", "2026-10-20"), extra_workdays=("2026-10-11",))}))
    _load(store, cfg, seeded_records(seed, 2400), tmp_path)
    book = load_packs(PACKS)
    total = 0
    for now in ("2026-10-08T08:30:00+08:00", "2026-10-14T18:00:00+08:00", "2026-10-31T10:00:00+08:00"):
        when = datetime.fromisoformat(now)
        sql = firing_set(store, cfg, book, when, "sql")
        assert sql == firing_set(store, cfg, book, when, "durable")
        total += len(sql)
    assert total > 500                      # the records do fire: the comparison is not of two empty sets


def test_scan_command_engines_give_the_same_findings(store, cfg, tmp_path):
    _load(store, cfg, seeded_records(5, 600), tmp_path)
    book = load_packs(PACKS)
    when = datetime.fromisoformat("2026-10-16T09:00:00+08:00")
    a = run_scan(store, cfg, book, when, full=True, engine="durable")
    rows = lambda: store.rows("SELECT rule, subject, status, message, due_at FROM findings ORDER BY rule, subject")  # noqa: E731
    durable_rows = rows()
    store.conn.execute("DELETE FROM finding_events")
    store.conn.execute("DELETE FROM findings")
    b = run_scan(store, cfg, book, when, full=True, engine="sql")
    assert (a.opened, a.open) == (b.opened, b.open) and a.opened > 0
    assert rows() == durable_rows


def test_the_single_record_check_runs_the_reference_engine_and_agrees_with_the_scan(store, cfg, tmp_path):
    from checker.evaluate.scan import check_record
    _load(store, cfg, seeded_records(17, 300), tmp_path)
    book = load_packs(PACKS)
    when = datetime.fromisoformat("2026-10-20T09:00:00+08:00")
    scanned = firing_set(store, cfg, book, when, "sql")
    cases = sorted({s for r, s, _, _ in scanned if r.startswith("db33.case.")})[:25]
    assert cases
    for no in cases:
        one = {(f.rule.id, f.subject, f.message, f.due_at) for f in check_record(store, cfg, book, "cases", no, when)}
        assert one == {x for x in scanned if x[1] == no and x[0].split(".")[1] == "case"}
    assert check_record(store, cfg, book, "cases", "NO-SUCH-CASE", when) == []
