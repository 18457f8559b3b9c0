"""The `workdays` table: working-day ordinals per calendar (the global one and each hall with days of
its own), built from checker.calendar for the years the data and `now` touch, and the cases'
deadlines kept in step with it (checker.ingest.deadlines).

`ensure` is called by the import (after cases) and by every scan: cheap when nothing changed (two
indexed min/max lookups per record kind); it rebuilds the table when the calendar config changed or
the data reached a year the table lacks, and then recomputes every deadline.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

import holidays

from ..calendar import (
    TABLE_FIRST_YEAR as FIRST_YEAR,
    TABLE_LAST_YEAR as LAST_YEAR,
    WorkCalendar,
    ordinal_rows,
)
from ..config import Config
from . import deadlines


class WorkdaysRepo(deadlines.DeadlineRepo, Protocol):
    """What `ensure` and `cover` call on the store: the table's state, the records' date bounds and
    longest terms since a change, the table's rows, and the deadlines (DeadlineRepo)."""
    def workdays_state(self) -> dict[str, Any] | None: ...
    def current_seq(self) -> int: ...
    def date_bounds(self, since_seq: int = 0) -> tuple[str | None, str | None]: ...
    def longest_term(self, since_seq: int = 0) -> int: ...
    def transaction(self) -> AbstractContextManager[Any]: ...
    def set_workdays_seq(self, seq: int) -> None: ...
    def replace_workdays(self, state: dict[str, Any], calendars: dict[str, list[tuple[Any, ...]]]) -> None: ...

WORKING_DAYS_A_YEAR = 240          # a lower bound, for how many years a term of N working days spans


@dataclass(frozen=True)
class Coverage:
    first: str            # YYYY-MM-DD, the table's first day
    last: str             # its last day


def signature(cfg: Config) -> str:
    cal = cfg.calendar
    halls = {h: [sorted(map(str, c.extra_holidays)), sorted(map(str, c.extra_workdays))] for h, c in cal.halls.items()}
    text = json.dumps([str(cfg.tz), sorted(map(str, cal.extra_holidays)), sorted(map(str, cal.extra_workdays)),
                       halls, holidays.__version__], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure(store: WorkdaysRepo, cfg: Config, now: datetime | None = None, fresh_seq: int | None = None) -> Coverage:
    """Make the table cover what the records and `now` need, and the deadlines current. The cases of
    change `fresh_seq` (a bulk import's fast path, after `cover`) already hold their deadline: they
    are not recomputed unless the table is rebuilt."""
    state, sig = store.workdays_state() or {}, signature(cfg)
    same = bool(state) and state.get("signature") == sig
    since = state["seq"] + 1 if same else 0
    seq = store.current_seq()
    lo, hi = store.date_bounds(since) if since <= seq else (None, None)        # nothing changed: only `now`
    years = [y for y in (_year(lo), _year(hi), now.astimezone(cfg.tz).year if now else None) if y]
    first, last = FIRST_YEAR, FIRST_YEAR
    if years:
        first = _clamp(min(years) - 1)
        last = _clamp(max(years) + 1 + (store.longest_term(since) if since <= seq else 0) // WORKING_DAYS_A_YEAR)
    if same:
        first, last = min(first, state["first"]), max(last, state["last"])
    rebuilt = not (same and state["first"] <= first and last <= state["last"])
    if rebuilt:
        _rebuild(store, cfg, sig, first, last, seq)
    if rebuilt or since <= seq:
        with store.transaction():
            deadlines.refresh(store, 0 if rebuilt else since, None if rebuilt else fresh_seq)
            store.set_workdays_seq(seq)
    return Coverage(f"{first:04d}-01-01", f"{last:04d}-12-31")


def cover(store: WorkdaysRepo, cfg: Config, first_day: str, last_day: str | None, shift: int) -> None:
    """Before a bulk import computes the deadlines of cases accepted from `first_day` to `last_day`
    (promised up to `last_day`, moved by up to `shift` working days) in its INSERT: make the table
    cover them, rebuilding it (and recomputing every deadline) when it does not. The deadlines'
    change counter stays where it was: `ensure` after the import refreshes the rows still to come."""
    state, sig = store.workdays_state() or {}, signature(cfg)
    same = bool(state) and state.get("signature") == sig
    years = [y for y in (_year(first_day), _year(last_day)) if y]
    if not years:
        return
    first = _clamp(min(years) - 1)
    # the batch's own cases (their longest shift given) need the items' terms; the rows written around
    # the store (stamped above the current change) get their deadlines from `ensure` after the import
    last = _clamp(max(years) + 1 + (store.longest_term(store.current_seq() + 2) + shift) // WORKING_DAYS_A_YEAR)
    if same and state["first"] <= first and last <= state["last"]:
        return
    if same:
        first, last = min(first, state["first"]), max(last, state["last"])
    _rebuild(store, cfg, sig, first, last, state["seq"] if same else 0)
    with store.transaction():
        deadlines.refresh(store, 0)


def _rebuild(store: WorkdaysRepo, cfg: Config, sig: str, first: int, last: int, seq: int) -> None:
    calendars = {"": ordinal_rows(WorkCalendar.from_config(cfg.calendar, cfg.tz), first, last)}
    for hall in cfg.calendar.halls:
        calendars[hall] = ordinal_rows(WorkCalendar.from_config(cfg.calendar, cfg.tz, hall), first, last)
    store.replace_workdays({"signature": sig, "first": first, "last": last, "seq": seq}, calendars)


def _year(day: str | None) -> int | None:
    try:
        return int(str(day)[:4]) if day else None
    except ValueError:
        return None


def _clamp(year: int) -> int:
    return max(FIRST_YEAR, min(LAST_YEAR, year))
