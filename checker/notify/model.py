"""What flows through the notification pipeline: outbox rows, neutral entries, messages, outcomes.

Nothing here knows a messenger. A channel's formatter (bot/notifiers/) turns `Entry` data into its
own markup and splits digests under its limits; its notifier sends a `Message` and maps the
channel's errors to `RetryableError` (try later) or `PermanentError` (never).
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Collection, Iterable, Protocol, Sequence

from ..config import Config
from ..findings.repo import EvidenceRepo, MessageRepo

if TYPE_CHECKING:
    from .channels import Channels

MAX_ATTEMPTS = 8             # then a row is failed and the supervisor gets a notice
IN_FLIGHT = 4                # recipients whose messages are being sent at once
ALERT_KINDS = ("new", "reopened", "reminder", "escalation", "backlog")   # what silences and `obsolete` apply to
CLOSED = ("verified", "resolved")
SEVERITY_ORDER = {"red": 0, "yellow": 1, "blue": 2}
SEVERITY_ICON = {"red": "🔴", "yellow": "🟡", "blue": "🔵"}
SEVERITY_NAME = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}
KIND_LABEL = {"new": "新发现问题", "reopened": "问题再次出现", "persisted": "复查后仍存在", "reminder": "整改期限提醒",
              "escalation": "问题升级督办", "verify_request": "整改待复查", "rejected": "整改被退回",
              "verified": "整改复查通过", "notice": "通知未能送达", "report": "报表", "test": "渠道测试",
              "backlog": "待办问题"}
MAX_ENTRY_TEXT = 1200        # a finding message longer than this is cut

Button = tuple[str, str]          # (label, action data such as "ack:68")

# The actions a message offers on a finding, by verb: what the button (or the text command on a
# channel without buttons) says, followed by the finding's number (确认收到 #68), so that under a
# digest of ten entries every button names its own. The verbs are the Telegram callback prefixes.
ACTIONS = {"ack": "确认收到", "rect": "提交整改", "vp": "复查通过", "vf": "退回", "hist": "历史", "ev": "证据"}
ACTION_WORDS = {"ack": "确认", "rect": "整改", "vp": "通过", "vf": "退回", "hist": "历史", "ev": "证据"}  # "确认 68"


class RetryableError(Exception):
    """The messenger could not take the message now; try again later (after `retry_after` s)."""

    def __init__(self, message: str = "", retry_after: float | None = None, outage: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.outage = outage          # the channel as a whole is unavailable (network, 5xx, token refused)


class PermanentError(Exception):
    """The message can never be delivered (user blocked the bot, unknown user id, not bound)."""


@dataclass(frozen=True)
class Row:
    """One outbox row: one event told to one recipient."""
    id: int
    recipient: str
    kind: str
    severity: str | None
    finding_id: int | None
    payload: dict[str, Any]
    status: str
    attempts: int

    @classmethod
    def of(cls, r: dict[str, Any]) -> "Row":
        return cls(r["id"], r["recipient"], r["kind"], r["severity"], r["finding_id"],
                   json.loads(r["payload"]), r["status"], r["attempts"])


@dataclass(frozen=True)
class Entry:
    """One row as any channel shows it: plain text fields (never markup) and the actions offered."""
    kind: str
    severity: str | None
    finding_id: int | None
    heading: str                 # 新发现问题 #68 / the notice's title
    title: str                   # the rule's title
    text: str                    # the finding's message or the notice's text
    basis: str | None            # DB33/T 2036.7 §5.2.1.5
    due: str | None              # 2026-10-20 23:59
    note_label: str | None       # 退回原因 / 说明
    note: str | None
    actions: tuple[Button, ...]
    rule: str | None = None
    clause: str | None = None
    standard: str | None = None
    subject: str | None = None
    org: str | None = None
    details: tuple[str, ...] = ()     # more plain lines: the evidence, what the latest scan says

    @property
    def icon(self) -> str:
        if self.kind == "notice":
            return "⚠️"
        if self.kind == "report":
            return "📊"
        return SEVERITY_ICON.get(self.severity or "", "•")

    @classmethod
    def of(cls, r: Row) -> "Entry":
        p = r.payload
        if r.kind in ("notice", "report", "test"):
            return cls(r.kind, r.severity, r.finding_id, p.get("title") or KIND_LABEL[r.kind], "",
                       cut(p.get("text", "")), None, None, None, None, ())
        due = str(p["due_at"])[:16].replace("T", " ") if p.get("due_at") and r.kind != "verified" else None
        note_label = note = None
        if p.get("note") and r.kind in ("rejected", "verify_request", "verified"):
            note_label, note = ("退回原因" if r.kind == "rejected" else "说明"), cut(p["note"])
        details: tuple[str, ...] = ()
        if r.kind == "verify_request":
            details = tuple(x for x in (f"证据：{p['evidence']}" if p.get("evidence") else "证据：未提供",
                                        p.get("scan_state")) if x)
        return cls(r.kind, r.severity, r.finding_id, f"{KIND_LABEL.get(r.kind, r.kind)} #{p.get('finding_id')}",
                   p.get("title") or p.get("rule") or "", cut(p.get("message") or ""),
                   _basis(r.kind, p), due, note_label, note, actions_for(r),
                   p.get("rule"), p.get("clause"), p.get("standard"), p.get("subject"), p.get("org"), details)


MERGED_KINDS = ("new", "reopened", "reminder", "backlog")


def units(rows: Iterable[Row]) -> list[tuple[tuple[Row, ...], Entry]]:
    """The entries a recipient's rows make, each with its rows: one per real-world subject (an overdue
    case that breaks a DB33 and a DB50 clause is one entry citing both), and all escalations
    (问题升级督办) as one summary entry, first."""
    rows = list(rows)
    escalations = tuple(r for r in rows if r.kind == "escalation")
    subjects: dict[object, list[Row]] = {}       # (kind, subject), or the row's id
    for r in rows:
        if r.kind != "escalation":
            key = (r.kind, r.payload.get("subject")) if r.kind in MERGED_KINDS and r.payload.get("subject") else r.id
            subjects.setdefault(key, []).append(r)
    rest = [(tuple(rs), Entry.of(rs[0]) if len(rs) == 1 else merged(rs)) for rs in subjects.values()]
    return ([(escalations, escalation_summary(escalations))] if escalations else []) + rest


def merged(rows: list[Row]) -> Entry:
    """One entry for several findings on the same subject (rules of different packs): every clause
    cited, the first message, the earliest deadline; each action acts on all of them."""
    entries = [Entry.of(r) for r in rows]
    first = entries[0]
    ids = [e.finding_id for e in entries]
    numbers = "、".join(f"#{i}" for i in ids)
    verbs = [data.split(":", 1)[0] for _, data in first.actions
             if all(any(d.split(":", 1)[0] == data.split(":", 1)[0] for _, d in e.actions) for e in entries)]
    actions = tuple((f"{ACTIONS[v]} {numbers}", f"{v}:{','.join(map(str, ids))}") for v in verbs)
    titles = "；".join(dict.fromkeys(e.title for e in entries if e.title))
    basis = "；".join(dict.fromkeys(e.basis for e in entries if e.basis))
    due = min((e.due for e in entries if e.due), default=None)
    severity = min((e.severity for e in entries), key=lambda s: SEVERITY_ORDER.get(s or "", 3))
    return dataclasses.replace(first, severity=severity, heading=f"{KIND_LABEL.get(first.kind, first.kind)} {numbers}",
                               title=titles, basis=basis, due=due, actions=actions)


def escalation_summary(rows: Sequence[Row]) -> Entry:
    """One entry for a supervisor's escalations: counts by responsible officer and by clause, the worst
    first, the longest overdue named; details on request (/escalations)."""
    def days(r: Row) -> int:
        return r.payload.get("overdue_days") or 0
    worst_first = sorted(rows, key=lambda r: (-days(r), SEVERITY_ORDER.get(r.severity or "", 3), r.id))
    officers: dict[str, list[Row]] = {}
    clauses: Counter[str] = Counter()
    for r in worst_first:
        officers.setdefault(r.payload.get("assignee_name") or r.payload.get("assignee") or "未指定", []).append(r)
        clauses[f"{r.payload.get('standard')} §{r.payload.get('clause')}"] += 1
    by_officer = "；".join(f"{name} {len(rs)} 条（最长超期 {days(rs[0])} 个工作日）" for name, rs in officers.items())
    by_clause = "；".join(f"{c} {n} 条" for c, n in clauses.most_common())
    worst = [f"#{r.finding_id} {r.payload.get('assignee_name') or r.payload.get('assignee') or ''} 超期 {days(r)} 个工作日："
             f"{r.payload.get('title') or r.payload.get('rule')}（{r.payload.get('subject')}）" for r in worst_first[:3]]
    text = "\n".join([f"按责任人：{by_officer}", f"按条款：{by_clause}", "最需督办：", *worst,
                      "发送 /escalations 查看全部明细。"])
    severity = worst_first[0].severity if worst_first else None
    actions = (("查看明细", "pg:esc::0"), *((f"历史 #{r.finding_id}", f"hist:{r.finding_id}") for r in worst_first[:3]))
    return Entry("escalation", severity, None, f"问题升级督办汇总（{len(rows)} 条）", "", cut(text, 3000), None,
                 None, None, None, actions)


RECTIFY_LIMIT_CLAUSE = "DB33/T 2036.7 §8.1"      # 按照监督评价结果提出改进目标、措施、时限


def _basis(kind: str, p: dict[str, Any]) -> str:
    """The clause a message cites: a rectification deadline reminder cites §8.1 (改进时限) before the rule's."""
    rule = f"{p.get('standard')} §{p.get('clause')}"
    return f"{RECTIFY_LIMIT_CLAUSE} 整改时限；问题依据 {rule}" if kind == "reminder" else rule


