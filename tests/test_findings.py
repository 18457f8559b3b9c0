"""Findings: dedup across scans, resolve / reopen / rebound, the lifecycle, its audit trail."""
from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checker import findings as fnd
from checker.errors import Forbidden, InputError, InvalidTransition, NotFound
from checker.findings import Firing
from checker.findings.access import Scope
from checker.rules import load_packs

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 9, 8, 30, tzinfo=TZ)


ROOT = Path(__file__).resolve().parent.parent
RULE = load_packs(ROOT / "rules").rule("db33.case.overdue")     # the shipped rule (real YAML)


def seed(store):
    store.db["orgs"].insert_all([
        {"code": "330100", "name": "杭州市", "parent": None, "level": "city"},
        {"code": "330102", "name": "上城区", "parent": "330100", "level": "district"},
        {"code": "330105", "name": "拱墅区", "parent": "330100", "level": "district"},
    ])
    store.db["officers"].insert_all([
        {"id": "O1", "name": "王一", "org": "330102", "role": "officer", "telegram_id": 101},
        {"id": "O2", "name": "李二", "org": "330102", "role": "officer"},
        {"id": "O5", "name": "赵五", "org": "330105", "role": "officer"},
        {"id": "S1", "name": "张监", "org": "330102", "role": "supervisor"},
        {"id": "S5", "name": "孙监", "org": "330105", "role": "supervisor"},
        {"id": "S0", "name": "周监", "org": "330100", "role": "supervisor"},
        {"id": "A1", "name": "管理员", "org": "330100", "role": "admin"},
    ])


@pytest.fixture
def db(store):
    seed(store)
    return store


def fire(subject="C001", org="330102", handler="O1", message="办件 C001 已超期 1 个工作日", rule=RULE):
    return Firing(rule=rule, subject=subject, subject_kind="cases", org=org, message=message,
                  due_at="2026-10-16T23:59:59+08:00", handler=handler, facts={"case_no": subject})


def scan(store, cfg, now, firings, evaluated=None):
    evaluated = {RULE.id: None} if evaluated is None else evaluated
    return fnd.reconcile(store, cfg, 1, now, firings, evaluated)


def events(store):
    return store.rows("SELECT finding_id, actor, action, from_status, to_status FROM finding_events ORDER BY id")


def only(store):
    [row] = fnd.list_findings(store)
    return row


# ------------------------------------------------------------------ reconcile

def test_a_new_firing_opens_a_finding_assigned_to_the_case_handler(db, cfg):
    result = scan(db, cfg, T0, [fire()])
    assert (result.opened, result.resolved, result.reopened, result.open) == (1, 0, 0, 1)
    f = only(db)
    assert (f["rule"], f["subject"], f["status"], f["assignee"]) == (RULE.id, "C001", "open", "O1")
    assert (f["clause"], f["standard"], f["severity"]) == ("5.2.1.5", "DB33/T 2036.7", "red")
    assert f["opened_at"] == "2026-10-09T08:30:00+08:00"
    assert fnd.get_finding(db, f["id"])["supervisor"] == "S1"
    assert [e["action"] for e in events(db)] == ["open"]


def test_a_repeat_scan_opens_nothing_and_writes_no_event_but_refreshes_the_message(db, cfg):
    scan(db, cfg, T0, [fire()])
    result = scan(db, cfg, T0 + timedelta(days=1), [fire(message="办件 C001 已超期 2 个工作日")])
    assert (result.opened, result.resolved, result.reopened, result.open) == (0, 0, 0, 1)
    assert len(events(db)) == 1
    f = fnd.get_finding(db, only(db)["id"])
    assert f["message"] == "办件 C001 已超期 2 个工作日"
    assert f["last_seen_at"] == "2026-10-10T08:30:00+08:00"


