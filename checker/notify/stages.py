"""The pipeline's stages after routing. Each has one signature, ``stage(ctx, batch) -> batch``:

    collect     outbox rows due now (pending; a claim past its lease or of a dead worker given back first)
    obsolete    alerts about findings already closed are dropped (kept as `obsolete`)
    silence     rows a silence mutes → `silenced`
    quiet       in quiet hours only red findings go out; the rest wait until the quiet end
    group       rows per recipient → the recipient's channel → digests split under that channel's limits
    dedup       claim the rows of one message (`sending`, a lease); a row sent or held by another worker is not
    deliver     the channel's notifier sends the message
    record      `sent` with the message ref and channel at once; or retry later with back-off (the
                ONLY stage that retries); or `failed` plus a notice to the supervisor; only rows the
                worker still holds (a lapsed claim taken by another worker is that worker's to record)
"""
from __future__ import annotations

import dataclasses
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from .. import redact
from .channels import CHANNEL_NAMES
from .health import ChannelHealth, health_of
from .digest import messages_for, sort_rows
from .model import (ALERT_KINDS, CLOSED, MAX_ATTEMPTS, Ctx, Message, OutboxRepo, PermanentError, RetryableError, Row,
                    officer_name)
from .quiet import in_quiet_hours, quiet_end

INDICATOR_SUBJECT = re.compile(r"^P\d+:[^:]+:[^:]+$")
from .silences import Silencer

log = logging.getLogger(__name__)

Rows = tuple[Row, ...]              # the outbox rows a stage passes on
Messages = tuple[Message, ...]      # the messages (after `group`)


def collect(ctx: Ctx, batch: tuple[()] = ()) -> Rows:
    """The outbox rows due now, after giving back the claims of dead workers and lapsed leases."""
    ctx.stats["reclaimed"] += ctx.store.reap_claims(ctx.cfg.channels.claim_timeout_seconds)
    return tuple(Row.of(r) for r in ctx.store.due_outbox(ctx.now_iso))


def obsolete(ctx: Ctx, batch: Rows) -> Rows:
    """Alerts about a finding that is closed by now are not sent (kept as `obsolete`); nor an indicator
    alert for a period when one for a later period of the same indicator and org is due or was sent;
    nor any row about a finding that no longer exists (deleted or archived around govwatch: the
    outbox has no foreign key to findings, docs/postgresql.md), which is kept as `obsolete` with the reason."""
    status = ctx.store.finding_statuses([r.finding_id for r in batch])
    missing = [r.id for r in batch if r.finding_id is not None and r.finding_id not in status]
    if missing:
        log.warning("outbox rows %s name findings that no longer exist: kept as obsolete, not sent", missing)
    ctx.store.mark_obsolete(missing, "所涉发现已不存在（已被删除或归档），未发送")
    stale = [r.id for r in batch if r.kind in ALERT_KINDS and r.finding_id is not None and status.get(r.finding_id, "") in CLOSED]
    ctx.store.mark_obsolete(stale, "问题已关闭")
    older = _older_periods(ctx, [r for r in batch if r.id not in stale and r.id not in missing])
    ctx.store.mark_obsolete(older, "同一指标已有更新一期的提醒")
    gone = {*missing, *stale, *older}
    return tuple(r for r in batch if r.id not in gone)


def indicator_key(r: Row) -> tuple[tuple[str, Any, str], str] | None:
    """((recipient, rule, indicator:org), period) of an indicator alert (subject "P5:<org>:<period>")."""
    subject = str(r.payload.get("subject") or "")
    if r.kind not in ALERT_KINDS or not INDICATOR_SUBJECT.match(subject):
        return None
    head, period = subject.rsplit(":", 1)
    return (r.recipient, r.payload.get("rule"), head), period


