"""Derived fields: values computed from a record (the calendar, `now`, the store) that rule
conditions and message templates may name as if they were fields.

Each is defined once, as an SQL expression over its kind's table (named as the kind: `cases.hall`),
and that one definition serves everywhere: the scan's rule queries, the events the durable-rules
reference engine is given, indicator conditions, and the figures of a finding's message when it is
read (the same expression over the stored facts, see `read_values`). Expressions may use the named
parameters `:now` (ISO local), `:today` (YYYY-MM-DD local), `:p9_level` (config
indicators.p9_satisfied_level), `:p7_depth` and `:p7_any_online` (config indicators.p7_full_process_depth
and p7_reading; `params(cfg)` gives all the config ones).

Working days are ordinals of the `workdays` table (checker.calendar.ordinal_rows, kept by
checker.store.scan): the working days in (a, b] are ord(b) − ord(a), so "working days left",
"overdue by", "elapsed" are subtractions, set-wise, in SQLite.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .records import KINDS, OPEN_CASE_STATUSES


if TYPE_CHECKING:
    from checker.config import Config


class FactsReader(Protocol):
    """What `read_values` calls on the store (checker.store.findings): the derived expressions over
    rows of stored facts."""

    def derived_over_facts(self, kind: str, exprs: list[tuple[str, str]], needs: list[str], facts: list[list[Any]],
                           params: dict[str, Any]) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True)
class Moves:
    """How a derived value that reads the clock moves with it, in terms of one stored column (what
    an incremental scan narrows the rows it evaluates at two clocks by, checker.evaluate.window):
    - "instant": the column compared with `:now` as text (the value differs between two clocks only
      for rows whose column lies between them);
    - "ord_ahead": the working-day ordinal of the column's day minus today's (wd_left);
    - "ord_since": today's ordinal minus that of the column's day, at least 0 (wd_since, elapsed_wd);
    - "hours_to": the hours from `:now` to the column's instant (hours_to_slot)."""
    column: str
    form: str


@dataclass(frozen=True)
class Derived:
    kind: str
    name: str
    type: str                # int bool str datetime float
    sql: str
    needs: tuple[str, ...] = ()        # the record's columns the expression reads (kept with a finding to re-render it)
    clock: bool = False      # its value moves with `now` (rendered when a message is read)
    moves: Moves | None = None         # how a value that reads :now / :today moves with it (None: not known)


DERIVED: dict[str, dict[str, Derived]] = {}


def derived(kind: str, name: str, type: str, sql: str, needs: Iterable[str] = (), clock: bool = False,
            moves: Moves | None = None) -> Derived:
    # A boolean is an integer 0/1 (NULL stays NULL) on both stores, as stored booleans are: a
    # condition compares it with 1, and PostgreSQL compares no boolean with an integer.
    sql = f"CAST(({sql}) AS INT)" if type == "bool" else f"({sql})"
    d = DERIVED.setdefault(kind, {})[name] = Derived(kind, name, type, sql, tuple(needs), clock, moves)
    return d


def names(kind: str) -> set[str]:
    return set(DERIVED.get(kind, {}))


def sql_expression(kind: str, name: str) -> str | None:
    d = DERIVED.get(kind, {}).get(name)
    return d.sql if d else None


def get(kind: str, name: str) -> Derived | None:
    return DERIVED.get(kind, {}).get(name)


# ------------------------------------------------------------------------------ working-day ordinals

def calendar_key(kind: str) -> str:
    """The calendar a record counts in: its hall's when the hall has days of its own, else the global ''."""
    if kind == "cases":
        return ("(CASE WHEN cases.hall IS NOT NULL AND cases.hall IN (SELECT cal FROM workday_cals) "
                "THEN cases.hall ELSE '' END)")
    return "''"


def ordinal(kind: str, day_sql: str) -> str:
    """The working-day ordinal of a day (NULL outside the table's range)."""
    return f"(SELECT ord FROM workdays WHERE cal = {calendar_key(kind)} AND day = {day_sql})"


def day_of(column: str) -> str:
    """The local date of a stored timestamp (stored local with offset: its first ten characters)."""
    return f"substr({column}, 1, 10)"