def test_a_finding_whose_subject_was_evaluated_and_did_not_fire_is_resolved(db, cfg):
    scan(db, cfg, T0, [fire("C001"), fire("C002")])
    result = scan(db, cfg, T0 + timedelta(hours=1), [fire("C002")], {RULE.id: {"C001", "C002"}})
    assert result.resolved == 1 and result.open == 1
    by_subject = {f["subject"]: f for f in fnd.list_findings(db)}
    assert by_subject["C001"]["status"] == "resolved"
    assert by_subject["C001"]["resolved_at"] == "2026-10-09T09:30:00+08:00"
    assert by_subject["C002"]["status"] == "open"


def test_an_incremental_scan_leaves_subjects_it_did_not_look_at(db, cfg):
    scan(db, cfg, T0, [fire("C001")])
    result = scan(db, cfg, T0, [], {RULE.id: {"C999"}})
    assert result.resolved == 0 and only(db)["status"] == "open"
    result = scan(db, cfg, T0, [], {"db33.other.rule": None})
    assert result.resolved == 0 and only(db)["status"] == "open"


def test_a_resolved_finding_that_fires_again_reopens(db, cfg):
    scan(db, cfg, T0, [fire()])
    scan(db, cfg, T0 + timedelta(days=1), [])
    result = scan(db, cfg, T0 + timedelta(days=2), [fire()])
    assert (result.opened, result.reopened, result.open) == (0, 1, 1)
    f = fnd.get_finding(db, only(db)["id"])
    assert (f["status"], f["reopen_count"], f["rebound_count"], f["resolved_at"]) == ("open", 1, 0, None)
    assert [e["action"] for e in events(db)] == ["open", "resolve", "reopen"]


def _verified(db, cfg):
    scan(db, cfg, T0, [fire()])
    fid = only(db)["id"]
    fnd.acknowledge(db, fid, "O1", now=T0)
    fnd.submit(db, fid, "O1", "已办结并回访", now=T0 + timedelta(hours=2))
    fnd.verify(db, fid, "S1", True, now=T0 + timedelta(days=1))
    return fid


def test_a_verified_finding_firing_again_within_the_window_is_a_rebound(db, cfg):
    fid = _verified(db, cfg)
    scan(db, cfg, T0 + timedelta(days=3), [])                  # a scan sees it cleared after the 复查
    assert fnd.get_finding(db, fid)["cleared_at"] == "2026-10-12T08:30:00+08:00"
    result = scan(db, cfg, T0 + timedelta(days=30), [fire()])
    assert result.reopened == 1
    f = fnd.get_finding(db, fid)
    assert (f["status"], f["rebound_count"], f["reopen_count"]) == ("open", 1, 0)
    assert events(db)[-1]["action"] == "rebound"
    assert (events(db)[-1]["from_status"], events(db)[-1]["to_status"]) == ("verified", "open")


def test_a_verified_finding_firing_after_the_window_is_a_plain_reopen(db, cfg):
    fid = _verified(db, cfg)
    assert cfg.findings.rebound_window_days == 90
    scan(db, cfg, T0 + timedelta(days=5), [])
    scan(db, cfg, T0 + timedelta(days=92), [fire()])
    f = fnd.get_finding(db, fid)
    assert (f["status"], f["rebound_count"], f["reopen_count"]) == ("open", 0, 1)
    assert events(db)[-1]["action"] == "reopen"


