"""Supervision cadences and every-working-day checks, on calendar periods and working days.

Cadence rules (DB33/T 2036.7 §6.2, DB50/T 957.7 §6.4 c) read "每季度不少于一次", "两年不少于一次": a
requirement per calendar period, not a rolling window. So, per org in scope:

- the last completed period without the activity is a finding (subject ``ORG:PERIOD``, e.g.
  ``330102:2026-Q3``), raised the first scan after the period ended;
- the current period, in its last `warn_working_days` working days (a rule param, default 0 = no
  warning) and still without the activity, is a warning (yellow, subject ``ORG:PERIOD`` too): when the
  period ends without it, the same finding turns into the rule's severity; when the activity comes,
  it resolves.

Periods: ``every: {months: N}`` are N-month periods from 1 January (3 = the calendar quarter, 12 = the
year); ``every: {years: N}`` are N-year periods counted from `period_anchor_year` (default 2000, so
two-year periods are 2026–2027, 2028–2029 …; the standard names no start, see the rule file);
``every: {days: N}`` are N-day periods counted from Monday 2000-01-03 (7 = the ISO week).

Every-working-day checks (DB50/T 957.7 §5.1 d 每个工作日现场监管): a working day of the org's
calendar with no inspection record of the check is a finding (subject ``ORG:CHECK:DATE``) on any
later day, whatever holidays lie between; days before the org's first record of the check are not
counted (that org is "never checked" instead), and the scan looks back `lookback_working_days`.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from ..calendar import WorkCalendar
from ..config import Config
from ..rules.model import CadenceRule, ChecklistRule


class SupervisionRepo(Protocol):
    """What the cadence and every-working-day checks read: the orgs they apply to, the supervision
    and inspection records' dates."""
    def org_codes_at_levels(self, levels: Iterable[str], third_party_only: bool = False) -> list[str]: ...
    def supervision_dates(self, kinds: list[str], since: str, until: str) -> list[dict[str, Any]]: ...
    def last_supervision_dates(self, kinds: list[str], until: str) -> dict[str, str]: ...
    def first_inspections(self, checks: list[str]) -> dict[tuple[str, str], str]: ...
    def inspection_days(self, checks: list[str], since: str, before: str) -> set[tuple[str, str, str]]: ...

ACTIVITY_NAMES = {"self": "自我监督评价", "superior": "上级主管部门监督评价", "public": "群众和企业监督评价",
                  "third_party": "第三方监督评价"}
# DB50/T 957.7 §6.1.1 names its own ways: 自我评价、上级评价、委托第三方机构.
PACK_ACTIVITY_NAMES = {"db50": {"self": "自我评价", "superior": "上级评价", "third_party": "委托第三方机构评价",
                                "public": "社会监督评价"}}
DAY_ANCHOR = date(2000, 1, 3)          # a Monday: 7-day periods are ISO weeks
DEFAULT_ANCHOR_YEAR = 2000
DEFAULT_LOOKBACK = 10


@dataclass(frozen=True)
class CadencePeriod:
    start: date           # first day
    end: date             # first day after
    code: str
    label: str

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def previous(self, every: dict[str, int], anchor: int) -> "CadencePeriod":
        return cadence_period(every, self.start - timedelta(days=1), anchor)