def _older_periods(ctx: Ctx, rows: list[Row]) -> list[int]:
    keyed = [(r, k) for r in rows if (k := indicator_key(r))]
    latest: dict[tuple[str, Any, str], str] = {}       # the rule: a payload value
    for _, (key, period) in keyed:
        latest[key] = max(latest.get(key, ""), period)
    for key in latest:                              # a later period already told stays the latest
        recipient, rule, head = key
        for told in ctx.store.outbox_subjects(recipient, rule, f"{head}:%"):
            latest[key] = max(latest[key], told.rsplit(":", 1)[1])
    return [r.id for r, (key, period) in keyed if period < latest[key]]


def silence(ctx: Ctx, batch: Rows) -> Rows:
    """Rows a silence mutes are kept as `silenced` (never lost, never sent)."""
    silencer = Silencer(ctx.store, ctx.now_iso)
    kept = []
    for r in batch:
        hit = silencer.mutes(r)
        if hit:
            ctx.store.mark_silenced([r.id], hit["id"])
            ctx.stats["silenced"] += 1
        else:
            kept.append(r)
    return tuple(kept)


def quiet(ctx: Ctx, batch: Rows) -> Rows:
    """In quiet hours only red findings go out; the others wait (not_before) until the quiet end."""
    qh = ctx.cfg.telegram.quiet_hours
    local = ctx.now.astimezone(ctx.cfg.tz)
    if not in_quiet_hours(local.time(), qh.start, qh.end):
        return batch
    waiting = [r.id for r in batch if r.severity != "red"]
    ctx.store.defer(waiting, quiet_end(local, qh.end).isoformat(timespec="seconds"))
    ctx.stats["deferred"] += len(waiting)
    return tuple(r for r in batch if r.severity == "red")


def group(ctx: Ctx, batch: Rows) -> Messages:
    """Rows per recipient → that recipient's channel → messages of several findings under its limits.
    A recipient no enabled channel reaches gets a message without a channel, which deliver fails."""
    by_recipient: dict[str, list[Row]] = {}
    for r in sort_rows(batch):
        by_recipient.setdefault(r.recipient, []).append(r)
    per_message = max(1, ctx.cfg.telegram.page_size)
    out: list[Message] = []
    for who, rows in by_recipient.items():
        officer = ctx.store.officer(who) or {"id": who}
        picked = ctx.senders.pick(officer)
        if picked is None:
            first = next(iter(ctx.senders), None)
            if first is None:
                continue
            out.extend(messages_for(first.formatter, who, officer_name(ctx.store, who), rows, per_message,
                                    officer=officer))
            continue
        notifier, address = picked
        out.extend(messages_for(notifier.formatter, who, officer_name(ctx.store, who), rows, per_message,
                                channel=notifier.channel, address=address, officer=officer))
    return tuple(out)


def dedup(ctx: Ctx, batch: Messages) -> Messages:
    """Claim the message's rows (`sending`); a message whose rows are not all claimable waits."""
    out = []
    for m in batch:
        claimed = ctx.store.claim_outbox(m.ids, ctx.now_iso)
        if len(claimed) == len(m.ids):
            out.append(m)
        else:
            ctx.store.release(claimed)
    return tuple(out)


async def deliver(ctx: Ctx, batch: Messages) -> Messages:
    """Send each message through its channel's notifier; the outcome is kept on the message (no retry here)."""
    out = []
    c = ctx.cfg.channels
    for m in batch:
        notifier = ctx.senders.get(m.channel)
        health = health_of(notifier) if notifier is not None else ChannelHealth()
        until = health.blocked_until(m.channel, ctx.now)
        if until is not None:           # its channel is down: wait, without spending an attempt
            out.append(dataclasses.replace(m, error="渠道暂不可用", outage=True,
                                           retry_after=(until - ctx.now).total_seconds()))
            continue
        try:
            if notifier is None:
                raise PermanentError(ctx.senders.unbound())
            # Whatever a message carries (an error text, a rule problem), no secret leaves the process.
            ref = await notifier.send(dataclasses.replace(m, text=redact.text(m.text)))
            health.ok(m.channel, ctx.now)
            out.append(dataclasses.replace(m, ref=str(ref)))
        except RetryableError as exc:
            error = redact.text(exc) or "retry"
            if exc.outage:
                until = health.failed(m.channel, ctx.now, error, c.retry_base_seconds, c.retry_max_seconds)
                out.append(dataclasses.replace(m, error=error, outage=True,
                                               retry_after=max(exc.retry_after or 0, (until - ctx.now).total_seconds())))
            else:
                out.append(dataclasses.replace(m, error=error, retry_after=exc.retry_after))
        except PermanentError as exc:
            out.append(dataclasses.replace(m, error=redact.text(exc) or "permanent", permanent=True))
    return tuple(out)


