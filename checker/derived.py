"""Derived fields: values computed from a record (and the calendar, `now`, the store) that rule
conditions and message templates may name as if they were fields.

Register with @derived(kind, name, type, sql=None). The function gets (record, ctx) and returns the
value (None: unknown, left out of the event). `sql` is the same value as an SQL expression over
the kind's table, for aggregate (indicator) conditions; it may use the named parameters `:now`
(ISO local) and `:p9_level` (config indicators.p9_satisfied_level). The loader accepts a derived
name wherever a field name is allowed (SQL conditions: only those with `sql`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable

from .calendar import WorkCalendar
from .records import OPEN_CASE_STATUSES


@dataclass(frozen=True)
class Derived:
    kind: str
    name: str
    type: str                # int bool str datetime float
    compute: Callable
    sql: str | None = None


DERIVED: dict[str, dict[str, Derived]] = {}


def derived(kind: str, name: str, type: str, sql: str | None = None):
    """Register a derived field of a record kind next to its definition."""
    def register(fn):
        DERIVED.setdefault(kind, {})[name] = Derived(kind, name, type, fn, f"({sql})" if sql else None)
        return fn
    return register


def names(kind: str) -> set[str]:
    return set(DERIVED.get(kind, {}))


def sql_expression(kind: str, name: str) -> str | None:
    d = DERIVED.get(kind, {}).get(name)
    return d.sql if d else None


class DerivedContext:
    """What derived fields need: the config (calendar, timezone), `now`, lookups in the store."""

    def __init__(self, store, cfg, now: datetime):
        self.store, self.cfg, self.now = store, cfg, now.astimezone(cfg.tz)
        self.today = self.now.date()
        self._calendars: dict = {}
        self._items: dict | None = None
        self._when: dict[str, datetime] = {}
        self._days: dict[str, date] = {}

    def calendar(self, hall: str | None = None) -> WorkCalendar:
        """The hall's calendar; halls without days of their own share the config's one."""
        key = hall if hall in self.cfg.calendar.halls else None
        if key not in self._calendars:
            self._calendars[key] = WorkCalendar.from_config(self.cfg.calendar, self.cfg.tz, key)
        return self._calendars[key]

    def load(self) -> "DerivedContext":
        """Read the store lookups now (before a fork: the child must not touch the connection)."""
        self.item(None)
        return self

    def item(self, code: str | None) -> dict:
        if self._items is None:
            self._items = {r["code"]: r for r in self.store.rows("SELECT code, name, immediate, online_depth FROM items")}
        return self._items.get(code) or {}

    def when(self, text: str | None) -> datetime | None:
        if not text:
            return None
        dt = self._when.get(text)
        if dt is None:                 # deadlines repeat (end of a handful of days): parse each once
            dt = datetime.fromisoformat(str(text))
            dt = self._when[text] = dt if dt.tzinfo else dt.replace(tzinfo=self.cfg.tz)
        return dt

    def day(self, text: str | None) -> date | None:
        """The local date of a stored timestamp (cached: a scan sees the same deadlines again and again)."""
        if not text:
            return None
        d = self._days.get(text)
        if d is None:
            d = self._days[text] = self.when(text).astimezone(self.cfg.tz).date()
        return d


def compute(kind: str, record: dict, ctx: DerivedContext, only=None) -> dict:
    """The record's derived values (None values left out); `only`: just these names."""
    out = {}
    for d in DERIVED.get(kind, {}).values():
        if only is not None and d.name not in only:
            continue
        value = d.compute(record, ctx)
        if value is not None:
            out[d.name] = value
    return out


# ------------------------------------------------------------------------------ cases

_OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_CASE_STATUSES)
_CONCLUDED_SQL = "status IN ('closed', 'rejected') AND closed_at IS NOT NULL"


def _due(r, ctx):
    return ctx.when(r.get("due_at"))


def _is_open(r) -> bool:
    return r.get("status") in OPEN_CASE_STATUSES


@derived("cases", "due_at", "datetime", sql='"due_at"')
def _case_due_at(r, ctx):
    return r.get("due_at")


@derived("cases", "open", "bool", sql=f"status IN ({_OPEN_SQL})")
def _case_open(r, ctx):
    return _is_open(r)


@derived("cases", "wd_left", "int")
def _case_wd_left(r, ctx):
    due = ctx.day(r.get("due_at"))
    return ctx.calendar(r.get("hall")).count(ctx.today, due) if due else None


@derived("cases", "overdue", "bool", sql=f"status IN ({_OPEN_SQL}) AND due_at < :now")
def _case_overdue(r, ctx):
    due = _due(r, ctx)
    return bool(due and _is_open(r) and ctx.now > due)


