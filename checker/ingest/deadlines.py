"""A case's deadline (due_at), computed at import (DESIGN.md "Working days").

promised_at when the row has it; else the item's promised_days (fallback statutory_days) in
working days from acceptance, moved by suspended_days and extended_days; a 即办件 is due at the end
of its acceptance day. One calendar per hall; results are memoised by acceptance day, since the
deadline depends only on the local date.
"""
from __future__ import annotations

from datetime import datetime

from ..calendar import WorkCalendar


class Deadlines:
    def __init__(self, cfg, items: dict):
        self.cfg = cfg
        self.items = items
        self._calendars: dict[str | None, WorkCalendar] = {}
        self._memo: dict[tuple, str] = {}

    def calendar(self, hall: str | None) -> WorkCalendar:
        key = hall if hall in self.cfg.calendar.halls else None
        if key not in self._calendars:
            self._calendars[key] = WorkCalendar.from_config(self.cfg.calendar, self.cfg.tz, hall=key)
        return self._calendars[key]

    def due(self, case: dict) -> str | None:
        if case.get("promised_at"):
            return case["promised_at"]
        facts = self.items.get(case["item_code"])
        if facts is None:
            return None
        immediate, promised, statutory = facts
        days = promised if promised is not None else statutory
        if days is None and not immediate:
            return None
        hall = case.get("hall") if case.get("hall") in self.cfg.calendar.halls else None
        key = (hall, case["accepted_at"][:10], days or 0, case.get("suspended_days") or 0,
               case.get("extended_days") or 0, bool(immediate))
        if key not in self._memo:
            self._memo[key] = self._compute(hall, case["accepted_at"], *key[2:])
        return self._memo[key]

    def _compute(self, hall, accepted_at: str, days, suspended, extended, immediate) -> str:
        cal = self.calendar(hall)
        return cal.deadline(datetime.fromisoformat(accepted_at), days, suspended, extended,
                            immediate=immediate).isoformat()