def record(ctx: Ctx, batch: Messages) -> Messages:
    """Write each outcome: sent with its ref; retry with back-off; or failed and a supervisor notice."""
    for m in batch:
        if m.ref is not None:
            held = ctx.store.mark_sent(m.ids, m.ref, ctx.now_iso, channel=m.channel)
            ctx.stats["sent"] += len(m.rows)
            ctx.stats["messages"] += 1
            if held < len(m.ids):       # the send outlasted the claim and another worker took it over
                ctx.stats["claims_lost"] += len(m.ids) - held
                log.warning("outbox rows %s were sent after their claim lapsed (over %ss); another worker "
                            "sends them again", m.ids, ctx.cfg.channels.claim_timeout_seconds)
        elif m.outage:                  # the channel is down: never `failed` for that, and no attempt spent
            ctx.store.mark_waiting(m.ids, _retry_at(ctx, m).isoformat(timespec="seconds"), _error(m))
            ctx.stats["retried"] += len(m.rows)
        elif not m.permanent and max(r.attempts for r in m.rows) + 1 < MAX_ATTEMPTS:
            ctx.store.mark_retry(m.ids, _retry_at(ctx, m).isoformat(timespec="seconds"), _error(m))
            ctx.stats["retried"] += len(m.rows)
        else:
            ctx.store.mark_failed(m.ids, _error(m))
            ctx.stats["failed"] += len(m.rows)
            _notice(ctx, m)
    return batch


def _error(m: Message) -> str:
    return f"{m.channel}: {m.error}" if m.channel else str(m.error)


def _retry_at(ctx: Ctx, m: Message) -> datetime:
    c = ctx.cfg.channels
    backoff: timedelta = min(timedelta(seconds=c.retry_base_seconds) * (2 ** max(r.attempts for r in m.rows)),
                  timedelta(seconds=c.retry_max_seconds))
    if m.retry_after is not None:
        backoff = timedelta(seconds=m.retry_after)
    return ctx.now.astimezone(ctx.cfg.tz) + backoff


def _notice(ctx: Ctx, m: Message) -> None:
    """Tell the recipient's supervisor that messages could not be delivered (never about a notice)."""
    if any(r.kind in ("notice", "test") for r in m.rows):
        return
    who = _notice_target(ctx.store, m.recipient)
    if not who:
        return
    ids = sorted({r.finding_id for r in m.rows if r.finding_id})
    via = f"经{CHANNEL_NAMES.get(m.channel, m.channel)}" if m.channel else ""
    text = (f"{via}发给 {officer_name(ctx.store, m.recipient)}（{m.recipient}）的 {len(m.rows)} 条通知未能送达"
            f"（{m.error}），涉及问题 {'、'.join(f'#{i}' for i in ids) or '无'}。请当面告知，并核对其消息渠道的绑定。")
    ctx.store.enqueue([{"dedup_key": f"notice:{m.rows[0].id}:{who}", "finding_id": None, "recipient": who,
                        "kind": "notice", "severity": None, "created_at": ctx.now_iso,
                        "payload": {"text": text, "finding_ids": ids}}])


def _notice_target(store: OutboxRepo, officer_id: str) -> str | None:
    officer = store.officer(officer_id)
    if not officer or not officer.get("org"):
        return None
    for org in [officer["org"], *store.org_ancestors(officer["org"])]:
        found = [s for s in store.officers_of(org, "supervisor") if s["id"] != officer_id]
        if found:
            who: str = found[0]["id"]
            return who
    return None