def actions_for(r: Row) -> tuple[Button, ...]:
    """Per finding: the assignee acknowledges or rectifies; a supervisor verifies a submission."""
    fid = r.payload.get("finding_id")
    if r.kind == "verify_request":
        verbs = ("vp", "vf", "hist", *(("ev",) if r.payload.get("evidence") else ()))
    elif r.kind in ("new", "reopened", "reminder", "rejected", "backlog") and r.recipient == r.payload.get("assignee"):
        verbs = ("ack", "rect")
    else:
        return ()
    return tuple((f"{ACTIONS[v]} #{fid}", f"{v}:{fid}") for v in verbs)


def cut(text: object, limit: int = MAX_ENTRY_TEXT) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class Message:
    """One message to one recipient on one channel: the rows it carries, its text and buttons in
    that channel's markup, and its outcome."""
    recipient: str
    rows: tuple[Row, ...]
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    channel: str | None = None           # None: the recipient has no id on any enabled channel
    address: str | int | None = None     # the recipient's id on that channel
    officer: dict[str, Any] = field(default_factory=dict, compare=False)
    ref: str | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False
    outage: bool = False                 # not sent because its channel is down: the attempt is given back

    @property
    def ids(self) -> list[int]:
        return [r.id for r in self.rows]

    @property
    def entries(self) -> list[Entry]:
        return [entry for _, entry in units(self.rows)]