def today(kind: str) -> str:
    """Today's ordinal. The global calendar's is a constant subquery, which SQLite evaluates once."""
    if kind != "cases":
        return ordinal(kind, ":today")
    return ("(CASE WHEN cases.hall IS NOT NULL AND cases.hall IN (SELECT cal FROM workday_cals) "
            "THEN (SELECT ord FROM workdays WHERE cal = cases.hall AND day = :today) "
            "ELSE (SELECT ord FROM workdays WHERE cal = '' AND day = :today) END)")


# ------------------------------------------------------------------------------ cases

_OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_CASE_STATUSES)
# A suspended case (特别程序) is neither overdue nor late while suspended (DESIGN.md "Working days").
_RUNNING_SQL = ", ".join(f"'{s}'" for s in OPEN_CASE_STATUSES if s != "suspended")
_CONCLUDED_SQL = "cases.status IN ('closed', 'rejected') AND cases.closed_at IS NOT NULL"
_OVERDUE_SQL = f"cases.status IN ({_RUNNING_SQL}) AND cases.due_at < :now"

derived("cases", "due_at", "datetime", "cases.due_at")
derived("cases", "open", "bool", f"cases.status IN ({_OPEN_SQL})")
derived("cases", "overdue", "bool", _OVERDUE_SQL, moves=Moves("due_at", "instant"))
derived("cases", "wd_left", "int", f"{ordinal('cases', day_of('cases.due_at'))} - {today('cases')}",
        needs=("due_at", "hall"), clock=True, moves=Moves("due_at", "ord_ahead"))
derived("cases", "overdue_wd", "int",
        f"CASE WHEN {_OVERDUE_SQL} THEN max(1, {today('cases')} - {ordinal('cases', day_of('cases.due_at'))}) "
        "ELSE 0 END", needs=("status", "due_at", "hall"), clock=True)
derived("cases", "elapsed_wd", "int",
        f"max(0, {today('cases')} - {ordinal('cases', day_of('cases.accepted_at'))})",
        needs=("accepted_at", "hall"), clock=True, moves=Moves("accepted_at", "ord_since"))
derived("cases", "item_name", "str", "SELECT name FROM items WHERE items.code = cases.item_code")
derived("cases", "immediate", "bool", "SELECT COALESCE(immediate, 0) FROM items WHERE items.code = cases.item_code")
derived("cases", "concluded", "bool", _CONCLUDED_SQL)
derived("cases", "on_time", "bool",
        "cases.closed_at IS NOT NULL AND (cases.due_at IS NULL OR cases.closed_at <= cases.due_at)")
# P5's denominator and the index's 时效 input: concluded, or running past the deadline at `now`.
derived("cases", "outcome_known", "bool", f"({_CONCLUDED_SQL}) OR ({_OVERDUE_SQL})", moves=Moves("due_at", "instant"))
derived("cases", "late", "bool",
        f"(({_CONCLUDED_SQL}) AND cases.due_at IS NOT NULL AND cases.closed_at > cases.due_at) OR ({_OVERDUE_SQL})",
        moves=Moves("due_at", "instant"))
# DB33/T 2036.7 §5.2.1.7 N7 全流程事项通过网上办理量: an online case of an item whose online depth is
# full-process (≥ config indicators.p7_full_process_depth); the looser reading (any online case) is
# config indicators.p7_reading: any_online.
derived("cases", "online_full_process", "bool",
        "cases.channel = 'online' AND (:p7_any_online = 1 OR cases.item_code IN "
        "(SELECT code FROM items WHERE online_depth >= :p7_depth))")
# DB50/T 957.7 §5.4.2 b) 一事一评: an evaluation of the case's org names the case (correlated on
# (org, case_no): a shard of a store distributed by org answers it alone, docs/postgresql.md "Citus").
derived("cases", "evaluated", "bool",
        "EXISTS (SELECT 1 FROM evaluations e WHERE e.org = cases.org AND e.case_no = cases.case_no)")


def params(cfg: Config) -> dict[str, Any]:
    """The named parameters derived fields take from the config (besides :now and :today)."""
    ic = cfg.indicators
    return {"p9_level": ic.p9_satisfied_level, "p7_depth": ic.p7_full_process_depth,
            "p7_any_online": int(ic.p7_reading == "any_online")}