def test_a_verified_finding_the_data_never_cleared_reopens_as_persisting_not_as_a_rebound(db, cfg):
    # 复查 passed on day 1, but the next scans (day 2, day 4) still see the case overdue: nothing was
    # fixed, so this is 复查后仍存在 (counted apart, back to the verifier S1), never a 反弹 (§8.4).
    fid = _verified(db, cfg)
    result = scan(db, cfg, T0 + timedelta(days=2), [fire()])
    assert result.reopened == 1
    f = fnd.get_finding(db, fid)
    assert (f["status"], f["persist_count"], f["rebound_count"], f["reopen_count"]) == ("open", 1, 0, 0)
    last = db.rows("SELECT action, data FROM finding_events ORDER BY id DESC LIMIT 1")[0]
    assert last["action"] == "persist" and '"verifier": "S1"' in last["data"]
    from checker.notify.route import recipients
    ev = {"action": "persist", "data": last["data"], "f_assignee": "O1", "f_supervisor": "S1", "f_org": "330102",
          "f_escalation_level": 0}
    assert recipients(db, ev) == [("S1", "persisted"), ("O1", "reopened")]
    # verified again, then cleared, then firing again: now a rebound
    fnd.submit(db, fid, "O1", "再次整改", now=T0 + timedelta(days=3))
    fnd.verify(db, fid, "S0", True, now=T0 + timedelta(days=4))
    scan(db, cfg, T0 + timedelta(days=5), [])
    scan(db, cfg, T0 + timedelta(days=6), [fire()])
    f = fnd.get_finding(db, fid)
    assert (f["persist_count"], f["rebound_count"]) == (1, 1)


def test_a_clearing_seen_before_the_verification_does_not_count(db, cfg):
    scan(db, cfg, T0, [fire()])
    fid = only(db)["id"]
    fnd.submit(db, fid, "O1", "已办结", now=T0 + timedelta(hours=1))
    fnd.verify(db, fid, "S1", True, now=T0 + timedelta(days=2))
    db.conn.execute("UPDATE findings SET cleared_at = '2026-10-10T08:30:00+08:00' WHERE id = ?", (fid,))
    scan(db, cfg, T0 + timedelta(days=3), [fire()])
    assert fnd.get_finding(db, fid)["persist_count"] == 1


def test_a_verified_finding_is_not_resolved_again(db, cfg):
    fid = _verified(db, cfg)
    assert scan(db, cfg, T0 + timedelta(days=2), []).resolved == 0
    assert fnd.get_finding(db, fid)["status"] == "verified"


def test_reconcile_is_all_or_nothing(db, cfg):
    broken = Firing(rule=dataclasses.replace(RULE, clause=None), subject="C003", subject_kind="cases", org="330102",
                    message="x", due_at=None, handler=None, facts={})     # clause NOT NULL fails
    with pytest.raises(Exception):
        scan(db, cfg, T0, [fire("C001"), broken])
    assert fnd.list_findings(db) == [] and events(db) == []


# ------------------------------------------------------------------ lifecycle

@pytest.fixture
def fid(db, cfg):
    scan(db, cfg, T0, [fire()])
    return only(db)["id"]


def test_the_full_lifecycle_is_kept_in_the_audit_trail(db, fid):
    fnd.acknowledge(db, fid, "O1", now=T0, data={"telegram_user": 101})
    fnd.submit(db, fid, "O1", "已办结", now=T0 + timedelta(hours=1))
    f = fnd.verify(db, fid, "S1", True, "复查属实", now=T0 + timedelta(hours=2))
    assert (f["status"], f["verified_at"]) == ("verified", "2026-10-09T10:30:00+08:00")
    trail = fnd.history(db, fid)
    assert [(e["actor"], e["action"], e["to_status"]) for e in trail] == [
        ("system", "open", "open"), ("O1", "ack", "acknowledged"),
        ("O1", "submit", "submitted"), ("S1", "verify_pass", "verified")]
    assert trail[1]["data"] == {"telegram_user": 101}
    assert trail[1]["at"] == "2026-10-09T08:30:00+08:00"
    assert trail[3]["note"] == "复查属实"


def test_a_failed_verification_rejects_with_the_reason_and_the_officer_can_resubmit(db, fid):
    fnd.submit(db, fid, "O1", "已办结", now=T0)
    with pytest.raises(InputError, match="理由"):
        fnd.verify(db, fid, "S1", False, now=T0)
    f = fnd.verify(db, fid, "S1", False, "未提供办结凭证", now=T0)
    assert f["status"] == "rejected" and fnd.history(db, fid)[-1]["note"] == "未提供办结凭证"
    assert fnd.acknowledge(db, fid, "O1", now=T0)["status"] == "acknowledged"
    assert fnd.submit(db, fid, "O1", "补充凭证", now=T0)["status"] == "submitted"


