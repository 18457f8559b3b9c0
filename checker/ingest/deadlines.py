"""A case's deadline (due_at): one definition, in SQL, over the working-day ordinals of the
`workdays` table (DESIGN.md "Working days"; checker.derived explains the ordinals).

- With `promised_at`: that time, moved later by suspended_days + extended_days working days
  (same time of day, on the working day that many working days after the promised day).
- Else the item's promised_days (fallback statutory_days) in working days after acceptance, moved by
  suspended_days + extended_days: the end (23:59:59 local) of that working day.
- A 即办件 (or a term of 0 days) is due at the end of its acceptance day, or of the next working
  day when accepted on a day off, then moved by suspended_days + extended_days.

The import and the scan call `refresh` after cases changed or the calendar did; nothing else
computes a deadline (checker.calendar.WorkCalendar.deadline is kept for the sample generator and
tests, and follows the same reading).
"""
from __future__ import annotations

from ..derived import calendar_key, day_of, ordinal

_K = calendar_key("cases")
_SHIFT = "(COALESCE(cases.suspended_days, 0) + COALESCE(cases.extended_days, 0))"
_WORKED = f"COALESCE((SELECT work FROM workdays WHERE cal = {_K} AND day = {day_of('cases.accepted_at')}), 0)"


def _working_day(column: str, ord_sql: str) -> str:
    """`column` (day or eod) of the working day whose ordinal is `ord_sql` in the case's calendar."""
    return f"(SELECT {column} FROM workdays WHERE cal = {_K} AND work = 1 AND ord = {ord_sql})"


# x.days: the item's term (NULL: none); x.immediate: 0/1; x.item: the item exists
DUE_SQL = f"""CASE
    WHEN cases.promised_at IS NOT NULL THEN
        CASE WHEN {_SHIFT} = 0 THEN cases.promised_at
             ELSE {_working_day('day', f"{ordinal('cases', day_of('cases.promised_at'))} + {_SHIFT}")}
                  || substr(cases.promised_at, 11) END
    WHEN x.item IS NULL OR (x.days IS NULL AND NOT x.immediate) THEN NULL
    ELSE {_working_day('eod', f'''{ordinal('cases', day_of('cases.accepted_at'))}
            + CASE WHEN x.immediate OR COALESCE(x.days, 0) <= 0 THEN 1 - {_WORKED} ELSE x.days END + {_SHIFT}''')}
    END"""

_UPDATE = f"""UPDATE cases SET due_at = {DUE_SQL}
    FROM (SELECT c.rowid AS rid, i.code AS item, COALESCE(i.immediate, 0) AS immediate,
                 COALESCE(i.promised_days, i.statutory_days) AS days
          FROM cases c LEFT JOIN items i ON i.code = c.item_code WHERE c._seq >= :since) AS x
    WHERE cases.rowid = x.rid"""


def refresh(store, since_seq: int = 0) -> int:
    """Recompute due_at of the cases changed at or after `since_seq` (0: every case). The caller keeps
    the workdays table covering their dates (checker.store.scan.ensure_workdays)."""
    return store.conn.execute(_UPDATE, {"since": since_seq}).rowcount
