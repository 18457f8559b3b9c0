"""Findings: a rule firing on a subject, deduplicated by fingerprint (rule id + subject), and its
lifecycle (DESIGN.md "Findings", DB33/T 2036.7 §8):

    open → acknowledged → submitted → verified            (closed by a supervisor's 复查)
                              └──────→ rejected → (acknowledged | submitted) …
    any active status → resolved   when the scan sees the condition cleared
    resolved → open               when it fires again (reopen)
    verified → open               when it fires again. A rebound (反弹, §8.4) only when a scan saw it
                                  cleared after the verification (cleared_at) and it fires again within
                                  `findings.rebound_window_days` of the verification (later: a plain
                                  reopen). A verified finding that never cleared reopens as
                                  复查后仍存在 (`persist`: the verification is contradicted by the data),
                                  counted apart and sent back to the supervisor who verified it.

Every change appends a row to finding_events (who, when, what); the notification route reads them.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import Forbidden, InputError, InvalidTransition, NotFound
from ..rules.model import Rule
from ..statuses import ACTIVE_STATUSES, STATUS_NAMES, STATUSES, WITH_OFFICER
from .access import Scope
from .messages import current_messages
from .opening import OpenSpec
from .repo import EvidenceRepo, FindingRepo
from .routing import CachedDirectory, assign

SYSTEM = "system"          # the actor of events the scan and the scheduler make
FindingId = int | str       # a finding's number, as the store has it or as people type it ("68")
Evidence = str | Path | tuple[str, bytes]    # a file, or (file name, content)
CHUNK = 5000               # record firings made whole and written at a time

ACTION_NAMES = {"ack": "确认", "submit": "提交整改", "verify_pass": "复查通过", "verify_fail": "复查退回"}

# action → (statuses it may start from, status it leads to)
TRANSITIONS = {
    "ack": (("open", "rejected"), "acknowledged"),
    "submit": (WITH_OFFICER, "submitted"),
    "verify_pass": (("submitted",), "verified"),
    "verify_fail": (("submitted",), "rejected"),
}


@dataclass(frozen=True)
class Firing:
    """One rule firing on one subject, made by the scan."""
    rule: Rule
    subject: str              # e.g. case_no, "P5:330102:2026-10", "330102:equipment.evaluator"
    subject_kind: str         # cases, indicator, checklist, cadence, consultations, …
    org: str | None
    message: str | None       # rendered Chinese message (None: a record firing not made whole yet)
    due_at: str | None        # rectification deadline (ISO local)
    handler: str | None       # officer id responsible when known (case handler)
    facts: dict[str, Any] = field(default_factory=dict)   # values shown in messages / bot (/case)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule.id, self.subject)


# What makes firings whole (their messages and facts, checker.evaluate.scan): the scan's lazy record
# firings (reconcile), or the fired pairs' rows (reconcile_fired, called with the rows).
Complete = Callable[[list[Firing]], Iterable[Firing]]
CompleteRows = Callable[..., Iterable[Firing]]


@dataclass(frozen=True)
class ReconcileResult:
    opened: int
    resolved: int
    reopened: int         # reopens and rebounds
    open: int             # active findings after the scan (open, acknowledged, submitted, rejected)

    @classmethod
    def total(cls, parts: list["ReconcileResult"]) -> "ReconcileResult":
        """Reconciles of one scan in parts (disjoint rules, one after the other): the sums, the last open count."""
        return cls(sum(p.opened for p in parts), sum(p.resolved for p in parts), sum(p.reopened for p in parts),
                   parts[-1].open if parts else 0)


def fingerprint(rule_id: str, subject: str) -> str:
    """A finding's identity. Rule ids never contain ':' so the join is unambiguous."""
    return f"{rule_id}:{subject}"


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


# ---------------------------------------------------------------- reconcile (the scan's side)