@pytest.mark.parametrize("steps, action", [
    ([], "verify"),
    ([("submit",)], "ack"),
    ([("submit",), ("verify",)], "submit"),
    ([("submit",), ("verify",)], "ack"),
])
def test_transitions_outside_the_lifecycle_are_refused_in_chinese(db, fid, steps, action):
    do = {"ack": lambda: fnd.acknowledge(db, fid, "O1", now=T0),
          "submit": lambda: fnd.submit(db, fid, "O1", "整改", now=T0),
          "verify": lambda: fnd.verify(db, fid, "S1", True, now=T0)}
    for (step,) in steps:
        do[step]()
    before = len(events(db))
    with pytest.raises(InvalidTransition, match="当前状态为"):
        do[action]()
    assert len(events(db)) == before


def test_a_resolved_finding_cannot_be_acknowledged(db, cfg, fid):
    scan(db, cfg, T0, [])
    with pytest.raises(InvalidTransition, match="已消除"):
        fnd.acknowledge(db, fid, "O1", now=T0)


def test_officers_act_only_on_their_own_findings(db, fid):
    with pytest.raises(Forbidden, match="分派给本人"):
        fnd.acknowledge(db, fid, "O2", now=T0)
    fnd.submit(db, fid, "O1", "已办结", now=T0)
    with pytest.raises(Forbidden, match="无权复查"):
        fnd.verify(db, fid, "O1", True, now=T0)
    assert fnd.get_finding(db, fid)["status"] == "submitted"


def test_only_a_supervisor_covering_the_org_verifies(db, fid):
    fnd.submit(db, fid, "O1", "已办结", now=T0)
    with pytest.raises(Forbidden):
        fnd.verify(db, fid, "S5", True, now=T0)            # a sibling district's supervisor
    assert fnd.verify(db, fid, "S0", True, now=T0)["status"] == "verified"   # the city's


def test_a_supervisor_cannot_verify_their_own_submission(db, fid):
    fnd.submit(db, fid, "S1", "监管人员代为整改", now=T0)
    with pytest.raises(Forbidden, match="本人提交"):
        fnd.verify(db, fid, "S1", True, now=T0)
    assert fnd.verify(db, fid, "A1", True, now=T0)["status"] == "verified"


def test_unknown_findings_and_officers_are_reported(db, fid):
    with pytest.raises(NotFound, match="999"):
        fnd.acknowledge(db, 999, "O1", now=T0)
    with pytest.raises(NotFound, match="X9"):
        fnd.acknowledge(db, fid, "X9", now=T0)


def test_submit_needs_a_note(db, fid):
    with pytest.raises(InputError, match="整改说明"):
        fnd.submit(db, fid, "O1", "  ", now=T0)


# ------------------------------------------------------------------ evidence

def test_evidence_bytes_are_stored_content_addressed_with_their_hash(db, fid):
    content = "整改照片".encode() * 100
    fnd.submit(db, fid, "O1", "已整改", evidence=("现场.JPG", content), now=T0)
    event = fnd.history(db, fid)[-1]
    assert event["evidence_sha256"] == hashlib.sha256(content).hexdigest()
    path = fnd.evidence_file(db, event)
    assert path.read_bytes() == content and path.suffix == ".jpg"
    assert path.parent.parent.name == "evidence"


def test_evidence_from_a_file_path(db, fid, tmp_path):
    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF-1.4 rectification")
    fnd.submit(db, fid, "O1", "已整改", evidence=str(source), now=T0)
    event = fnd.history(db, fid)[-1]
    assert event["evidence_sha256"] == hashlib.sha256(b"%PDF-1.4 rectification").hexdigest()
    assert fnd.evidence_file(db, event).read_bytes() == b"%PDF-1.4 rectification"


