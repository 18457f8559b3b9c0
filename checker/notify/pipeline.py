"""The chain (Alertmanager's PipelineBuilder): PREPARE runs once per delivery run, SEND once per message.

Delivery is at least once per channel: a row is `sending` before the network call and `sent` (with
its channel and message ref) right after; a claim is a lease, so rows left `sending` by a dead worker
(at once) or held past `channels.claim_timeout_seconds` (a stalled one) are sent again by another.
"""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Awaitable, Callable, Sequence, Union

from ..config import Config
from .channels import Channels
from .model import IN_FLIGHT, Ctx, DeliveryResult, Message, Notifier, OutboxRepo
from .route import route
from .stages import collect, dedup, deliver, group, obsolete, quiet, record, silence

# Each stage's batch is its own (route: nothing; collect … group: outbox rows; group … record: messages).
Batch = tuple[Any, ...]
Stage = Callable[[Ctx, Batch], Union[Batch, Awaitable[Batch]]]

PREPARE: tuple[Stage, ...] = (route, collect, obsolete, silence, quiet, group)
SEND: tuple[Stage, ...] = (dedup, deliver, record)
_LOCKS: dict[int, asyncio.Lock] = {}


async def run(stages: Sequence[Stage], ctx: Ctx, batch: Batch) -> Batch:
    for stage in stages:
        out = stage(ctx, batch)
        batch = out if isinstance(out, tuple) else await out
    return batch


async def deliver_pending(store: OutboxRepo, cfg: Config,
                          channels: Channels | list[Notifier] | tuple[Notifier, ...] | Notifier | None,
                          now: datetime) -> DeliveryResult:
    """Route new finding events and deliver every due outbox row on each recipient's channel: the
    scheduler's delivery job. `channels`: a Channels, a list of notifiers in order, or one notifier."""
    async with _LOCKS.setdefault(id(store), asyncio.Lock()):
        ctx = Ctx(store, cfg, Channels.of(channels), now)
        await _send_all(ctx, await run(PREPARE, ctx, ()))
        s = ctx.stats
        return DeliveryResult(s["routed"], s["sent"], s["messages"], s["retried"], s["failed"],
                              s["silenced"], s["deferred"], s["reclaimed"], s["claims_lost"])


async def _send_all(ctx: Ctx, messages: Sequence[Message]) -> None:
    """Send the messages, up to IN_FLIGHT recipients at a time, each recipient's in order; every
    message is recorded right after its send, so a crash repeats at most IN_FLIGHT messages."""
    by_recipient: dict[str, list[Message]] = {}
    for m in messages:
        by_recipient.setdefault(m.recipient, []).append(m)
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send_in_order(queue: list[Message]) -> None:
        async with gate:
            for message in queue:
                await run(SEND, ctx, (message,))
    outcomes = await asyncio.gather(*(send_in_order(q) for q in by_recipient.values()), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def route_now(store: OutboxRepo, cfg: Config, now: datetime) -> int:
    """Only the route stage (e.g. right after a scan): the number of outbox rows written."""
    ctx = Ctx(store, cfg, None, now)
    route(ctx)
    return ctx.stats["routed"]
