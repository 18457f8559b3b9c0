"""The P1–P9 indicators of DB33/T 2036.7 §5.2–5.3, computed from the indicator rules of the packs.

An org's figure covers the org and every org below it. Item figures (no `period_field`) count the
current items; case, complaint and evaluation figures take the records whose date falls in the
period (local dates). Withdrawn cases count nowhere. `value` is numerator / denominator (None when
the denominator is 0) and `passed` says whether it meets the rule's target (None without data).

Which orgs get a row: with `org` given, that org alone (covering its subtree); without, every org
that has orgs below it or records of its own for an indicator — every org with a figure to show.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from ..config import Config
from ..findings import Firing
from ..ingest import derived
from ..periods import Period
from ..rules.compiler import to_sql
from ..rules.model import Condition, IndicatorRule, RuleBook, leaves
from ..store import indicators as sql


class IndicatorRepo(Protocol):
    """What the indicators read (compute, indicator_scan): the org tree (its closure, the orgs with
    orgs below, each org's level and name) and the per-org totals of the rules' aggregate specs."""
    def build_org_closure(self) -> int: ...
    def indicator_rollups(self, specs: Mapping[str, sql.AggregateSpec],
                          orgs: Iterable[str] | None = None) -> dict[str, dict[str, tuple[Any, Any]]]: ...
    def orgs_with_children(self) -> list[str]: ...
    def org_levels(self) -> dict[str, str]: ...
    def org_names(self) -> dict[str, str]: ...


TOLERANCE = 1e-9
REGION_LEVELS = ("province", "city", "district", "township")   # orgs a failed indicator is raised for
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "eq": lambda v, t: abs(v - t) <= TOLERANCE, "gte": lambda v, t: v >= t - TOLERANCE,
    "gt": lambda v, t: v > t + TOLERANCE, "lte": lambda v, t: v <= t + TOLERANCE,
    "lt": lambda v, t: v < t - TOLERANCE}
_SYMBOL = {"eq": "=", "gte": "≥", "gt": ">", "lte": "≤", "lt": "<"}


@dataclass(frozen=True)
class IndicatorValue:
    code: str                 # P1 … P9
    rule: str                 # the rule id
    clause: str
    org: str
    period: str               # the period code: 2026-10, 2026-Q3, 2026
    numerator: float
    denominator: float
    value: float | None       # a ratio, 0.95
    target: dict[str, Any]    # {"gte": 0.9} or {"eq": 1.0} (the rule's, as parsed from YAML)
    passed: bool | None
    title: str = ""
    standard: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def target_text(self) -> str:
        """The target for people: ≥ 90% (— for a figure without one)."""
        if not self.target:
            return "—"
        op, limit = next(iter(self.target.items()))
        return f"{_SYMBOL.get(op, op)} {percent(limit)}"


def percent(value: float | None, target: Mapping[str, Any] | None = None, trim: bool = True) -> str:
    """A ratio as a percentage, 1 decimal (90%, 89.5%; with trim False 90.0%). With the target, more
    decimals (up to 4) when rounding would cross it: 0.89996 against ≥ 90% shows 89.996%, never 90%."""
    if value is None:
        return "—"
    for digits in (1, 2, 3, 4):
        text = f"{value * 100:.{digits}f}"
        if not target or _passed(target, float(text) / 100) == _passed(target, value):
            break
    if trim or digits > 1:
        text = text.rstrip("0").rstrip(".")
    return text + "%"


def indicator_rules(rulebook: RuleBook) -> list[IndicatorRule]:
    return sorted(rulebook.of_kind("indicator"), key=lambda r: (r.code, r.id))


def compute(store: IndicatorRepo, cfg: Config, rulebook: RuleBook, period: Period, org: str | None = None,
            now: datetime | None = None) -> list[IndicatorValue]:
    """Every indicator rule's figure for the period: for `org` alone, or for every org with a figure."""
    if now is None:
        raise ValueError("compute() needs `now` (P5 and P8 depend on it)")
    store.build_org_closure()
    scope = [org] if org else None
    rules = indicator_rules(rulebook)
    params: dict[str, Any] = {}               # one dict: the specs' bound names stay distinct
    totals = store.indicator_rollups({r.id: aggregate_spec(r, cfg, period, now, params) for r in rules}, scope)
    orgs = scope or sorted(set(store.orgs_with_children()).union(*[t.keys() for t in totals.values()]))
    return [_value(r, o, period, totals[r.id].get(o, (0, 0))) for o in orgs for r in rules]


def aggregate_spec(rule: IndicatorRule, cfg: Config, period: Period, now: datetime,
                   params: dict[str, Any] | None = None) -> sql.AggregateSpec:
    """The SQL pieces of one indicator rule for one period at `now` (values bound into `params`)."""
    kind = rule.source
    params = {} if params is None else params
    params.update(now=now.astimezone(cfg.tz).isoformat(timespec="seconds"),
                  today=now.astimezone(cfg.tz).date().isoformat(), **derived.params(cfg))
    in_period = sql.period_sql(kind, rule.period_field, period.start.isoformat(), period.end.isoformat(), params)
    where = [condition_sql(kind, rule.where, params, rule)]
    if kind == "cases":
        where.append("(status IS DISTINCT FROM 'withdrawn')")          # withdrawn cases count nowhere
    numerator = condition_sql(kind, rule.numerator, params, rule)
    fields = {leaf.field for tree in (rule.where, rule.numerator) if tree is not None for leaf in leaves(tree)}
    return sql.AggregateSpec(kind, " AND ".join(where), numerator, sql.measure_sql(kind, rule.measure),
                             sql.measure_sql(kind, rule.denominator_measure), params, scan_sql=in_period,
                             period_field=rule.period_field, fields=sorted(fields))


def condition_sql(kind: str, tree: Condition | None, params: dict[str, Any], rule: IndicatorRule) -> str:
    """A rule condition as SQL (checker.rules.compiler), its values bound into `params`."""
    return to_sql(kind, tree, dict(rule.params or {}), params)[0]


def _value(rule: IndicatorRule, org: str, period: Period, totals: tuple[Any, Any]) -> IndicatorValue:
    numerator, denominator = totals
    value = round(numerator / denominator, 6) if denominator else None
    return IndicatorValue(rule.code, rule.id, rule.clause, org, period.code, numerator, denominator,
                          value, dict(rule.target), _passed(rule.target, value),
                          rule.title, rule.standard)


def _passed(target: Mapping[str, Any], value: float | None) -> bool | None:
    if value is None or not target:          # no data, or a figure without a target (E1)
        return None
    return all(_COMPARE[op](value, float(limit)) for op, limit in target.items())


# ------------------------------------------------------------------ failed indicators → findings

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def scan_periods(cfg: Config, now: datetime) -> tuple[Period, Period]:
    """The periods a scan evaluates: the previous full month and the current month to date."""
    current = Period.containing("month", now.astimezone(cfg.tz).date())
    return current.previous(), current


def indicator_scan(store: IndicatorRepo, cfg: Config, rulebook: RuleBook, now: datetime,
                   periods: Sequence[Period] | None = None) -> tuple[list[Firing], dict[str, set[str]]]:
    """The figures of `periods` (default: scan_periods) for every region org (province / city /
    district / township): (firings for those that miss their target, evaluated subjects per rule).
    Subject: "P5:<org>:<period>"."""
    rules = {r.id: r for r in indicator_rules(rulebook)}
    levels, names = store.org_levels(), store.org_names()
    firings: list[Firing] = []
    evaluated: dict[str, set[str]] = {rule_id: set() for rule_id in rules}
    for period in periods or scan_periods(cfg, now):
        for v in compute(store, cfg, rulebook, period, now=now):
            if levels.get(v.org) in REGION_LEVELS:
                evaluated[v.rule].add(subject(v))
                if v.passed is False:
                    firings.append(_firing(rules[v.rule], v, period, names.get(v.org, v.org)))
    return firings, evaluated


def subject(v: IndicatorValue) -> str:
    return f"{v.code}:{v.org}:{v.period}"


def _firing(rule: IndicatorRule, v: IndicatorValue, period: Period, org_name: str) -> Firing:
    facts: dict[str, object] = {"org": v.org, "org_name": org_name, "period": period.label, "period_code": v.period,
             "code": v.code, "value": percent(v.value, v.target), "numerator": _plain(v.numerator),
             "denominator": _plain(v.denominator), "target": v.target_text, "standard": v.standard,
             "clause": v.clause, "rule_title": rule.title, "title": rule.title}
    return Firing(rule=rule, subject=subject(v), subject_kind="indicator", org=v.org,
                  message=render(rule.message, facts), due_at=None, handler=None, facts=facts)


def render(template: str, values: Mapping[str, object]) -> str:
    """Substitute plain {name} placeholders; unknown names stay as written."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), " ".join(template.split()))


def _plain(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x
