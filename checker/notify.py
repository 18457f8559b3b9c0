"""The notification pipeline: finding events → outbox → digests → a messenger (Alertmanager-style).

Every stage has one signature, ``stage(ctx, batch) -> batch``:

    route       finding events past the cursor → outbox rows (durable, idempotent by dedup_key)
    collect     outbox rows due now (pending, or left `sending` by a crashed session)
    obsolete    alerts about findings already closed are dropped (kept as `obsolete`)
    silence     rows matching an active silence (rule + org or an ancestor) → `silenced`
    quiet       in quiet hours only red findings go out; the rest wait until the quiet end
    group       rows per recipient → digests, split under 4,096 characters between entries
    dedup       claim the rows of one message (`sending`); a row already `sent` is never sent
    deliver     the Notifier sends the message
    record      `sent` with the message ref at once; or retry later with back-off (the ONLY
                stage that retries); or `failed` plus a notice to the supervisor

Delivery is at least once: a row is `sending` before the network call and `sent` right after,
and rows left `sending` by an earlier session are sent again.
"""
from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import html
import inspect
import json
import logging
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Protocol

from .errors import InputError, NotFound

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096           # Telegram's limit for one text message
MAX_ENTRY_TEXT = 1200        # a finding message longer than this is cut (never mid-tag)
MAX_ATTEMPTS = 8             # then a row is failed and the supervisor gets a notice
IN_FLIGHT = 4                # recipients whose messages are being sent at once
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
ALERT_KINDS = ("new", "reopened", "reminder", "escalation")   # what silences and `obsolete` apply to
CLOSED = ("verified", "resolved")
SEVERITY_ORDER = {"red": 0, "yellow": 1, "blue": 2}
SEVERITY_ICON = {"red": "🔴", "yellow": "🟡", "blue": "🔵"}
SEVERITY_NAME = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}
KIND_LABEL = {"new": "新发现问题", "reopened": "问题再次出现", "reminder": "整改期限提醒",
              "escalation": "问题升级督办", "verify_request": "整改待复查", "rejected": "整改被退回",
              "verified": "整改复查通过", "notice": "通知未能送达", "report": "报表"}

Button = tuple[str, str]          # (label, callback data)


