"""A case's deadline (due_at): one definition, in SQL, over the working-day ordinals of the
`workdays` table (DESIGN.md "Working days"; checker.ingest.derived explains the ordinals).

- With `promised_at`: that time, moved later by suspended_days + extended_days working days
  (same time of day, on the working day that many working days after the promised day).
- Else the item's promised_days (fallback statutory_days) in working days after acceptance, moved by
  suspended_days + extended_days: the end (23:59:59 local) of that working day.
- A 即办件 (or a term of 0 days) is due at the end of its acceptance day, or of the next working
  day when accepted on a day off, then moved by suspended_days + extended_days.

The import and the scan call `refresh` after cases changed or the calendar did, and the bulk
import's fast path (checker.store.staging) computes the deadlines of the cases it writes in its
INSERT from `due_rows`, the same SQL; nothing else computes a deadline (checker.calendar.WorkCalendar.deadline is kept for the sample generator and
tests, and follows the same reading).
"""
from __future__ import annotations

import json
from typing import Any, Protocol, Sequence

from .derived import calendar_key, day_of

_K = calendar_key("cases").replace("cases.", "c.")
# The columns of a case its deadline depends on.
INPUTS = frozenset({"item_code", "hall", "accepted_at", "promised_at", "suspended_days", "extended_days"})


def _carried(alias: str, carry: Sequence[str]) -> str:
    """`alias."name" AS "name", ` for each carried column but the org (selected always)."""
    return "".join(f'{alias}."{name}" AS "{name}", ' for name in carry if name != "org")


# x: the case's calendar, its item's term (days; NULL: none), immediate (0/1), whether the item exists,
# the ordinals of its acceptance and promised days, whether it was accepted on a working day, the shift;
# `carry`: columns of the case passed through as they are (a bulk import's rows, written with their deadline;
# the org always is).
def _facts(source: str, rid: str, where: str, carry: Sequence[str] = ()) -> str:
    """The facts of the cases of `source` (the cases table, or rows shaped like it: a bulk import's
    validated rows) that `where` selects, aliased `c`."""
    return f"""SELECT {rid} AS rid, c.org AS org, {_carried('c', carry)}{_K} AS cal, i.code AS item, COALESCE(i.immediate, 0) AS immediate,
        COALESCE(i.promised_days, i.statutory_days) AS days, wa.ord AS acc_ord, COALESCE(wa.work, 0) AS acc_work,
        c.promised_at AS prom_at, wp.ord AS prom_ord,
        COALESCE(c.suspended_days, 0) + COALESCE(c.extended_days, 0) AS shift
    FROM {source} c LEFT JOIN items i ON i.code = c.item_code
    LEFT JOIN workdays wa ON wa.cal = {_K} AND wa.day = {day_of('c.accepted_at')}
    LEFT JOIN workdays wp ON wp.cal = {_K} AND wp.day = {day_of('c.promised_at')}
    WHERE {where}"""


_TERM = "CASE WHEN x.immediate = 1 OR COALESCE(x.days, 0) <= 0 THEN 1 - x.acc_work ELSE x.days END"
_NO_TERM = "x.item IS NULL OR (x.days IS NULL AND x.immediate = 0)"
# The ordinal of the working day the deadline falls on (w: that day, one lookup a case). A join, not a
# subquery a case: PostgreSQL hashes the workdays table once (1M cases: 2.7x less time than an index
# probe a case); SQLite probes ix_workdays_ord either way.
_DUE_ORD = f"""CASE WHEN x.prom_at IS NOT NULL THEN x.prom_ord + x.shift
    WHEN {_NO_TERM} THEN NULL ELSE x.acc_ord + {_TERM} + x.shift END"""
DUE_SQL = f"""CASE
    WHEN x.prom_at IS NOT NULL THEN
        CASE WHEN x.shift = 0 THEN x.prom_at ELSE w.day || substr(x.prom_at, 11) END
    WHEN {_NO_TERM} THEN NULL
    ELSE w.eod
    END"""


def due_rows(source: str, rid: str, where: str = "1 = 1", carry: Sequence[str] = ()) -> str:
    """SELECT rid, org, the other `carry` columns, due: the deadline of each case of `source` (see
    `_facts`); the org beside the row identity, so that joining the rows back to `cases` on both stays
    within an org (a shard)."""
    return (f"SELECT x.rid AS rid, x.org AS org, {_carried('x', carry)}{DUE_SQL} AS due FROM ({_facts(source, rid, where, carry)}) AS x "
            f"LEFT JOIN workdays w INDEXED BY ix_workdays_ord ON w.cal = x.cal AND w.ord = {_DUE_ORD} AND w.work = 1")


class RowIdentity(Protocol):
    """The dialect's record row identity (checker.store.dialect: SQLite's rowid, PostgreSQL's key)."""
    def rowid(self, alias: str | None = None, kind: str | None = None) -> str: ...


class DeadlineRepo(Protocol):
    """What `refresh` calls on the store: the dialect's row identity, the deadlines' UPDATE."""
    @property
    def dialect(self) -> RowIdentity: ...
    def update_deadlines(self, due_rows: str, params: dict[str, Any]) -> int: ...


def refresh(store: DeadlineRepo, since_seq: int = 0, skip_seq: int | None = None, keys: list[Any] | None = None) -> int:
    """Recompute due_at of the cases changed at or after `since_seq` (0: every case), except those of
    change `skip_seq` (a bulk import that wrote them with their deadline, see checker.store.staging),
    or of the cases `keys`. Only the rows whose deadline differs are written. The caller keeps the
    workdays table covering their dates (checker.workdays)."""
    rowid = store.dialect.rowid
    if keys is not None:
        where = "c.case_no IN (SELECT value FROM json_each(:keys))"
    else:
        where = "c._seq >= :since" + ("" if skip_seq is None else " AND c._seq <> :skip")
    params = {"since": since_seq, "skip": skip_seq, "keys": json.dumps(keys or [])}
    return store.update_deadlines(due_rows('cases', rowid('c', 'cases'), where), params)