def reconcile(store: FindingRepo, cfg: Config, scan_id: int, now: datetime, firings: Iterable[Firing],
              evaluated: Mapping[str, Collection[str] | None], complete: Complete | None = None,
              count: bool = True) -> ReconcileResult:
    """Merge one scan's firings into the findings, in one transaction. Only status changes are
    written (opened, resolved, reopened), and when the others were last seen (one statement):
    messages whose figures move with the clock are rendered when read (checker.evaluate.scan.read_message).

    evaluated[rule_id] = the subjects this scan looked at (None = every subject of the rule): an
    active finding of such a subject that did not fire is resolved. A firing without a message yet
    (a record rule's, see checker.evaluate.scan) is made whole by `complete` when it opens or reopens.
    `count`: the active findings are counted after it (False: `open` is -1, a scan reconciling in parts
    counts after the last)."""
    fired = {f.fingerprint: f for f in firings}
    ctx = _Reconcile(store, cfg, scan_id, now)
    with store.transaction():
        known = store.findings_to_reconcile({f.rule.id for f in fired.values()} | set(evaluated), fired)
        lazy = [f for fp, f in fired.items() if f.message is None
                and (known.get(fp) is None or known[fp]["status"] in ("resolved", "verified"))]
        if lazy and complete:
            fired.update((f.fingerprint, f) for f in complete(lazy))
        for fp, firing in fired.items():
            ctx.merge(known.get(fp), firing)
        resolved = ctx.resolve(known, fired, evaluated)
        ctx.clear_verified(fired, evaluated)
        ctx.flush()
        return ReconcileResult(ctx.opened, resolved, ctx.reopened, store.count_active_findings() if count else -1)


@dataclass(frozen=True)
class Setwise:
    """The new record findings of a reconcile_fired opened set-wise (checker.findings.opening): a spec
    per rule, the rules (routing decides on them) and the derived fields' parameters. `staged`: they
    were staged and routed already (stage_setwise), before the write lock."""
    specs: Sequence[OpenSpec]
    rules: Mapping[str, Rule]
    params: dict[str, Any]
    staged: bool = False


def stage_setwise(store: FindingRepo, cfg: Config, setwise: Setwise) -> Setwise:
    """The new findings made whole in SQL into the store's staging tables (store.stage_new), routed
    and put in the order they are numbered in (store.route_staged), reading only the store: done
    before a scan's write lock (over the fired pairs its reconcile_fired is given as `changes`),
    so that under it only their insert is left."""
    directory = CachedDirectory(store)
    _stage_routed(store, setwise, lambda rule, org, handler: assign(directory, cfg, rule, org, handler))
    return replace(setwise, staged=True)


def _stage_routed(store: FindingRepo, setwise: Setwise,
                  route: Callable[[Rule, str | None, str | None], tuple[str | None, str | None]]) -> None:
    """The new findings staged (store.stage_new) and each distinct (rule, org, handler) routed by `route`."""
    store.route_staged([(rule, org, handler, *route(setwise.rules[rule], org, handler))
                        for rule, org, handler in store.stage_new(setwise.specs, setwise.params)])


def reconcile_fired(store: FindingRepo, cfg: Config, scan_id: int, now: datetime, table: str, rules: Collection[str],
                    complete: CompleteRows, prepared: dict[str, Firing],
                    changes: list[dict[str, Any]] | None = None, cleared: str | None = None,
                    whole: Collection[str] | None = None, setwise: Setwise | None = None,
                    count: bool = True) -> ReconcileResult:
    """Merge the record rules' firings, held set-wise in `table` (fingerprint, rule, subject, kind), into
    their findings: the subjects that open or reopen are read and made whole (`prepared` already, or
    by `complete(rows)`), every active finding still firing gets its last-seen time in one statement,
    and the active findings of `rules` that did not fire are resolved. Nothing else is written: the
    figures of their messages are rendered when read. `changes`: the fired pairs that open or
    reopen, when the caller read them already (only a scan's own reconcile writes findings, and a
    finding verified meanwhile is caught by the next scan).

    An incremental scan (checker.evaluate.scan) evaluates the rules of `whole` over every record
    (None: all of `rules`) and the others only on the rows whose firing can have changed: their
    pairs that do not fire are in `cleared`, and only those of their active findings resolve.

    `setwise`: the pairs without a finding open in one statement (with their events), and only
    those that reopen are read (`changes` then holds only those). `count`: as reconcile's."""
    ctx = _Reconcile(store, cfg, scan_id, now)
    with store.transaction():
        if changes is None:
            store.collect_fired_changes(table)
        if setwise is not None:
            ctx.open_setwise(setwise)
        for part in _change_pages(store, changes, setwise is not None):   # a first scan: memory stays flat
            missing = [r for r in part if r["fingerprint"] not in prepared]
            made = {f.fingerprint: f for f in complete(missing)} if missing else {}
            for row in part:
                firing = prepared.get(row["fingerprint"]) or made.get(row["fingerprint"])
                if firing is not None:                  # None: its record is gone since
                    ctx.merge(row if row["id"] is not None else None, firing)
            ctx.flush()
        full = list(rules) if whole is None else sorted(whole)
        gone = store.unfired_active(table, full) if full else []
        if full:
            store.mark_unfired_verified_cleared(table, full, ctx.at)
        if cleared:
            gone += store.cleared_active(cleared)
            store.mark_cleared_verified(cleared, ctx.at)
        store.resolve_findings([row["id"] for row in gone], ctx.at, SYSTEM, scan_id)      # and their events
        resolved = len(gone)
        store.mark_rules_seen(rules, ctx.at, scan_id)          # after the resolved ones kept their time
        ctx.flush()
        return ReconcileResult(ctx.opened, resolved, ctx.reopened, store.count_active_findings() if count else -1)