class RetryableError(Exception):
    """The messenger could not take the message now; try again later (after `retry_after` s)."""

    def __init__(self, message: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """The message can never be delivered (user blocked the bot, chat gone, not bound)."""


class Notifier(Protocol):
    async def send(self, chat_id: int | None, text_html: str, buttons: list[list[Button]]) -> str:
        """Send one message; return its reference. Raise RetryableError or PermanentError."""


@dataclass(frozen=True)
class Row:
    """One outbox row: one event told to one recipient."""
    id: int
    recipient: str
    kind: str
    severity: str | None
    finding_id: int | None
    payload: dict
    status: str
    attempts: int

    @classmethod
    def of(cls, r: dict) -> "Row":
        return cls(r["id"], r["recipient"], r["kind"], r["severity"], r["finding_id"],
                   json.loads(r["payload"]), r["status"], r["attempts"])


@dataclass(frozen=True)
class Message:
    """One message to one recipient: the rows it carries, its text and buttons, and its outcome."""
    recipient: str
    rows: tuple[Row, ...]
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    ref: str | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False

    @property
    def ids(self) -> list[int]:
        return [r.id for r in self.rows]


@dataclass
class Ctx:
    store: object
    cfg: object
    notifier: Notifier | None
    now: datetime
    stats: Counter = field(default_factory=Counter)

    @property
    def now_iso(self) -> str:
        return self.now.astimezone(self.cfg.tz).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DeliveryResult:
    routed: int
    sent: int
    messages: int
    retried: int
    failed: int
    silenced: int
    deferred: int


# -- route --------------------------------------------------------------------------------

def route(ctx: Ctx, batch=()):
    """Finding events past the cursor → outbox rows, durably; the cursor moves in the same transaction."""
    while True:
        events = ctx.store.events_after(ctx.store.route_cursor())
        if not events:
            return batch
        rows = [row for ev in events for row in _rows_for_event(ctx, ev)]
        ctx.stats["routed"] += ctx.store.enqueue(rows, cursor=events[-1]["id"])


def _rows_for_event(ctx: Ctx, ev: dict) -> list[dict]:
    payload = {**_payload(ev), "assignee": ev["f_assignee"] or _supervisor(ctx.store, ev)}
    return [{"dedup_key": f"{ev['id']}:{who}", "finding_id": ev["finding_id"], "recipient": who,
             "kind": kind, "severity": ev["f_severity"], "payload": payload, "created_at": ctx.now_iso}
            for who, kind in _recipients(ctx.store, ev)]


def _recipients(store, ev: dict) -> list[tuple[str, str]]:
    """Who is told of an event (docs/ARCHITECTURE.md "Findings ↔ notifications"), deduplicated."""
    action, data = ev["action"], _json(ev["data"])
    assignee = ev["f_assignee"] or _supervisor(store, ev)
    told: list[tuple[str | None, str]] = []
    if action in ("open", "reopen", "rebound", "assign"):
        kind = "new" if action in ("open", "assign") else "reopened"
        told = [(assignee, kind)]
        if (ev["f_escalation_level"] or 0) >= 1:
            told.append((_supervisor(store, ev), kind))
    elif action == "submit":
        told = [(_supervisor(store, ev), "verify_request")]
    elif action in ("verify_fail", "verify_pass", "remind"):
        told = [(assignee, {"verify_fail": "rejected", "verify_pass": "verified", "remind": "reminder"}[action])]
    elif action == "escalate":
        told = [(data.get("to") or _escalation_target(store, ev, data), "escalation")]
    return list(dict.fromkeys((who, kind) for who, kind in told if who))


def _supervisor(store, ev: dict) -> str | None:
    if ev["f_supervisor"]:
        return ev["f_supervisor"]
    found = store.supervisor_for(ev["f_org"]) if ev["f_org"] else None
    return found["id"] if found else None


def _escalation_target(store, ev: dict, data: dict) -> str | None:
    level = data.get("level") or ev["f_escalation_level"] or 1
    if level < 2 or not ev["f_org"]:
        return _supervisor(store, ev)
    parents = store.org_ancestors(ev["f_org"])
    found = store.supervisor_for(parents[0]) if parents else None
    return found["id"] if found else _supervisor(store, ev)


def _payload(ev: dict) -> dict:
    facts = _json(ev["f_data"])
    return {"event_id": ev["id"], "action": ev["action"], "finding_id": ev["finding_id"],
            "rule": ev["f_rule"], "title": facts.get("rule_title"), "clause": ev["f_clause"],
            "standard": ev["f_standard"], "subject": ev["f_subject"], "org": ev["f_org"],
            "severity": ev["f_severity"], "message": ev["f_message"], "due_at": ev["f_due_at"],
            "note": ev["note"], "actor": ev["actor"]}


def _json(text) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- collect, obsolete, silence, quiet hours -------------------------------------------------

def collect(ctx: Ctx, batch=()):
    """The outbox rows due now."""
    return tuple(Row.of(r) for r in ctx.store.due_outbox(ctx.now_iso))


def obsolete(ctx: Ctx, batch):
    """Alerts about a finding that is closed by now are not sent (kept as `obsolete`)."""
    status = ctx.store.finding_statuses([r.finding_id for r in batch])
    stale = [r.id for r in batch if r.kind in ALERT_KINDS and status.get(r.finding_id) in CLOSED]
    ctx.store.mark_obsolete(stale, "问题已关闭")
    return tuple(r for r in batch if r.id not in stale)


def silence(ctx: Ctx, batch):
    """Alerts matching an active silence (rule pattern, org or an ancestor of it) are kept as `silenced`."""
    silences = ctx.store.active_silences(ctx.now_iso)
    kept = []
    for r in batch:
        hit = _silence_for(ctx.store, silences, r) if silences and r.kind in ALERT_KINDS else None
        if hit:
            ctx.store.mark_silenced([r.id], hit["id"])
            ctx.stats["silenced"] += 1
        else:
            kept.append(r)
    return tuple(kept)


def _silence_for(store, silences: list[dict], r: Row) -> dict | None:
    org = r.payload.get("org")
    orgs = {org, *store.org_ancestors(org)} if org else set()
    return next((s for s in silences if fnmatch.fnmatchcase(r.payload.get("rule") or "", s["rule"])
                 and s["org"] in orgs), None)


def quiet(ctx: Ctx, batch):
    """In quiet hours only red findings go out; the others wait (not_before) until the quiet end."""
    qh = ctx.cfg.telegram.quiet_hours
    local = ctx.now.astimezone(ctx.cfg.tz)
    if not in_quiet_hours(local.time(), qh.start, qh.end):
        return batch
    waiting = [r.id for r in batch if r.severity != "red"]
    ctx.store.defer(waiting, quiet_end(local, qh.end).isoformat(timespec="seconds"))
    ctx.stats["deferred"] += len(waiting)
    return tuple(r for r in batch if r.severity == "red")


def in_quiet_hours(t: time, start: str, end: str) -> bool:
    s, e = time.fromisoformat(start), time.fromisoformat(end)
    return (s <= t < e) if s <= e else (t >= s or t < e)


def quiet_end(local: datetime, end: str) -> datetime:
    """The next moment the quiet hours end, after `local`."""
    at = datetime.combine(local.date(), time.fromisoformat(end), tzinfo=local.tzinfo)
    return at if at > local else at + timedelta(days=1)


# -- group into digests -------------------------------------------------------------------

def group(ctx: Ctx, batch):
    """Rows per recipient → messages of several findings, each under 4,096 characters."""
    by_recipient: dict[str, list[Row]] = {}
    for r in sorted(batch, key=lambda r: (SEVERITY_ORDER.get(r.severity, 3), r.id)):
        by_recipient.setdefault(r.recipient, []).append(r)
    per_message = max(1, ctx.cfg.telegram.page_size)
    return tuple(m for who, rows in by_recipient.items()
                 for m in digest_messages(who, _officer_name(ctx.store, who), rows, per_message))


def _officer_name(store, officer_id: str) -> str:
    found = store.officer(officer_id)
    return (found or {}).get("name") or officer_id


def digest_messages(recipient: str, name: str, rows: list[Row], per_message: int) -> list[Message]:
    """Pack entries into messages; a split falls between entries, never inside one."""
    chunks: list[list[Row]] = [[]]
    for r in rows:
        candidate = [*chunks[-1], r]
        if chunks[-1] and (len(candidate) > per_message or _length(digest_text(name, candidate)) > MAX_MESSAGE):
            chunks.append([r])
        else:
            chunks[-1] = candidate
    return [Message(recipient, tuple(c), digest_text(name, c), tuple(_buttons(r) for r in c if _buttons(r)))
            for c in chunks if c]


def _length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units); counting the raw HTML is conservative."""
    return len(text.encode("utf-16-le")) // 2


def digest_text(name: str, rows: list[Row]) -> str:
    head = f"<b>效能监管通知</b>｜{esc(name)}（{len(rows)} 条）"
    return "\n\n".join([head, *(entry_html(r) for r in rows)])


def entry_html(r: Row) -> str:
    """One finding in a message: what happened, the message, the clause it rests on, the deadline."""
    p = r.payload
    if r.kind in ("notice", "report"):
        icon = "⚠️" if r.kind == "notice" else "📊"
        return f"{icon} <b>{esc(p.get('title') or KIND_LABEL[r.kind])}</b>\n{esc(_cut(p.get('text', '')))}"
    icon = SEVERITY_ICON.get(r.severity or "", "•")
    title = f"{KIND_LABEL.get(r.kind, r.kind)} #{p.get('finding_id')}"
    lines = [f"{icon} <b>{esc(title)}</b> {esc(p.get('title') or p.get('rule') or '')}",
             esc(_cut(p.get("message") or "")), f"依据 {esc(p.get('standard'))} §{esc(p.get('clause'))}"]
    if p.get("due_at") and r.kind not in ("verified",):
        lines[-1] += f"｜整改期限 {esc(str(p['due_at'])[:16].replace('T', ' '))}"
    if p.get("note") and r.kind in ("rejected", "verify_request", "verified"):
        lines.append(f"{'退回原因' if r.kind == 'rejected' else '说明'}：{esc(_cut(p['note']))}")
    return "\n".join(lines)


def _buttons(r: Row) -> tuple[Button, ...]:
    """Per finding: the assignee acknowledges or rectifies; a supervisor verifies a submission."""
    fid = r.payload.get("finding_id")
    if r.kind == "verify_request":
        return (("复查通过", f"vp:{fid}"), ("退回", f"vf:{fid}"))
    if r.kind in ("new", "reopened", "reminder", "rejected") and r.recipient == r.payload.get("assignee"):
        return (("确认收到", f"ack:{fid}"), ("提交整改", f"rect:{fid}"))
    return ()


def esc(value) -> str:
    """Escape a value that came from data for Telegram HTML."""
    return html.escape("" if value is None else str(value), quote=False)


def _cut(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_ENTRY_TEXT else text[:MAX_ENTRY_TEXT] + "…"


# -- dedup, deliver, record (one message at a time) ----------------------------------------

def dedup(ctx: Ctx, batch):
    """Claim the message's rows (`sending`); a message whose rows are not all claimable waits."""
    out = []
    for m in batch:
        claimed = ctx.store.claim_outbox(m.ids)
        if len(claimed) == len(m.ids):
            out.append(m)
        else:
            ctx.store.release(claimed)
    return tuple(out)