def test_unreadable_evidence_changes_nothing(db, fid, tmp_path):
    with pytest.raises(InputError, match="证据文件"):
        fnd.submit(db, fid, "O1", "已整改", evidence=str(tmp_path / "missing.jpg"), now=T0)
    assert fnd.get_finding(db, fid)["status"] == "open"


# ------------------------------------------------------------------ reminders, escalation, queries

def test_remind_and_escalate_write_events(db, fid):
    fnd.remind(db, fid, T0)
    fnd.escalate(db, fid, 1, T0 + timedelta(days=1))
    f = fnd.get_finding(db, fid)
    assert (f["reminded_at"], f["escalation_level"]) == ("2026-10-09T08:30:00+08:00", 1)
    assert f["escalated_at"] == "2026-10-10T08:30:00+08:00"
    trail = fnd.history(db, fid)
    assert [e["action"] for e in trail] == ["open", "remind", "escalate"]
    assert trail[-1]["data"] == {"level": 1} and trail[-1]["to_status"] == "open"


def test_listing_filters_by_status_rule_org_and_scope(db, cfg):
    scan(db, cfg, T0, [fire("C001"), fire("C002", handler="O2"), fire("C005", org="330105", handler="O5")])
    fnd.acknowledge(db, 1, "O1", now=T0)
    assert [f["subject"] for f in fnd.list_findings(db, status="open")] == ["C002", "C005"]
    assert [f["subject"] for f in fnd.list_findings(db, status="active")] == ["C001", "C002", "C005"]
    assert [f["subject"] for f in fnd.list_findings(db, org="330105")] == ["C005"]
    assert len(fnd.list_findings(db, org="330100")) == 3
    assert fnd.list_findings(db, rule="db33.other") == []
    assert [f["subject"] for f in fnd.list_findings(db, subject="C005")] == ["C005"]
    assert [f["subject"] for f in fnd.list_findings(db, scope=Scope.for_officer(db, "O2"))] == ["C002"]
    assert len(fnd.list_findings(db, scope=Scope.for_officer(db, "S1"))) == 2
    assert len(fnd.list_findings(db, limit=2, offset=2)) == 1
    with pytest.raises(InputError, match="未知的发现状态"):
        fnd.list_findings(db, status="closed")


def test_the_listing_has_the_documented_json_keys(db, cfg):
    scan(db, cfg, T0, [fire()])
    keys = {"id", "rule", "clause", "standard", "subject", "org", "severity", "status", "message",
            "assignee", "opened_at", "due_at", "resolved_at"}
    assert keys <= set(only(db))


def test_a_finding_outside_the_scope_is_hidden(db, fid):
    with pytest.raises(Forbidden):
        fnd.get_finding(db, fid, scope=Scope.for_officer(db, "O2"))
    assert fnd.get_finding(db, fid, scope=Scope.for_officer(db, "S0"))["id"] == fid


# ------------------------------------------------------------------ the command line

def test_the_finding_and_findings_commands(db, cfg, fid, capsys):
    import json

    from govwatch import cli
    base = ["--db", cfg.database]
    assert cli.main([*base, "finding", "ack", str(fid), "--by", "O2"]) == 2
    assert "分派给本人" in capsys.readouterr().err
    assert cli.main([*base, "finding", "submit", str(fid), "--by", "O1", "--note", "已办结",
                     "--now", "2026-10-09T10:00"]) == 0
    assert "已提交整改" in capsys.readouterr().out
    assert cli.main([*base, "finding", "verify", str(fid), "--by", "S1"]) == 2
    assert "--pass" in capsys.readouterr().err
    assert cli.main([*base, "finding", "verify", str(fid), "--by", "S1", "--fail", "--note", "凭证不全"]) == 0
    capsys.readouterr()
    assert cli.main([*base, "findings", "--status", "rejected", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["id"], row["status"], row["assignee"]) == (fid, "rejected", "O1")
    assert cli.main([*base, "findings", "--by", "O2"]) == 0
    assert "没有符合条件的发现" in capsys.readouterr().out