def cadence_period(every: dict[str, int], day: date, anchor: int = DEFAULT_ANCHOR_YEAR) -> CadencePeriod:
    """The period of `every` that contains `day`."""
    unit, n = next(iter(every.items()))
    if unit == "months":
        index = (day.year * 12 + day.month - 1) // n * n
        start = date(index // 12, index % 12 + 1, 1)
        after = index + n
        end = date(after // 12, after % 12 + 1, 1)
        if n == 3:
            q = (start.month - 1) // 3 + 1
            return CadencePeriod(start, end, f"{start.year}-Q{q}", f"{start.year}年第{q}季度")
        if n == 1:
            return CadencePeriod(start, end, f"{start:%Y-%m}", f"{start.year}年{start.month}月")
        if n == 12:
            return CadencePeriod(start, end, f"{start.year}", f"{start.year}年")
        last = end - timedelta(days=1)
        return CadencePeriod(start, end, f"{start:%Y-%m}~{last:%Y-%m}",
                             f"{start.year}年{start.month}月至{last.year}年{last.month}月")
    if unit == "years":
        first = anchor + (day.year - anchor) // n * n
        start, end = date(first, 1, 1), date(first + n, 1, 1)
        if n == 1:
            return CadencePeriod(start, end, f"{first}", f"{first}年")
        return CadencePeriod(start, end, f"{first}-{first + n - 1}", f"{first}—{first + n - 1}年")
    start = DAY_ANCHOR + timedelta(days=(day - DAY_ANCHOR).days // n * n)
    end = start + timedelta(days=n)
    last = end - timedelta(days=1)
    return CadencePeriod(start, end, f"{start.isoformat()}~{last.isoformat()}", f"{start.isoformat()} 至 {last.isoformat()}")


@dataclass(frozen=True)
class Gap:
    """A firing of a supervision rule before the scan renders it."""
    org: str
    subject: str
    facts: dict[str, Any]
    warning: bool = False
    due: datetime | None = None


class Calendars:
    """The calendar of each org (a hall's own days on top of the config's), made once per scan."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self._by_org: dict[str | None, WorkCalendar] = {}

    def of(self, org: str) -> WorkCalendar:
        hall = org if org in self.cfg.calendar.halls else None       # orgs without days of their own share one
        if hall not in self._by_org:
            self._by_org[hall] = WorkCalendar.from_config(self.cfg.calendar, self.cfg.tz, hall=hall)
        return self._by_org[hall]


def activities(rule: CadenceRule) -> tuple[str, ...]:
    return tuple(rule.activity) if isinstance(rule.activity, (list, tuple)) else (rule.activity,)


def activity_name(rule: CadenceRule) -> str:
    names = PACK_ACTIVITY_NAMES.get(rule.pack, {})
    return "或".join(names.get(a) or ACTIVITY_NAMES[a] for a in activities(rule))


def cadence_gaps(store: SupervisionRepo, cfg: Config, rule: CadenceRule, now: datetime,
                 calendars: Calendars) -> tuple[list[Gap], set[str], int]:
    """(gaps, subjects looked at, orgs evaluated) of a cadence rule at `now`."""
    today = now.astimezone(cfg.tz).date()
    anchor = rule.period_anchor_year or DEFAULT_ANCHOR_YEAR
    current = cadence_period(rule.every, today, anchor)
    previous = current.previous(rule.every, anchor)
    kinds = activities(rule)
    orgs = _orgs(store, rule)
    done = _supervised(store, kinds, previous.start, today)
    latest = _latest(store, kinds, today)
    warn_days = int(rule.params.get("warn_working_days", 0) or 0)
    gaps: list[Gap] = []
    looked: set[str] = set()
    unit, n = next(iter(rule.every.items()))
    for org in orgs:
        looked |= {org, f"{org}:{previous.code}", f"{org}:{current.code}"}   # bare org: findings of the old rolling window
        base = {"activity": ",".join(kinds), "activity_name": activity_name(rule), "last_date": latest.get(org),
                "every_text": f"{n} {_UNITS[unit]}"}
        if not any(previous.start.isoformat() <= d < previous.end.isoformat() for d in done.get(org, ())):
            gaps.append(Gap(org, f"{org}:{previous.code}", {**base, **_period_facts(previous), "days_left": 0,
                                                            "state_text": "已结束，期内"}))
        if warn_days and not any(d >= current.start.isoformat() for d in done.get(org, ())):
            cal = calendars.of(org)
            left = cal.count(today, current.last_day) + (1 if cal.is_working_day(today) else 0)
            if left <= warn_days:
                due = datetime.combine(current.last_day, datetime.max.time().replace(microsecond=0), tzinfo=cfg.tz)
                gaps.append(Gap(org, f"{org}:{current.code}",
                                {**base, **_period_facts(current), "days_left": left,
                                 "state_text": f"还剩 {left} 个工作日，至今"}, warning=True, due=due))
    return gaps, looked, len(orgs)


def _period_facts(p: CadencePeriod) -> dict[str, Any]:
    return {"period": p.code, "period_label": p.label, "period_start": p.start.isoformat(),
            "period_end": p.last_day.isoformat(), "window_start": p.start.isoformat()}


_UNITS = {"days": "天", "months": "个月", "years": "年"}


def _orgs(store: SupervisionRepo, rule: CadenceRule | ChecklistRule) -> list[str]:
    return store.org_codes_at_levels(rule.levels, getattr(rule, "applies_to", None) == "third_party_commissioned")


def _supervised(store: SupervisionRepo, kinds: Iterable[str], since: date, today: date) -> dict[str, list[str]]:
    """org → dates of its supervisions of these kinds from `since` up to today."""
    out: dict[str, list[str]] = {}
    for r in store.supervision_dates(list(kinds), since.isoformat(), today.isoformat()):
        out.setdefault(r["org"], []).append(r["date"])
    return out


def _latest(store: SupervisionRepo, kinds: Iterable[str], today: date) -> dict[str, str]:
    return store.last_supervision_dates(list(kinds), today.isoformat())


# ------------------------------------------------------------------------------ every working day

def missed_days(store: SupervisionRepo, cfg: Config, rule: ChecklistRule, orgs: list[str], now: datetime,
                calendars: Calendars) -> tuple[list[Gap], set[str]]:
    """Working days without a record of each check, per org: (gaps, subjects looked at)."""
    today = now.astimezone(cfg.tz).date()
    lookback = rule.lookback_working_days or DEFAULT_LOOKBACK
    checks = [c.id for c in rule.checks]
    first = store.first_inspections(checks)
    since = today - timedelta(days=lookback * 3 + 30)          # wide enough for any holiday block
    seen = store.inspection_days(checks, since.isoformat(), today.isoformat())
    gaps: list[Gap] = []
    looked: set[str] = set()
    for org in orgs:
        days = _working_days_before(calendars.of(org), today, lookback)
        for check in rule.checks:
            start = first.get((org, check.id))
            for d in days:
                subject = f"{org}:{check.id}:{d.isoformat()}"
                looked.add(subject)
                if start and d.isoformat() >= start and (org, check.id, d.isoformat()) not in seen:
                    gaps.append(Gap(org, subject, {"check": check.id, "check_title": check.title, "day": d.isoformat(),
                                                   "reason": f"{d.isoformat()}（工作日）无记录"}))
    return gaps, looked


def _working_days_before(cal: WorkCalendar, today: date, n: int) -> list[date]:
    """The last n working days before today, oldest first."""
    out: list[date] = []
    d = today - timedelta(days=1)
    for _ in range(n * 7 + 60):
        if len(out) == n:
            break
        if cal.is_working_day(d):
            out.append(d)
        d -= timedelta(days=1)
    return out[::-1]