class Formatter(Protocol):
    """A channel's markup and limits (bot/notifiers/*): renders entries, never splits inside one."""
    max_length: int

    def length(self, text: str) -> int:
        """The text's length as the channel counts it (characters, UTF-16 units, bytes)."""

    def digest(self, name: str, entries: Sequence[Entry]) -> str:
        """The text of one message of a digest to `name`."""

    def buttons(self, entries: Sequence[Entry]) -> tuple[tuple[Button, ...], ...]:
        """Buttons sent beside the text (empty where the channel puts its actions in the text)."""


class Notifier(Protocol):
    """One channel: whom it can reach, how it formats, and sending one message."""
    channel: str
    formatter: Formatter

    def address(self, officer: dict[str, Any]) -> str | int | None:
        """The officer's id on this channel, or None when they have none."""

    async def send(self, message: Message) -> str:
        """Send one message; return its reference. Raise RetryableError or PermanentError."""


class OutboxRepo(MessageRepo, EvidenceRepo, Protocol):
    """What the notification pipeline (checker.notify: route, stages, pipeline) calls on the store through
    Ctx.store: events past the route cursor, the outbox rows and their outcomes, who an officer is, the
    messages as read now and what a 复查 request shows (MessageRepo, EvidenceRepo)."""
    def claim_outbox(self, ids: list[int], now: str | None = None) -> list[int]: ...
    def defer(self, ids: Collection[int], not_before: str) -> None: ...
    def due_outbox(self, now: str, limit: int = 1000) -> list[dict[str, Any]]: ...
    def enqueue(self, rows: list[dict[str, Any]], cursor: int | None = None) -> int: ...
    def events_after(self, cursor: int, limit: int = 500) -> list[dict[str, Any]]: ...
    def finding_row(self, finding_id: int) -> dict[str, Any] | None: ...
    def finding_statuses(self, ids: Iterable[int | None]) -> dict[int, str]: ...
    def mark_failed(self, ids: Collection[int], error: str) -> int: ...
    def mark_obsolete(self, ids: Collection[int], reason: str) -> None: ...
    def mark_retry(self, ids: Collection[int], not_before: str, error: str) -> int: ...
    def mark_sent(self, ids: Collection[int], ref: str, now: str, channel: str | None = None) -> int: ...
    def mark_silenced(self, ids: Collection[int], silence_id: int) -> None: ...
    def mark_waiting(self, ids: Collection[int], not_before: str, error: str) -> int: ...
    def officer(self, officer_id: str) -> dict[str, Any] | None: ...
    def officers_of(self, org: str, role: str | None = None) -> list[dict[str, Any]]: ...
    def org_ancestors(self, code: str) -> list[str]: ...
    def active_silences(self, now: str) -> list[dict[str, Any]]: ...
    def outbox_subjects(self, recipient: str, rule: str, like: str) -> list[str]: ...
    def reap_claims(self, timeout: float) -> int: ...
    def release(self, ids: Collection[int]) -> int: ...
    def route_cursor(self) -> int: ...
    def supervisor_for(self, org: str) -> dict[str, Any] | None: ...


@dataclass
class Ctx:
    store: OutboxRepo
    cfg: Config
    channels: Channels | None
    now: datetime
    stats: Counter[str] = field(default_factory=Counter)

    @property
    def now_iso(self) -> str:
        return self.now.astimezone(self.cfg.tz).isoformat(timespec="seconds")

    @property
    def senders(self) -> Channels:
        """The channels of a sending run (a route-only run has none, and runs no send stage)."""
        if self.channels is None:
            raise RuntimeError("a send stage ran without channels")
        return self.channels


@dataclass(frozen=True)
class DeliveryResult:
    routed: int
    sent: int
    messages: int
    retried: int
    failed: int
    silenced: int
    deferred: int
    reclaimed: int = 0           # rows given back from a dead worker's or a lapsed claim, to send again
    claims_lost: int = 0         # rows this run sent after its claim lapsed and another worker took them


def parse_json(text: str | bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def officer_name(store: OutboxRepo, officer_id: str) -> str:
    found = store.officer(officer_id)
    return (found or {}).get("name") or officer_id