@derived("cases", "overdue_wd", "int")
def _case_overdue_wd(r, ctx):
    due = _due(r, ctx)
    if not (due and _is_open(r) and ctx.now > due):
        return 0
    return max(1, ctx.calendar(r.get("hall")).count(ctx.day(r["due_at"]), ctx.today))


@derived("cases", "elapsed_wd", "int")
def _case_elapsed_wd(r, ctx):
    accepted = ctx.day(r.get("accepted_at"))
    return max(0, ctx.calendar(r.get("hall")).count(accepted, ctx.today)) if accepted else None


@derived("cases", "item_name", "str", sql="SELECT name FROM items WHERE items.code = cases.item_code")
def _case_item_name(r, ctx):
    return ctx.item(r.get("item_code")).get("name")


@derived("cases", "immediate", "bool",
         sql="SELECT COALESCE(immediate, 0) FROM items WHERE items.code = cases.item_code")
def _case_immediate(r, ctx):
    return bool(ctx.item(r.get("item_code")).get("immediate"))


@derived("cases", "concluded", "bool", sql=_CONCLUDED_SQL)
def _case_concluded(r, ctx):
    return r.get("status") in ("closed", "rejected") and bool(r.get("closed_at"))


@derived("cases", "on_time", "bool", sql="closed_at IS NOT NULL AND (due_at IS NULL OR closed_at <= due_at)")
def _case_on_time(r, ctx):
    return bool(r.get("closed_at")) and (not r.get("due_at") or ctx.when(r["closed_at"]) <= _due(r, ctx))


@derived("cases", "outcome_known", "bool", sql=f"({_CONCLUDED_SQL}) OR (status IN ({_OPEN_SQL}) AND due_at < :now)")
def _case_outcome_known(r, ctx):
    return _case_concluded(r, ctx) or _case_overdue(r, ctx)


# ------------------------------------------------------------------------------ consultations

def _wd_since(field: str):
    def compute_(r, ctx):
        since = ctx.day(r.get(field))
        return max(0, ctx.calendar().count(since, ctx.today)) if since else None
    return compute_


derived("consultations", "wd_since", "int")(_wd_since("received_at"))


@derived("consultations", "overdue_promise", "bool",
         sql="answered_at IS NULL AND promised_at IS NOT NULL AND promised_at < :now")
def _consult_overdue_promise(r, ctx):
    promised = ctx.when(r.get("promised_at"))
    return bool(promised and not r.get("answered_at") and ctx.now > promised)


derived("consultations", "overdue", "bool",
        sql="answered_at IS NULL AND promised_at IS NOT NULL AND promised_at < :now")(_consult_overdue_promise)


# ------------------------------------------------------------------------------ evaluations

derived("evaluations", "wd_since", "int")(_wd_since("evaluated_at"))


@derived("evaluations", "bad", "bool", sql="level <= 2")
def _eval_bad(r, ctx):
    return r.get("level") is not None and int(r["level"]) <= 2


@derived("evaluations", "onsite", "bool", sql="channel IN ('window', 'pad')")
def _eval_onsite(r, ctx):
    return r.get("channel") in ("window", "pad")


@derived("evaluations", "satisfied", "bool", sql="level >= :p9_level")
def _eval_satisfied(r, ctx):
    return r.get("level") is not None and int(r["level"]) >= ctx.cfg.indicators.p9_satisfied_level


# ------------------------------------------------------------------------------ complaints

derived("complaints", "wd_since", "int")(_wd_since("received_at"))


@derived("complaints", "rectified", "bool", sql="rectified_at IS NOT NULL")
def _complaint_rectified(r, ctx):
    return bool(r.get("rectified_at"))


@derived("complaints", "rectified_by_now", "bool", sql="rectified_at IS NOT NULL AND rectified_at <= :now")
def _complaint_rectified_by_now(r, ctx):
    at = ctx.when(r.get("rectified_at"))
    return bool(at and at <= ctx.now)


# ------------------------------------------------------------------------------ appointments

@derived("appointments", "hours_to_slot", "float")
def _appt_hours_to_slot(r, ctx):
    slot = ctx.when(r.get("slot_at"))
    return round((slot - ctx.now) / timedelta(hours=1), 2) if slot else None


@derived("appointments", "reminded", "bool", sql="reminded_at IS NOT NULL OR status = 'reminded'")
def _appt_reminded(r, ctx):
    return bool(r.get("reminded_at")) or r.get("status") == "reminded"


@derived("appointments", "online", "bool", sql="item_code IN (SELECT code FROM items WHERE online_depth >= 3)")
def _appt_online(r, ctx):
    return False if not r.get("item_code") else bool((ctx.item(r["item_code"]).get("online_depth") or 0) >= 3)