# ------------------------------------------------------------------------------ other record kinds

def _wd_since(kind: str, column: str) -> None:
    derived(kind, "wd_since", "int", f"max(0, {today(kind)} - {ordinal(kind, day_of(f'{kind}.{column}'))})",
            needs=(column,), clock=True, moves=Moves(column, "ord_since"))


_wd_since("consultations", "received_at")
_wd_since("disclosures", "formed_at")
# 政务公开: working days from forming (or the request) to publication (or the answer).
derived("disclosures", "published_wd", "int",
        f"{ordinal('disclosures', day_of('disclosures.published_at'))} - "
        f"{ordinal('disclosures', day_of('disclosures.formed_at'))}", needs=("formed_at", "published_at"))
derived("consultations", "overdue_promise", "bool",
        "consultations.answered_at IS NULL AND consultations.promised_at IS NOT NULL "
        "AND consultations.promised_at < :now", moves=Moves("promised_at", "instant"))
derived("consultations", "overdue", "bool",
        "consultations.answered_at IS NULL AND consultations.promised_at IS NOT NULL "
        "AND consultations.promised_at < :now", moves=Moves("promised_at", "instant"))

_wd_since("evaluations", "evaluated_at")
derived("evaluations", "bad", "bool", "evaluations.level <= 2")
derived("evaluations", "onsite", "bool", "evaluations.channel IN ('window', 'pad')")
derived("evaluations", "satisfied", "bool", "evaluations.level >= :p9_level")

_wd_since("complaints", "received_at")
derived("complaints", "rectified", "bool", "complaints.rectified_at IS NOT NULL")
derived("complaints", "rectified_by_now", "bool",
        "complaints.rectified_at IS NOT NULL AND complaints.rectified_at <= :now", moves=Moves("rectified_at", "instant"))

derived("appointments", "hours_to_slot", "float",
        "round((unixepoch(appointments.slot_at) - unixepoch(:now)) / 3600.0, 2)",
        needs=("slot_at",), clock=True, moves=Moves("slot_at", "hours_to"))
derived("appointments", "reminded", "bool",
        "appointments.reminded_at IS NOT NULL OR appointments.status = 'reminded'")
derived("appointments", "online", "bool",
        "appointments.item_code IN (SELECT code FROM items WHERE online_depth >= 3)")


# ------------------------------------------------------------------------------ a record's values

def select_list(kind: str, names_: Iterable[str]) -> str:
    """`expr AS "name"` for each derived name (or `kind."name"` for a column)."""
    out = []
    for name in names_:
        d = get(kind, name)
        out.append(f'{d.sql} AS "{name}"' if d is not None and name not in KINDS[kind].columns
                   else f'{kind}."{name}" AS "{name}"')
    return ", ".join(out)


def _clocked(kind: str, wanted: Iterable[str]) -> list[Derived]:
    """The derived fields among `wanted` whose value moves with the clock, in order."""
    return [d for n in wanted if (d := get(kind, n)) is not None and d.clock]


def read_values_many(store: FactsReader, kind: str, facts_list: list[dict[str, Any]], wanted: Iterable[str],
                     params: dict[str, Any]) -> list[dict[str, Any]]:
    """`read_values` of many findings' facts at once: the same expressions over a VALUES table of
    them, one statement instead of one a finding (a round trip each on PostgreSQL). The facts'
    needed values should be of one type per column (PostgreSQL types a VALUES column once)."""
    clocked = _clocked(kind, wanted)
    if not clocked or not facts_list:
        return [{} for _ in facts_list]
    needs = sorted({c for d in clocked for c in d.needs})
    rows = store.derived_over_facts(kind, [(d.name, d.sql) for d in clocked], needs,
                                    [[facts.get(c) for c in needs] for facts in facts_list], params)
    return [{d.name: v for d, v in zip(clocked, r) if v is not None} for r in rows]


def read_values(store: FactsReader, kind: str, facts: dict[str, Any], wanted: Iterable[str],
                params: dict[str, Any]) -> dict[str, Any]:
    """The clock-moving derived values `wanted` from a finding's stored facts, at `params` (now, today):
    `read_values_many` of the one finding."""
    return read_values_many(store, kind, [facts], wanted, params)[0]