def _change_pages(store: FindingRepo, changes: list[dict[str, Any]] | None,
                  existing: bool) -> Iterator[list[dict[str, Any]]]:
    """The fired pairs that open or reopen (`existing`: only those that reopen), CHUNK at a time:
    from `changes` when the caller read them (a few), else from the store's collected ones page by
    page (a first scan: hundreds of thousands, never all in memory)."""
    if changes is not None:
        for start in range(0, len(changes), CHUNK):
            yield changes[start:start + CHUNK]
        return
    last = ""
    while page := store.fired_changes_after(last, CHUNK, existing):
        yield page
        last = page[-1]["fingerprint"]


class _Reconcile:
    """The state of one reconcile: routing cache, pending refreshes and events."""

    def __init__(self, store: FindingRepo, cfg: Config, scan_id: int, now: datetime):
        self.store, self.cfg, self.scan_id, self.now = store, cfg, scan_id, now
        self.at = _iso(now)
        self.opened = self.reopened = 0
        self.touched: list[dict[str, Any]] = []
        self.unchanged: list[int] = []
        self.events: list[dict[str, Any]] = []
        self.routes: dict[tuple[str, str | None, str | None], tuple[str | None, str | None]] = {}
        self.directory = CachedDirectory(store)
        self.new: list[dict[str, Any]] = []

    def route(self, firing: Firing) -> tuple[str | None, str | None]:
        return self.route_of(firing.rule, firing.org, firing.handler)

    def route_of(self, rule: Rule, org: str | None, handler: str | None) -> tuple[str | None, str | None]:
        key = (rule.id, org, handler)
        if key not in self.routes:
            self.routes[key] = assign(self.directory, self.cfg, rule, org, handler)
        return self.routes[key]

    def open_setwise(self, setwise: Setwise) -> None:
        """The new record findings and their open events, set-wise (staged and routed before, or
        here: routed by distinct rule, org and handler)."""
        if not setwise.staged:
            _stage_routed(self.store, setwise, self.route_of)
        self.opened += self.store.open_staged(self.at, self.scan_id)

    def merge(self, row: dict[str, Any] | None, firing: Firing) -> None:
        if row is None:
            self.open_new(firing)
        elif row["status"] in ("resolved", "verified"):
            self.reopen(row, firing)
        elif firing.message is None or (row["message"], row["due_at"], row["severity"]) == (
                firing.message, firing.due_at, firing.rule.severity):
            self.unchanged.append(row["id"])
        else:
            self.touched.append({"id": row["id"], "message": firing.message, "due_at": firing.due_at,
                                 "severity": firing.rule.severity, "at": self.at, "scan_id": self.scan_id})

    def seen(self, firing: Firing) -> dict[str, Any]:
        return {"message": firing.message, "due_at": firing.due_at, "severity": firing.rule.severity,
                "at": self.at, "scan_id": self.scan_id, "data": firing.facts}

    def open_new(self, firing: Firing) -> None:
        """A new finding: inserted with the others at flush()."""
        rule = firing.rule
        assignee, supervisor = self.route(firing)
        self.new.append({
            **self.seen(firing), "fingerprint": firing.fingerprint, "rule": rule.id,
            "clause": rule.clause, "standard": rule.standard, "kind": rule.kind,
            "subject": firing.subject, "subject_kind": firing.subject_kind, "org": firing.org,
            "assignee": assignee, "supervisor": supervisor})
        self.opened += 1

    def reopen(self, row: dict[str, Any], firing: Firing) -> None:
        """A resolved or verified finding fires again: reopen, rebound (§8.4) or 复查后仍存在."""
        action = self.reopen_kind(row)
        counter = {"rebound": "rebound_count", "persist": "persist_count"}.get(action, "reopen_count")
        assignee, supervisor = (row["assignee"], row["supervisor"]) if row["assignee"] else self.route(firing)
        self.store.update_finding(
            row["id"], "open", resolved_at=None, assignee=assignee, supervisor=supervisor,
            message=firing.message, due_at=firing.due_at, severity=firing.rule.severity,
            last_seen_at=self.at, last_scan_id=self.scan_id, data=firing.facts)
        self.store.bump_finding_counter(row["id"], counter)
        data: dict[str, Any] = {"scan_id": self.scan_id}
        if action == "persist":                    # back to the supervisor whose 复查 the data contradicts
            data["verifier"] = self.store.last_event_actor(row["id"], "verify_pass")
        self.event(row["id"], action, row["status"], "open", data)
        self.reopened += 1

    def reopen_kind(self, row: dict[str, Any]) -> str:
        """rebound: verified, seen cleared after that, firing again within the window; persist: verified
        but never seen cleared since (复查后仍存在); otherwise a plain reopen."""
        if row["status"] != "verified" or not row["verified_at"]:
            return "reopen"
        if not row.get("cleared_at") or row["cleared_at"] < row["verified_at"]:
            return "persist"
        window = timedelta(days=self.cfg.findings.rebound_window_days)
        return "rebound" if self.now - datetime.fromisoformat(row["verified_at"]) <= window else "reopen"

    def clear_verified(self, fired: dict[str, Firing], evaluated: Mapping[str, Collection[str] | None]) -> None:
        """Verified findings whose subject this scan evaluated and that did not fire: seen cleared."""
        rows = self.store.verified_uncleared(list(evaluated))
        ids = [r["id"] for r in rows if r["fingerprint"] not in fired
               and ((subjects := evaluated.get(r["rule"])) is None or r["subject"] in subjects)]
        if ids:
            self.store.set_cleared(ids, self.at)

    def resolve(self, known: dict[str, dict[str, Any]], fired: dict[str, Firing],
                evaluated: Mapping[str, Collection[str] | None]) -> int:
        """Resolve the active findings whose subject was evaluated and did not fire."""
        count = 0
        for fp, row in known.items():
            subjects = evaluated.get(row["rule"], ())
            looked = row["rule"] in evaluated and (subjects is None or row["subject"] in subjects)
            if looked and fp not in fired and row["status"] in ACTIVE_STATUSES:
                self.store.update_finding(row["id"], "resolved", resolved_at=self.at)
                self.event(row["id"], "resolve", row["status"], "resolved", {"scan_id": self.scan_id})
                count += 1
        return count

    def event(self, finding_id: int, action: str, from_status: str | None, to_status: str,
              data: dict[str, Any] | None = None) -> None:
        self.events.append(self.event_row(finding_id, action, from_status, to_status, data))

    def event_row(self, finding_id: int, action: str, from_status: str | None, to_status: str,
                  data: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"finding_id": finding_id, "at": self.at, "actor": SYSTEM, "action": action,
                "from_status": from_status, "to_status": to_status, "data": data}

    def flush(self) -> None:
        """Write what was gathered so far (and start gathering anew)."""
        self.insert_new()
        self.store.touch_findings(self.touched)
        self.store.mark_findings_seen(self.unchanged, self.at, self.scan_id)
        self.store.add_events(self.events)
        self.touched, self.unchanged, self.events, self.new = [], [], [], []

    def insert_new(self) -> None:
        """The new findings in one statement, by fingerprint (ids do not depend on the order a store
        returned the firings in: both stores number the same findings alike); their open events go first."""
        self.new.sort(key=lambda row: row["fingerprint"])
        ids = self.store.insert_findings(self.new)
        self.events[:0] = [self.event_row(ids[row["fingerprint"]], "open", None, "open",
                                          {"scan_id": self.scan_id, "assignee": row["assignee"]})
                           for row in self.new]