async def deliver(ctx: Ctx, batch):
    """Send each message through the Notifier; the outcome is kept on the message (no retry here)."""
    out = []
    for m in batch:
        chat_id = (ctx.store.officer(m.recipient) or {}).get("telegram_id")
        try:
            ref = await ctx.notifier.send(chat_id, m.text, [list(b) for b in m.buttons])
            out.append(dataclasses.replace(m, ref=str(ref)))
        except RetryableError as exc:
            out.append(dataclasses.replace(m, error=str(exc) or "retry", retry_after=exc.retry_after))
        except PermanentError as exc:
            out.append(dataclasses.replace(m, error=str(exc) or "permanent", permanent=True))
    return tuple(out)


def record(ctx: Ctx, batch):
    """Write each outcome: sent with its ref; retry with back-off; or failed and a supervisor notice."""
    for m in batch:
        if m.ref is not None:
            ctx.store.mark_sent(m.ids, m.ref, ctx.now_iso)
            ctx.stats["sent"] += len(m.rows)
            ctx.stats["messages"] += 1
        elif not m.permanent and max(r.attempts for r in m.rows) + 1 < MAX_ATTEMPTS:
            ctx.store.mark_retry(m.ids, _retry_at(ctx, m).isoformat(timespec="seconds"), m.error)
            ctx.stats["retried"] += len(m.rows)
        else:
            ctx.store.mark_failed(m.ids, m.error)
            ctx.stats["failed"] += len(m.rows)
            _notice(ctx, m)
    return batch


