"""Per channel: up, or down since when (issue 12 item 7).

A channel is down when a send fails for the channel as a whole (network unreachable, 5xx, a token
the messenger rejects: RetryableError with `outage=True`). While it is down its messages wait in the
outbox, unclaimed attempts are given back (an outage never turns a message into `failed`), and the
channel is tried again after a back-off that doubles up to `retry_max_seconds`. One log line when a
channel goes down, one when it is back: never a line per message or per try.
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from .. import redact

log = logging.getLogger(__name__)


@dataclass
class _State:
    since: datetime
    failures: int
    next_try: datetime
    reason: str


class ChannelHealth:
    def __init__(self) -> None:
        self._down: dict[str, _State] = {}

    def blocked_until(self, channel: str | None, now: datetime) -> datetime | None:
        """When a down channel may be tried again, or None when it may be tried now."""
        state = self._down.get(channel or "")
        return state.next_try if state is not None and now < state.next_try else None

    def failed(self, channel: str | None, now: datetime, reason: str, base: float, cap: float) -> datetime:
        """Note a channel-wide failure; the time of the next try."""
        key = channel or ""
        state = self._down.get(key)
        failures = state.failures + 1 if state else 1
        wait = timedelta(seconds=min(base * 2 ** (failures - 1), cap))
        if state is None:
            log.warning("channel %s is unavailable (%s): messages stay queued and are sent when it is back",
                        key, redact.text(reason))
        self._down[key] = _State(state.since if state else now, failures, now + wait, reason)
        return now + wait

    def ok(self, channel: str | None, now: datetime) -> None:
        state = self._down.pop(channel or "", None)
        if state is not None:
            log.info("channel %s is back after %s (%d tries): sending the queued messages",
                     channel, str(now - state.since).split(".")[0], state.failures)

    def is_down(self, channel: str | None) -> bool:
        return (channel or "") in self._down


_HEALTH: "weakref.WeakKeyDictionary[object, ChannelHealth]" = weakref.WeakKeyDictionary()


def health_of(notifier: object) -> ChannelHealth:
    """The health of a notifier (one per notifier object: `serve` keeps its notifiers for its lifetime)."""
    found = _HEALTH.get(notifier)
    if found is None:
        found = _HEALTH[notifier] = ChannelHealth()
    return found
