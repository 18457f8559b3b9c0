"""One definition of a case's deadline, in SQL over the workdays ordinals: suspended cases, 即办件
accepted on a day off, supplied promised_at moved by suspension and extension; a record the scan
cannot evaluate becomes a data-quality finding; messages are rendered when read; a scan writes only
status changes and last-seen."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from checker import findings
from checker.evaluate import indicators
from checker.ingest import derived
from checker.periods import Period
from checker.rules import load_packs
from checker.evaluate.scan import run_scan

from test_rules_loader import make_pack
from test_scan import OVERDUE, case, put

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

TZ = ZoneInfo("Asia/Shanghai")
NEAR = """\
  - id: t.case.near
    kind: record
    record: cases
    clause: "5.2.1.5"
    title: 临期
    severity: yellow
    responsible: handler
    when: {all: [{field: status, in: [accepted, processing]}, {field: wd_left, gte: 0}, {field: wd_left, lte: 2}]}
    message: "办件 {case_no} 还剩 {wd_left} 个工作日"
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def base(store, cfg, tmp_path):
    put(store, cfg, tmp_path, "orgs", [{"code": "H1", "name": "滨江区行政服务中心", "level": "hall"}])
    put(store, cfg, tmp_path, "officers", [{"id": "A1", "name": "管理员", "org": "H1", "role": "admin"}])
    put(store, cfg, tmp_path, "items", [{"code": "I1", "name": "排水许可", "org": "H1", "promised_days": 3},
                                        {"code": "IM", "name": "证明开具", "org": "H1", "immediate": True}])
    return store


def due(store, no):
    return store.scalar("SELECT due_at FROM cases WHERE case_no = ?", (no,))


def test_a_suspended_case_is_neither_overdue_nor_late_and_its_deadline_moves(base, store, cfg, tmp_path):
    # accepted Mon 11-02, 3 working days + 4 suspended → Wed 11-11 (11-03 … 11-06, 11-09 … 11-11)
    put(store, cfg, tmp_path, "cases", [case("S1", "suspended", "2026-11-02T10:00:00+08:00", suspended_days=4),
                                        case("R1", "processing", "2026-11-02T10:00:00+08:00")])
    assert due(store, "S1") == "2026-11-11T23:59:59+08:00"
    assert due(store, "R1") == "2026-11-05T23:59:59+08:00"
    book = load_packs(make_pack(tmp_path / "rules", OVERDUE))
    run_scan(store, cfg, book, at("2026-11-17T09:00"))
    assert {r["subject"] for r in findings.list_findings(store, status="active")} == {"R1"}
    # P5 and the index's 时效 input read the same definition: only R1's outcome is known, and it is late
    book = load_packs(make_pack(tmp_path / "p5", OVERDUE + P5))
    p5 = next(v for v in indicators.compute(store, cfg, book, Period.parse("2026-11"), "H1", at("2026-11-17T09:00"))
              if v.code == "P5")
    assert (p5.numerator, p5.denominator) == (0, 1)
    assert store.overdue_case_counts("H1", "2026-11-01", "2026-12-01", "2026-11-17T09:00:00+08:00") == (1, 2)
    # resumed: its deadline (moved by the suspension) has passed, so it is overdue now
    put(store, cfg, tmp_path, "cases", [case("S1", "processing", "2026-11-02T10:00:00+08:00", suspended_days=4)])
    run_scan(store, cfg, book, at("2026-11-17T09:00"))
    assert {r["subject"] for r in findings.list_findings(store, status="active")} == {"R1", "S1"}


P5 = """\
  - id: t.indicator.p5
    kind: indicator
    code: P5
    clause: "5.2.1.5"
    title: 按时办结率
    severity: red
    responsible: org
    source: cases
    period_field: accepted_at
    where: {all: [{field: status, ne: withdrawn}, {field: outcome_known, eq: true}]}
    numerator: {all: [{field: concluded, eq: true}, {field: on_time, eq: true}]}
    measure: count
    target: {eq: 1.0}
    message: "{org_name} P5 {value}"
"""


def test_an_immediate_case_accepted_on_a_day_off_is_due_at_the_end_of_the_next_working_day(base, store, cfg, tmp_path):
    put(store, cfg, tmp_path, "cases", [{**case("J1", "processing", "2026-11-08T15:30:00+08:00"), "item_code": "IM"},
                                        {**case("J2", "processing", "2026-11-10T15:30:00+08:00"), "item_code": "IM"}])
    assert due(store, "J1") == "2026-11-09T23:59:59+08:00"        # Sun → Mon
    assert due(store, "J2") == "2026-11-10T23:59:59+08:00"        # a working day: that day
    book = load_packs(make_pack(tmp_path / "rules", OVERDUE))
    assert run_scan(store, cfg, book, at("2026-11-09T20:00")).opened == 0
    assert run_scan(store, cfg, book, at("2026-11-10T09:00")).opened == 1


