"""Quiet hours: only red findings go out between start and end (a window may wrap midnight)."""
from __future__ import annotations

from datetime import datetime, time, timedelta


def in_quiet_hours(t: time, start: str, end: str) -> bool:
    s, e = time.fromisoformat(start), time.fromisoformat(end)
    return (s <= t < e) if s <= e else (t >= s or t < e)


def quiet_end(local: datetime, end: str) -> datetime:
    """The next moment the quiet hours end, after `local`."""
    at = datetime.combine(local.date(), time.fromisoformat(end), tzinfo=local.tzinfo)
    return at if at > local else at + timedelta(days=1)