def _retry_at(ctx: Ctx, m: Message) -> datetime:
    backoff = min(BACKOFF_BASE * (2 ** max(r.attempts for r in m.rows)), BACKOFF_MAX)
    if m.retry_after is not None:
        backoff = timedelta(seconds=m.retry_after)
    return ctx.now.astimezone(ctx.cfg.tz) + backoff


def _notice(ctx: Ctx, m: Message) -> None:
    """Tell the recipient's supervisor that messages could not be delivered (never about a notice)."""
    if any(r.kind == "notice" for r in m.rows):
        return
    who = _notice_target(ctx.store, m.recipient)
    if not who:
        return
    ids = sorted({r.finding_id for r in m.rows if r.finding_id})
    text = (f"发给 {_officer_name(ctx.store, m.recipient)}（{m.recipient}）的 {len(m.rows)} 条通知未能送达"
            f"（{m.error}），涉及问题 {'、'.join(f'#{i}' for i in ids) or '无'}。请当面告知并督促其绑定 Telegram。")
    ctx.store.enqueue([{"dedup_key": f"notice:{m.rows[0].id}:{who}", "finding_id": None, "recipient": who,
                        "kind": "notice", "severity": None, "created_at": ctx.now_iso,
                        "payload": {"text": text, "finding_ids": ids}}])


def _notice_target(store, officer_id: str) -> str | None:
    officer = store.officer(officer_id)
    if not officer or not officer.get("org"):
        return None
    for org in [officer["org"], *store.org_ancestors(officer["org"])]:
        found = [s for s in store.officers_of(org, "supervisor") if s["id"] != officer_id]
        if found:
            return found[0]["id"]
    return None


# -- the chain ----------------------------------------------------------------------------

PREPARE = (route, collect, obsolete, silence, quiet, group)
SEND = (dedup, deliver, record)
_LOCKS: dict[int, asyncio.Lock] = {}


async def run(stages, ctx: Ctx, batch):
    for stage in stages:
        batch = stage(ctx, batch)
        if inspect.isawaitable(batch):
            batch = await batch
    return batch


async def deliver_pending(store, cfg, notifier: Notifier, now: datetime) -> DeliveryResult:
    """Route new finding events and deliver every due outbox row: the scheduler's delivery job."""
    async with _LOCKS.setdefault(id(store), asyncio.Lock()):
        ctx = Ctx(store, cfg, notifier, now)
        await _send_all(ctx, await run(PREPARE, ctx, ()))
        s = ctx.stats
        return DeliveryResult(s["routed"], s["sent"], s["messages"], s["retried"], s["failed"],
                              s["silenced"], s["deferred"])


