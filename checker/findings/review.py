"""What a supervisor needs to verify (复查, DB33/T 2036.7 §8.3) without going blind: the officer's
note and evidence, the finding's history, and what the latest scan says about it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import findings as fnd
from .repo import EvidenceRepo, ReviewRepo

ACTION_NAMES = {"open": "发现问题", "reopen": "问题再次出现", "rebound": "整改后反弹",
                "persist": "复查后仍存在", "assign": "分派",
                "ack": "确认收到", "submit": "提交整改", "verify_pass": "复查通过", "verify_fail": "复查退回",
                "resolve": "扫描显示问题已消除", "remind": "整改期限提醒", "escalate": "升级督办"}


def latest_submission(store: EvidenceRepo, finding_id: int) -> dict[str, Any] | None:
    """The finding's last 提交整改 event (its note and evidence), or None."""
    return next((e for e in reversed(store.finding_events(int(finding_id))) if e["action"] == "submit"), None)


def evidence(store: EvidenceRepo, finding_id: int) -> tuple[str, Path] | None:
    """(file name, path) of the evidence of the last submission, when one was sent."""
    event = latest_submission(store, finding_id)
    path = fnd.evidence_file(store, event) if event else None
    if path is None or not path.exists():
        return None
    data = (event or {}).get("data") or {}
    return data.get("evidence_name") or path.name, path


def scan_state(store: EvidenceRepo, finding: dict[str, Any]) -> tuple[bool | None, str]:
    """(still fires?, what the latest scan says): True when the latest scan saw the condition, False
    when it is cleared (已消除), None when no scan has run since it was opened."""
    latest = store.latest_scan()
    if finding["status"] == "resolved":
        return False, "最新扫描：问题已消除"
    if latest is None:
        return None, "最新扫描：尚无扫描结果"
    when = str(latest["now"])[:16].replace("T", " ")
    if finding.get("last_scan_id") is not None and finding["last_scan_id"] >= latest["id"]:
        return True, f"最新扫描（{when}）：问题仍存在"
    return None, f"最新扫描（{when}）：未复核到该问题"


def history(store: ReviewRepo, finding_id: int) -> list[dict[str, Any]]:
    """The audit trail with Chinese action names and the actor's name."""
    names = store.officer_names()
    out = []
    for e in fnd.history(store, finding_id):
        actor = "系统" if e["actor"] == fnd.SYSTEM else f"{names.get(e['actor'], e['actor'])}（{e['actor']}）"
        out.append({**e, "action_name": ACTION_NAMES.get(e["action"], e["action"]), "actor_name": actor})
    return out
