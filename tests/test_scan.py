"""The scan: incremental vs full, resolving, --now, checklist and cadence evaluators."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from checker.ingest import import_file
from checker.rules import load_packs
from checker.evaluate.scan import evaluate, run_scan
from checker.evaluate.supervision import cadence_period
from govwatch import cli

from test_rules_loader import make_pack

pytestmark = pytest.mark.both_stores
TZ = ZoneInfo("Asia/Shanghai")
OVERDUE = """\
  - id: t.case.overdue
    kind: record
    record: cases
    clause: "5.2.1.5"
    title: 办件超期
    severity: red
    responsible: handler
    when: {all: [{field: status, in: [accepted, processing]}, {field: overdue, eq: true}]}
    message: "办件 {case_no}（{item_name}）已超期 {overdue_wd} 个工作日，承诺办结时间 {due_at}（{standard} §{clause}）"
"""
CHECKS = """\
  - id: t.checklist.queue
    kind: checklist
    clause: "5.2.1.5"
    title: 叫号系统
    severity: yellow
    responsible: org
    checks: [{id: equipment.queue_system, title: 叫号系统}]
    scope: {levels: [hall]}
    max_age_days: 30
    message: "{org_name}「{check_title}」{reason}"
  - id: t.cadence.self
    kind: cadence
    clause: "6.2.1"
    title: 自我监督评价
    severity: yellow
    responsible: supervisor
    activity: self
    every: {months: 3}
    scope: {levels: [hall]}
    message: "{org_name} {period_label}{state_text}没有{activity_name}"
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def put(store, cfg, tmp_path, kind, rows):
    path = tmp_path / f"{kind}-{store.current_seq()}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    result = import_file(store, cfg, kind, path, rejects_dir=tmp_path / "rejects")
    assert result.rejected == 0


def case(no, status="processing", accepted="2026-09-28T09:00:00+08:00", **kw):
    return {"case_no": no, "item_code": "I1", "org": "H1", "channel": "window", "accepted_at": accepted,
            "status": status, **kw}


@pytest.fixture
def world(store, cfg, tmp_path):
    put(store, cfg, tmp_path, "orgs", [{"code": "H1", "name": "上城区行政服务中心", "level": "hall"}])
    put(store, cfg, tmp_path, "items", [{"code": "I1", "name": "食品经营许可", "org": "H1", "promised_days": 5}])
    # accepted Mon 28 Sep, 5 working days → due Sat 10 Oct 23:59:59 (a 调休 working day after National Day)
    put(store, cfg, tmp_path, "cases", [case("C1"), case("C2"),
                                        *[case(f"D{i}", "closed", closed_at="2026-09-29T10:00:00+08:00") for i in range(5)]])
    return load_packs(make_pack(tmp_path / "rules", OVERDUE))


def test_a_scan_opens_a_finding_with_a_rendered_message(store, cfg, world):
    result = run_scan(store, cfg, world, at("2026-10-14T09:00"))
    assert (result.opened, result.open, result.evaluated) == (2, 2, 7)
    row = store.row("SELECT * FROM findings WHERE subject = 'C1'")
    assert row["message"] == ("办件 C1（食品经营许可）已超期 3 个工作日，承诺办结时间 2026-10-10 23:59"
                              "（DB33/T 2036.7 §5.2.1.5）")


def test_an_unchanged_store_rescanned_evaluates_only_live_records(store, cfg, world):
    run_scan(store, cfg, world, at("2026-10-14T09:00"))
    again = run_scan(store, cfg, world, at("2026-10-14T10:00"))
    assert (again.evaluated, again.opened, again.resolved, again.open) == (2, 0, 0, 2)
    full = run_scan(store, cfg, world, at("2026-10-14T11:00"), full=True)
    assert full.evaluated == 7


def test_a_closed_case_resolves_its_finding_in_an_incremental_scan(store, cfg, world, tmp_path):
    run_scan(store, cfg, world, at("2026-10-14T09:00"))
    put(store, cfg, tmp_path, "cases", [case("C1", "closed", closed_at="2026-10-14T10:00:00+08:00")])
    result = run_scan(store, cfg, world, at("2026-10-14T11:00"))
    assert (result.evaluated, result.resolved, result.open) == (2, 1, 1)
    assert store.scalar("SELECT status FROM findings WHERE subject = 'C1'") == "resolved"