async def _send_all(ctx: Ctx, messages) -> None:
    """Send the messages, up to IN_FLIGHT recipients at a time, each recipient's in order; every
    message is recorded right after its send, so a crash repeats at most IN_FLIGHT messages. One at
    a time, a message's round trip (not the rate limiter) set the pace."""
    by_recipient: dict[str, list] = {}
    for m in messages:
        by_recipient.setdefault(m.recipient, []).append(m)
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send_in_order(queue):
        async with gate:
            for message in queue:
                await run(SEND, ctx, (message,))
    outcomes = await asyncio.gather(*(send_in_order(q) for q in by_recipient.values()), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def route_now(store, cfg, now: datetime) -> int:
    """Only the route stage (e.g. right after a scan): the number of outbox rows written."""
    ctx = Ctx(store, cfg, None, now)
    route(ctx)
    return ctx.stats["routed"]


# -- recipients, silences and reports (what bot commands and the CLI call) -------------------------

DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def invite(store, cfg, officer_id: str, now: datetime) -> dict:
    """A one-time bind code for an officer, valid `telegram.bind_code_hours`."""
    officer = store.officer(officer_id)
    if officer is None:
        raise NotFound(f"未找到工号为 {officer_id} 的人员")
    code = secrets.token_hex(4).upper()
    expires = now + timedelta(hours=cfg.telegram.bind_code_hours)
    store.add_bind_code(code, officer_id, _iso(now), _iso(expires))
    return {"code": code, "officer": officer, "expires_at": _iso(expires)}


def bind(store, code: str, telegram_id: int, now: datetime) -> dict:
    """Spend a bind code: the Telegram user now receives that officer's notifications."""
    officer_id = store.use_bind_code(code.strip().upper(), int(telegram_id), _iso(now))
    if officer_id is None:
        raise InputError("绑定码无效、已使用或已过期，请向管理员重新索取（govwatch officers invite）")
    return store.officer(officer_id)


def add_silence(store, rule: str, org: str, duration: str, reason: str, by: str, now: datetime) -> dict:
    """Silence alerts of a rule (or a pattern like db33.case.*) for an org and every org below it."""
    if store.get("orgs", org) is None:
        raise NotFound(f"未找到机构 {org}")
    if not reason.strip():
        raise InputError("静默须说明原因")
    ends = now + parse_duration(duration)
    sid = store.add_silence(rule, org, _iso(now), _iso(ends), reason, by)
    return {"id": sid, "rule": rule, "org": org, "ends_at": _iso(ends)}


def remove_silence(store, silence_id: int, by: str, now: datetime) -> None:
    if not store.remove_silence(int(silence_id), _iso(now)):
        raise NotFound(f"未找到生效中的静默 #{silence_id}")
    log.info("silence %s removed by %s", silence_id, by)


def parse_duration(text: str) -> timedelta:
    """30m, 12h, 3d, 2w → a timedelta (at most a year)."""
    unit, number = text[-1:].lower(), text[:-1]
    if unit not in DURATION_UNITS or not number.isdigit() or int(number) <= 0:
        raise InputError(f"无法识别的时长 {text!r}：应为 30m、12h、3d 或 2w 这样的形式")
    value = timedelta(**{DURATION_UNITS[unit]: int(number)})
    if value > timedelta(days=366):
        raise InputError("静默时长不能超过一年")
    return value


def announce_report(store, cfg, kind: str, period, result, now: datetime) -> int:
    """Tell every supervisor and admin that a report was written (an outbox row each, once)."""
    people = store.rows("SELECT id FROM officers WHERE role IN ('supervisor', 'admin') ORDER BY id")
    text = f"{period.label}{REPORT_NAMES.get(kind, kind)}已生成：{getattr(result, 'html_path', '')}"
    rows = [{"dedup_key": f"report:{kind}:{period.code}:{p['id']}", "finding_id": None, "recipient": p["id"],
             "kind": "report", "severity": None, "created_at": _iso(now),
             "payload": {"text": text, "kind": kind, "period": period.code}} for p in people]
    return store.enqueue(rows)


REPORT_NAMES = {"daily": "日扫描报表", "weekly": "周调度报表", "monthly": "月通报",
                "quarterly": "季分析报告", "annual": "年考评报告"}


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


class ConsoleNotifier:
    """Prints what would be sent (no Telegram token): `govwatch serve` without a bot."""

    def __init__(self, stream=None):
        self.stream = stream
        self.count = 0

    async def send(self, chat_id, text_html, buttons) -> str:
        import sys
        self.count += 1
        labels = " ".join(f"[{label}]" for row in buttons for label, _ in row)
        print(f"── 通知 → chat {chat_id or '(未绑定)'}\n{text_html}\n{labels}".rstrip(),
              file=self.stream or sys.stdout, flush=True)
        return f"console:{self.count}"