def test_a_supplied_promised_at_is_moved_by_suspension_and_extension(base, store, cfg, tmp_path):
    put(store, cfg, tmp_path, "cases", [
        case("P1", accepted="2026-11-02T10:00:00+08:00", promised_at="2026-11-13T17:00:00+08:00",
             suspended_days=2, extended_days=1),
        case("P2", accepted="2026-11-02T10:00:00+08:00", promised_at="2026-11-13T17:00:00+08:00")])
    assert due(store, "P1") == "2026-11-18T17:00:00+08:00"        # Fri + 3 working days, same time
    assert due(store, "P2") == "2026-11-13T17:00:00+08:00"


def test_a_hall_calendar_moves_its_cases_deadlines(base, store, cfg, tmp_path):
    from dataclasses import replace
    from checker.config import HallCalendar
    cfg2 = replace(cfg, calendar=replace(cfg.calendar, halls={"HX": HallCalendar(extra_holidays=("2026-11-04",))}))
    put(store, cfg2, tmp_path, "cases", [case("K1", accepted="2026-11-02T10:00:00+08:00", hall="HX"),
                                         case("K2", accepted="2026-11-02T10:00:00+08:00", hall="HY")])
    assert due(store, "K1") == "2026-11-06T23:59:59+08:00" and due(store, "K2") == "2026-11-05T23:59:59+08:00"


def test_a_record_the_scan_cannot_evaluate_becomes_a_data_quality_finding(base, store, cfg, tmp_path):
    put(store, cfg, tmp_path, "cases", [case("OK1", "processing", "2026-11-02T10:00:00+08:00")])
    # written straight to the store, as an import that let it through would have
    store.conn.execute("""INSERT INTO cases (case_no, item_code, org, channel, accepted_at, promised_at, status, _seq)
        VALUES ('BAD1', 'I1', 'H1', 'window', '2026-11-03T09:00:00+08:00', '2188-05-06T12:00:00+08:00',
                'processing', (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'change_seq'))""")
    book = load_packs(make_pack(tmp_path / "rules", OVERDUE + NEAR))
    result = run_scan(store, cfg, book, at("2026-11-20T09:00"))
    rows = {r["rule"]: r for r in findings.list_findings(store, status="active")}
    assert rows["t.case.overdue"]["subject"] == "OK1"                 # every other record is evaluated
    bad = rows["govwatch.data_quality"]
    assert bad["subject"] == "cases:BAD1:promised_at" and bad["assignee"] == "A1"
    assert "BAD1" in bad["message"] and "2188-05-06" in bad["message"] and "超出工作日历" in bad["message"]
    assert result.open == 2
    # fixed: the finding resolves at the next (incremental) scan
    store.conn.execute("UPDATE cases SET promised_at = '2026-11-30T12:00:00+08:00', _seq = _seq + 1000 "
                       "WHERE case_no = 'BAD1'")
    store.conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1000 WHERE key = 'change_seq'")
    run_scan(store, cfg, book, at("2026-11-23T09:00"))
    assert "govwatch.data_quality" not in {r["rule"] for r in findings.list_findings(store, status="active")}


def test_messages_are_rendered_when_read_and_a_scan_writes_only_status_changes(base, store, cfg, tmp_path):
    put(store, cfg, tmp_path, "cases", [case("M1", "processing", "2026-11-02T10:00:00+08:00")])  # due Thu 11-05
    book = load_packs(make_pack(tmp_path / "rules", OVERDUE))
    run_scan(store, cfg, book, at("2026-11-09T09:00"))
    stored = store.row("SELECT message, due_at, last_seen_at FROM findings")
    assert "已超期 2 个工作日" in stored["message"]
    run_scan(store, cfg, book, at("2026-11-12T09:00"))
    after = store.row("SELECT message, due_at, last_seen_at FROM findings")
    assert (after["message"], after["due_at"]) == (stored["message"], stored["due_at"])     # not rewritten
    assert findings.list_findings(store)[0]["last_seen_at"] == "2026-11-12T09:00:00+08:00"
    listed = findings.list_findings(store, now=at("2026-11-12T09:00"))[0]
    assert "已超期 5 个工作日" in listed["message"]                   # 11-05 → 11-12: 6, 9, 10, 11, 12
    one = findings.get_finding(store, listed["id"], now=at("2026-11-16T09:00"))
    assert "已超期 7 个工作日" in one["message"]


