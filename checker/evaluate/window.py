"""Which rows a clock move can flip: the narrowing of an incremental scan's evaluation at two clocks.

An incremental scan (checker.evaluate.scan) evaluates a record rule's condition at the previous
scan's `now` and at this one, on the rows whose truth differs. A condition's truth can differ only
where one of its leaves that read the clock has a different value at the two clocks (the other
leaves read the same row at both). For each such leaf the derived field's `Moves`
(checker.ingest.derived) says which values of one stored column can make it differ, so the rows
to evaluate are those whose column lies in one of these ranges — an index range (the open cases
due between the two clocks' thresholds) instead of every live row computed twice.

A range is a superset of the rows that can flip: the exact test stays the condition at both clocks.
`None` (no narrowing) whenever a leaf's move is not known or a clock lies outside the working-day
table (every working-day count is NULL there, so any row could flip).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

from ..ingest import derived
from ..rules import compiler
from ..rules.model import Condition, leaves

_SCALAR = ("eq", "ne", "lt", "lte", "gt", "gte")
_LISTS = ("in", "not_in")
# A stored instant's text may carry any UTC offset (an edit in SQL): its date is within a day of its
# UTC date, which is within a day of the local one; days of margin around an instant's window.
_OFFSET_DAYS = 3

Range = tuple[str, str, str]          # (column, lowest text, text above every value in range)


class WindowRepo(Protocol):
    def workday_spans(self, kind: str, prev_day: str, day: str, add_lo: float,
                      add_hi: float) -> list[tuple[str, str]] | None: ...


@dataclass(frozen=True)
class Move:
    """One clock-reading leaf: the column its value moves with, how, and the constants it is compared with."""
    column: str
    form: str
    lo: float = 0.0
    hi: float = 0.0


def moves(kind: str, cond: Condition | None, params: dict[str, Any]) -> list[Move] | None:
    """The moves of a condition's clock-reading leaves (None: one of them has no known move)."""
    out = []
    for leaf in leaves(cond):
        d = derived.get(kind, leaf.field)
        if d is None or not compiler.on_clock(d.sql):
            continue
        move = _move(d, leaf.op, compiler.resolve(leaf.value, params))
        if move is None:
            return None
        out.append(move)
    return out


def _move(d: derived.Derived, op: str, value: Any) -> Move | None:
    if d.moves is None:
        return None
    if d.moves.form == "instant":             # whatever it is compared with, only the column's place matters
        return Move(d.moves.column, "instant")
    values = value if op in _LISTS and isinstance(value, list) else [value] if op in _SCALAR else None
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return Move(d.moves.column, d.moves.form, float(min(values)), float(max(values)))


def ranges(store: WindowRepo, kind: str, found: list[Move], prev_now: str, now: str) -> list[Range] | None:
    """The column ranges (one per column: the hull of its moves') outside which no row can flip
    between the two clocks; None when they cannot be bounded."""
    hull: dict[str, tuple[str, str]] = {}
    for move in found:
        span = _span(store, kind, move, prev_now, now)
        if span is None:
            return None
        if span[0] >= span[1]:
            continue
        lo, hi = hull.get(move.column, span)
        hull[move.column] = (min(lo, span[0]), max(hi, span[1]))
    return [(column, lo, hi) for column, (lo, hi) in sorted(hull.items())]


def _span(store: WindowRepo, kind: str, move: Move, prev_now: str, now: str) -> tuple[str, str] | None:
    """[lo, hi) of the column's text for one move ("" , "" when no row can flip)."""
    first, last = min(prev_now, now), max(prev_now, now)
    if move.form == "instant":                # the column compared with :now as text
        return first[:10], _next_day(last[:10])
    if move.form == "hours_to":               # the column's instant within the compared hours of a clock
        low = _utc_day(first, move.lo - 1) - timedelta(days=_OFFSET_DAYS)
        high = _utc_day(last, move.hi + 1) + timedelta(days=_OFFSET_DAYS + 1)
        return low.isoformat(), high.isoformat()
    # working-day counts: ordinal of the column's day − today's (ord_ahead) or today's − it (ord_since)
    add = (move.lo, move.hi) if move.form == "ord_ahead" else (-move.hi, -move.lo)
    spans = store.workday_spans(kind, prev_now[:10], now[:10], *add)
    if spans is None:
        return None
    if not spans:
        return "", ""
    return min(s[0] for s in spans), _next_day(max(s[1] for s in spans))


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _utc_day(when: str, hours: float) -> date:
    moment = datetime.fromisoformat(when) + timedelta(hours=hours)
    return (moment.astimezone(timezone.utc) if moment.tzinfo else moment).date()