def test_the_subjects_of_active_findings_are_rechecked_even_when_not_live(store, cfg, world):
    run_scan(store, cfg, world, at("2026-10-14T09:00"))
    store.conn.execute("UPDATE cases SET status = 'closed', closed_at = '2026-10-14T10:00:00+08:00' "
                       "WHERE case_no = 'C2'")        # changed without a new _seq
    result = run_scan(store, cfg, world, at("2026-10-14T11:00"))
    assert result.resolved == 1


def test_now_is_honoured_by_the_scan_command(store, cfg, world, tmp_path, capsys):
    conf = tmp_path / "config.yaml"
    conf.write_text(f"database: {cfg.database}\nrules_dir: {tmp_path / 'rules'}\n", encoding="utf-8")
    assert cli.main(["--config", str(conf), "scan", "--now", "2026-10-09T20:00+08:00", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert before["opened"] == 0 and before["now"] == "2026-10-09T20:00:00+08:00"
    assert cli.main(["--config", str(conf), "scan", "--now", "2026-10-12T09:00+08:00", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert set(after) == {"scan_id", "now", "evaluated", "opened", "resolved", "reopened", "open"}
    assert (after["opened"], after["open"]) == (2, 2)


def test_checklist_and_cadence_evaluators(store, cfg, tmp_path):
    put(store, cfg, tmp_path, "orgs", [{"code": "H1", "name": "甲中心", "level": "hall"},
                                       {"code": "H2", "name": "乙中心", "level": "hall"},
                                       {"code": "H3", "name": "丙中心", "level": "hall"},
                                       {"code": "D1", "name": "某区", "level": "district"}])
    put(store, cfg, tmp_path, "inspections", [
        {"id": "X1", "org": "H1", "date": "2026-10-01", "check": "equipment.queue_system", "result": "fail"},
        {"id": "X2", "org": "H1", "date": "2026-10-10", "check": "equipment.queue_system", "result": "pass"},
        {"id": "X3", "org": "H2", "date": "2026-08-01", "check": "equipment.queue_system", "result": "pass"}])
    put(store, cfg, tmp_path, "supervisions", [
        {"id": "S1", "org": "H1", "kind": "self", "date": "2026-08-01"},
        {"id": "S2", "org": "H2", "kind": "self", "date": "2026-06-30"},
        {"id": "S3", "org": "H3", "kind": "superior", "date": "2026-10-01"}])
    book = load_packs(make_pack(tmp_path / "rules", CHECKS))
    firings = {(f.rule.id, f.subject): f.message for f in evaluate(store, cfg, book, at("2026-10-14T09:00")).firings}
    assert firings == {
        ("t.checklist.queue", "H2:equipment.queue_system"): "乙中心「叫号系统」逾期未检查",
        ("t.checklist.queue", "H3:equipment.queue_system"): "丙中心「叫号系统」从未检查",
        ("t.cadence.self", "H2:2026-Q3"): "乙中心 2026年第3季度已结束，期内没有自我监督评价",    # 30 Jun is Q2
        ("t.cadence.self", "H3:2026-Q3"): "丙中心 2026年第3季度已结束，期内没有自我监督评价"}


def test_cadence_periods_are_calendar_periods():
    from datetime import date
    q = cadence_period({"months": 3}, date(2027, 5, 31))
    assert (q.code, q.label, q.start, q.last_day) == ("2027-Q2", "2027年第2季度", date(2027, 4, 1), date(2027, 6, 30))
    assert q.previous({"months": 3}, 2000).code == "2027-Q1"
    assert cadence_period({"months": 3}, date(2027, 1, 1)).previous({"months": 3}, 2000).code == "2026-Q4"
    assert cadence_period({"years": 2}, date(2027, 12, 31), 2026).code == "2026-2027"
    assert cadence_period({"years": 2}, date(2028, 1, 1), 2026).label == "2028—2029年"
    assert cadence_period({"years": 2}, date(2025, 6, 1), 2026).code == "2024-2025"
    assert cadence_period({"months": 6}, date(2027, 8, 9)).code == "2027-07~2027-12"
    week = cadence_period({"days": 7}, date(2027, 3, 10))
    assert (week.start, week.last_day) == (date(2027, 3, 8), date(2027, 3, 14))