# ---------------------------------------------------------------- lifecycle (people's side)

def acknowledge(store: FindingRepo, finding_id: FindingId, actor: str, note: str | None = None, *, now: datetime,
                data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The responsible officer confirms they have seen the finding (open | rejected → acknowledged)."""
    return _change(store, finding_id, actor, "ack", now, note=note, data=data)


def submit(store: FindingRepo, finding_id: FindingId, actor: str, note: str | None, evidence: Evidence | None = None, *,
           now: datetime, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rectification (整改) with a note and optional evidence: a file path or (filename, bytes)."""
    if not (note or "").strip():
        raise InputError("提交整改须填写整改说明（DB33/T 2036.7 §8.1：明确改进措施）")
    if evidence is not None:          # who and from which status first: nothing on disk for a refusal
        _may(store, _row(store, finding_id), actor, "submit")
    saved = save_evidence(store, evidence) if evidence is not None else {}
    return _change(store, finding_id, actor, "submit", now, note=note, data=data, **saved)


def verify(store: FindingRepo, finding_id: FindingId, actor: str, passed: bool, note: str | None = None, *,
           now: datetime, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A supervisor's 复查 (DB33/T 2036.7 §8.3): submitted → verified, or rejected with the reason."""
    if not passed and not (note or "").strip():
        raise InputError("复查不通过须说明退回理由（DB33/T 2036.7 §8.3）")
    return _change(store, finding_id, actor, "verify_pass" if passed else "verify_fail", now,
                   note=note, data=data)


def _change(store: FindingRepo, finding_id: FindingId, actor: str, action: str, now: datetime, **event: Any) -> dict[str, Any]:
    """Check who and from which status, then move the finding and write the event, atomically."""
    with store.transaction():
        row = _row(store, finding_id)
        _may(store, row, actor, action)
        sources, target = TRANSITIONS[action]
        at = _iso(now)
        store.update_finding(row["id"], target, **({"verified_at": at, "cleared_at": None} if target == "verified" else {}))
        store.add_events([{"finding_id": row["id"], "at": at, "actor": str(actor), "action": action,
                           "from_status": row["status"], "to_status": target, **event}])
    return get_finding(store, finding_id, now=now)


def _may(store: FindingRepo, row: dict[str, Any], actor: str, action: str) -> None:
    """Forbidden or InvalidTransition unless `actor` may `action` the finding in its status."""
    _authorize(store, row, actor, action)
    sources = TRANSITIONS[action][0]
    if row["status"] not in sources:
        raise InvalidTransition(
            f"发现 #{row['id']} 当前状态为“{STATUS_NAMES[row['status']]}”，不能{ACTION_NAMES[action]}"
            f"（仅限{'、'.join(STATUS_NAMES[s] for s in sources)}状态）")


def _authorize(store: FindingRepo, row: dict[str, Any], actor: str, action: str) -> None:
    scope = Scope.for_officer(store, actor)
    kind = "verify" if action.startswith("verify") else action
    if not scope.can_act(row, kind):
        raise Forbidden(_forbidden_text(scope, row, kind))
    if kind == "verify" and store.last_event_actor(row["id"], "submit") == scope.officer_id:
        raise Forbidden(f"发现 #{row['id']} 的整改由 {scope.officer_id} 本人提交，须由其他监管人员复查"
                        "（DB33/T 2036.7 §8.3）")


def _forbidden_text(scope: Scope, row: dict[str, Any], kind: str) -> str:
    if kind == "verify":
        return f"{scope.officer_id} 无权复查发现 #{row['id']}：仅其所属机构或上级机构的监管人员可复查"
    return f"{scope.officer_id} 无权处理发现 #{row['id']}：工作人员只能处理分派给本人的发现"


def _row(store: FindingRepo, finding_id: FindingId) -> dict[str, Any]:
    try:
        row = store.finding_row(int(finding_id))
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise NotFound(f"未找到编号为 {finding_id} 的发现")
    return row


# ---------------------------------------------------------------- evidence

def save_evidence(store: FindingRepo, evidence: Evidence) -> dict[str, Any]:
    """Store evidence content-addressed in `evidence/` next to the database.

    Returns the event columns: evidence_path (relative to the database folder) and sha256."""
    name, content = _read_evidence(evidence)
    digest = hashlib.sha256(content).hexdigest()
    relative = Path("evidence") / digest[:2] / (digest + Path(name).suffix.lower()[:16])
    target = _db_folder(store) / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(content)
        tmp.replace(target)
    return {"evidence_path": relative.as_posix(), "evidence_sha256": digest}


def _read_evidence(evidence: Evidence) -> tuple[str, bytes]:
    if isinstance(evidence, tuple):
        name, content = evidence
        return str(name), bytes(content)
    try:
        return Path(evidence).name, Path(evidence).read_bytes()
    except OSError as exc:
        raise InputError(f"无法读取整改证据文件 {evidence}：{exc.strerror}") from None


def _db_folder(store: EvidenceRepo) -> Path:
    return store.files_dir


def evidence_file(store: EvidenceRepo, event: dict[str, Any]) -> Path | None:
    """Where an event's evidence is stored, for showing or sending it."""
    return _db_folder(store) / event["evidence_path"] if event.get("evidence_path") else None


# ---------------------------------------------------------------- reminders and escalation

def record_event(store: FindingRepo, finding_id: FindingId, actor: str, action: str, note: str | None = None,
                 data: dict[str, Any] | None = None, *, now: datetime) -> None:
    """Append an audit event that does not change the status (e.g. remind, assign)."""
    with store.transaction():
        row = _row(store, finding_id)
        store.add_events([{"finding_id": row["id"], "at": _iso(now), "actor": str(actor),
                           "action": action, "from_status": row["status"], "to_status": row["status"],
                           "note": note, "data": data}])


def remind(store: FindingRepo, finding_id: FindingId, now: datetime, actor: str = SYSTEM,
           data: dict[str, Any] | None = None) -> None:
    """A rectification reminder went to the assignee: reminded_at and a `remind` event."""
    with store.transaction():
        _row(store, finding_id)
        store.update_finding(int(finding_id), reminded_at=_iso(now))
        record_event(store, finding_id, actor, "remind", data=data, now=now)


def escalate(store: FindingRepo, finding_id: FindingId, level: int, now: datetime, actor: str = SYSTEM) -> None:
    """Raise a finding to its supervisor (level 1) or the parent org's supervisor (level 2)."""
    with store.transaction():
        _row(store, finding_id)
        store.update_finding(int(finding_id), escalation_level=int(level), escalated_at=_iso(now))
        record_event(store, finding_id, actor, "escalate", data={"level": int(level)}, now=now)


# ---------------------------------------------------------------- queries

def list_findings(store: FindingRepo, status: str | Iterable[str] | None = None, rule: str | None = None,
                  org: str | None = None, scope: Scope | None = None, limit: int | None = None, offset: int | None = 0,
                  subject: str | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Findings in the DESIGN.md --json shape (plus a few keys), by id; messages as read at `now`
    (default: the clock).

    status: one status, a comma list, a sequence, or "active"; org: that org and every org below;
    scope: only what that officer may see (None: everything); subject: e.g. one case number."""
    rows = store.query_findings(
        statuses=_statuses(status), rule=rule, orgs=store.org_subtree(org) if org else None, subject=subject,
        limit=limit, offset=offset, **(scope.query_filter() if scope else {}))
    return current_messages(store, rows, now)


# The glossary read back: each status's name (STATUS_NAMES) and the words people use for it.
STATUS_WORDS = {**{name: status for status, name in STATUS_NAMES.items()},
                "未关闭": "active", "未办结": "active", "待办": "active", "全部未关闭": "active",
                "已签收": "acknowledged", "已确认收到": "acknowledged", "待复查": "submitted", "已提交": "submitted",
                "复查未通过": "rejected", "复查未通过待重改": "rejected", "被退回": "rejected", "已关闭": "verified",
                "已通过": "verified", "问题已消除": "resolved"}


def status_of(word: str) -> str:
    """A status as people type it (待处理, 已提交整改, open …) → the status (or `active`)."""
    word = word.strip()
    return STATUS_WORDS.get(word, word.lower())


def _statuses(status: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if not status:
        return None
    names = status.replace("，", ",").split(",") if isinstance(status, str) else list(status)
    names = [status_of(n) for n in names if n.strip()]
    out = [s for n in names for s in (ACTIVE_STATUSES if n == "active" else (n,))]
    bad = [s for s in out if s not in STATUSES]
    if bad:
        raise InputError(f"未知的发现状态 {', '.join(bad)}：应为 "
                         f"{'、'.join(f'{STATUS_NAMES[s]}（{s}）' for s in STATUSES)} 或 未关闭（active）")
    return tuple(out)


def get_finding(store: FindingRepo, finding_id: FindingId, scope: Scope | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """One finding (every column, data as a dict, the message as read at `now`); Forbidden when
    outside the scope."""
    row = _row(store, finding_id)
    if scope is not None and not scope.can_see(row):
        raise Forbidden(f"{scope.officer_id} 无权查看发现 #{row['id']}")
    current_messages(store, [row], now)
    row["data"] = json.loads(row["data"]) if row["data"] else None
    return row


def history(store: FindingRepo, finding_id: FindingId) -> list[dict[str, Any]]:
    """The audit trail of a finding, oldest first."""
    _row(store, finding_id)
    return store.finding_events(int(finding_id))