def test_a_finding_is_last_seen_when_its_rule_last_saw_it_fire(base, store, cfg, tmp_path):
    # still firing: seen at every scan (one stamp per rule, not a row per finding); resolved or
    # verified: it keeps the time it was last seen firing
    put(store, cfg, tmp_path, "cases", [case("M1", "processing", "2026-11-02T10:00:00+08:00"),
                                        case("M2", "processing", "2026-11-02T10:00:00+08:00")])
    book = load_packs(make_pack(tmp_path / "rules", OVERDUE))
    run_scan(store, cfg, book, at("2026-11-09T09:00"))
    run_scan(store, cfg, book, at("2026-11-12T09:00"))
    seen = {r["subject"]: r["last_seen_at"] for r in findings.list_findings(store)}
    assert seen == {"M1": "2026-11-12T09:00:00+08:00", "M2": "2026-11-12T09:00:00+08:00"}
    put(store, cfg, tmp_path, "cases", [case("M1", "closed", "2026-11-02T10:00:00+08:00",
                                             closed_at="2026-11-12T15:00:00+08:00")])
    m2 = next(r for r in findings.list_findings(store) if r["subject"] == "M2")
    findings.submit(store, m2["id"], "A1", "已整改", now=at("2026-11-12T16:00"))
    put(store, cfg, tmp_path, "officers", [{"id": "A2", "name": "复查员", "org": "H1", "role": "admin"}])
    findings.verify(store, m2["id"], "A2", True, now=at("2026-11-12T17:00"))
    assert findings.get_finding(store, m2["id"])["last_seen_at"] == "2026-11-12T09:00:00+08:00"
    run_scan(store, cfg, book, at("2026-11-13T09:00"))
    run_scan(store, cfg, book, at("2026-11-16T09:00"))
    rows = {r["subject"]: r for r in findings.list_findings(store)}
    assert rows["M1"]["status"] == "resolved" and rows["M1"]["last_seen_at"] == "2026-11-12T09:00:00+08:00"
    assert rows["M2"]["status"] == "open"            # verified while still overdue: 复查后仍存在, seen again
    assert rows["M2"]["last_seen_at"] == "2026-11-16T09:00:00+08:00"


def test_messages_are_read_with_the_parameters_of_the_config_that_scanned(base, store, cfg, tmp_path):
    # the derived fields' config parameters (P9's satisfied level, P7's depth) are those of the scan's
    # config, recorded by the scan, not fixed defaults
    own = dataclasses.replace(cfg, indicators=dataclasses.replace(cfg.indicators, p9_satisfied_level=4,
                                                                  p7_full_process_depth=3))
    assert store.derived_params() is None
    put(store, cfg, tmp_path, "cases", [case("M1", "processing", "2026-11-02T10:00:00+08:00")])
    run_scan(store, own, load_packs(make_pack(tmp_path / "rules", OVERDUE)), at("2026-11-09T09:00"))
    assert store.derived_params() == derived.params(own) == {"p9_level": 4, "p7_depth": 3, "p7_any_online": 0}
    listed = findings.list_findings(store, now=at("2026-11-12T09:00"))[0]
    assert "已超期 5 个工作日" in listed["message"]


def test_a_scan_opening_many_findings_makes_them_whole_in_chunks_under_the_lock(base, store, cfg, tmp_path,
                                                                                 monkeypatch):
    from checker.evaluate import scan as scan_mod
    monkeypatch.setattr(findings, "CHUNK", 2)
    monkeypatch.setattr(scan_mod, "PREPARE_LIMIT", 1)
    put(store, cfg, tmp_path, "cases", [case(f"N{i}", "processing", "2026-11-02T10:00:00+08:00") for i in range(5)])
    book = load_packs(make_pack(tmp_path / "rules", OVERDUE))
    result = run_scan(store, cfg, book, at("2026-11-10T09:00"))
    assert (result.opened, result.open) == (5, 5)
    rows = findings.list_findings(store, now=at("2026-11-10T09:00"))
    assert sorted(r["subject"] for r in rows) == [f"N{i}" for i in range(5)]
    assert all("已超期 3 个工作日" in r["message"] for r in rows)
    assert store.scalar("SELECT count(*) FROM finding_events WHERE action = 'open'") == 5
