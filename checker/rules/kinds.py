"""The rule kinds: how a validated YAML rule becomes a Rule, and what its message may name.

RULE_KINDS, at the bottom, lists the kinds; each names its own YAML keys as a JSON Schema fragment
(checker.rules.schema puts them together with the common keys), and its parse function gets those keys
(already schema-valid) and a `Parsing` helper, and returns the kind-specific fields.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
import typing
from collections.abc import Collection
from typing import Callable

from ..ingest import derived
from ..ingest.records import KINDS
from .compiler import OPERATORS, sql_condition_problems
from .fragments import DOTTED_ID, IDENTIFIER, TEXT, Schema, array, enum, integer, obj, ref
from . import source
from .model import All, Any, CadenceRule, Check, ChecklistRule, Condition, IndicatorRule, Leaf, Param, RecordRule, Rule
from .problems import Problem

ALWAYS = frozenset({"rule_title", "clause", "standard", "org_name", "title"})
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class RuleKind:
    name: str
    cls: type[Rule]
    parse: Callable[[dict[str, typing.Any], "Parsing"], dict[str, typing.Any]]   # the kind's fields
    template_names: Callable[[dict[str, typing.Any]], set[str]]   # the names a message may use
    properties: Schema                 # the kind's own YAML keys (JSON Schema), beside the common ones
    required: tuple[str, ...]          # which of them a rule must give



class Parsing:
    """Builds condition trees from YAML and collects semantic problems with their paths."""

    def __init__(self, doc: source.Doc, path: source.Path_, params: dict[str, typing.Any]):
        self.doc, self.path, self.params = doc, path, params
        self.problems: list[Problem] = []

    def problem(self, sub: source.Path_, message: str) -> None:
        self.problems.append(self.doc.problem(self.path + tuple(sub), message))

    def condition(self, raw: typing.Any, sub: source.Path_, kind: str, fields: Collection[str],
                  sql: bool = False) -> Condition | None:
        if raw is None:
            return None
        cond = self._node(raw, sub, fields, kind)
        if cond is not None and sql:
            for leaf, message in sql_condition_problems(kind, cond):
                self.problems.append(self._leaf_problem(leaf, f"字段 '{leaf.field}' 不能用于汇总条件（{message}）"))
        return cond

    def _leaf_problem(self, leaf: Leaf, message: str) -> Problem:
        return Problem(self.doc.file, leaf.line, message)

    def _node(self, raw: dict[str, typing.Any], sub: source.Path_, fields: Collection[str], kind: str) -> Condition | None:
        line = self.doc.line(self.path + sub)
        for key, cls in (("all", All), ("any", Any)):
            if key in raw:
                if len(raw) != 1:
                    self.problem(sub, f"条件节点含 '{key}' 时不能再有其他键：{', '.join(k for k in raw if k != key)}")
                    return None
                items = [self._node(c, sub + (key, i), fields, kind) for i, c in enumerate(raw[key])]
                kids = tuple(c for c in items if c is not None)
                return None if len(kids) != len(items) else cls(kids, line)
        return self._leaf(raw, sub, fields, kind, line)

    def _leaf(self, raw: dict[str, typing.Any], sub: source.Path_, fields: Collection[str], kind: str,
              line: int) -> Leaf | None:
        ops = [k for k in raw if k != "field"]
        if "field" not in raw or len(ops) != 1:
            self.problem(sub, "条件必须是 all / any，或 {field: 字段, 运算符: 值}（恰好一个运算符）")
            return None
        op, name = ops[0], raw["field"]
        if name not in fields:
            self.problem(sub + ("field",), f"{kind} 没有字段 '{name}'（可用：{', '.join(sorted(fields))}）")
            return None
        value = self._value(raw[op], sub + (op,), OPERATORS[op].value)
        if value is _BAD:
            return None
        wrong = self._typed(kind, name, op, value)
        for problem in wrong:
            self.problem(sub + (op,), problem)
        return None if wrong else Leaf(name, op, value, line)

    def _typed(self, kind: str, field: str, op: str, value: object) -> list[str]:
        """The value (or the param's value) fits the field it is compared with: a number for a
        number (near_days: one would silently compare text with a number), a listed value for an
        enum, a date for a date."""
        ftype, allowed = field_type(kind, field)
        if op in ("exists", "matches") or ftype is None:
            return []
        out: list[str] = []
        for v in value if isinstance(value, tuple) else (value,):
            actual, named = (self.params[v.name], f"参数 {v.name} 的值") if isinstance(v, Param) else (v, "比较值")
            wrong = _type_problem(ftype, allowed, actual)
            if wrong:
                out.append(f"字段 '{field}' {wrong}，{named} {actual!r} 不符")
        return out

    def _value(self, raw: typing.Any, sub: source.Path_, expects: str) -> object:
        if expects == "list":
            if not raw:
                self.problem(sub, "in / not_in 的值列表不能为空")
                return _BAD
            values = tuple(self._value(v, sub + (i,), "scalar") for i, v in enumerate(raw))
            return _BAD if _BAD in values else values
        if expects == "regex":
            try:
                re.compile(raw)
            except re.error as exc:
                self.problem(sub, f"正则表达式无效：{exc}")
                return _BAD
        if isinstance(raw, dict):
            if raw["param"] not in self.params:
                self.problem(sub, f"未定义的参数 '{raw['param']}'（params 中有：{', '.join(self.params) or '无'}）")
                return _BAD
            return Param(raw["param"])
        return raw


_BAD = object()


NUMERIC = ("int", "float", "bool")


def field_type(kind: str, field: str) -> tuple[str | None, tuple[str, ...]]:
    """(type, enum values) of a record field or a derived fact."""
    rk = KINDS.get(kind)
    if rk is not None and field in rk.columns:
        f = rk.field(field)
        return f.type, tuple(f.values)
    d = derived.get(kind, field)
    return (d.type if d else None), ()


def _type_problem(ftype: str, allowed: tuple[str, ...], v: object) -> str | None:
    if v is None:
        return None
    if ftype in NUMERIC:
        ok = isinstance(v, (int, float)) and (ftype == "bool" or not isinstance(v, bool))
        return None if ok else "是数值"
    if ftype == "enum":
        return None if v in allowed else f"只能是 {'/'.join(allowed)} 之一"
    if ftype in ("date", "datetime"):
        try:
            date.fromisoformat(str(v)[:10])
        except ValueError:
            return "是日期，应写 YYYY-MM-DD"
        return None if isinstance(v, str) else "是日期，应写 YYYY-MM-DD"
    return None


def kind_fields(kind: str) -> set[str]:
    return set(KINDS[kind].columns) | derived.names(kind)


def template_problems(message: str, allowed: set[str]) -> list[str]:
    """What is wrong with a message's placeholders: not plain identifiers, unknown names, or a brace
    left open or closed alone ({overdue_wd would reach people as it is)."""
    out: list[str] = []
    stray = PLACEHOLDER.sub("", message)
    if "{" in stray or "}" in stray:
        at = stray.find("{") if "{" in stray else stray.find("}")
        out.append(f"消息模板的花括号不成对（…{stray[max(0, at - 10):at + 12]}…）：占位符应写 {{字段名}}")
    for name in PLACEHOLDER.findall(message):
        if not IDENT.match(name):
            out.append(f"消息模板占位符 {{{name}}} 无效：只允许 {{字段名}} 形式")
        elif name not in allowed:
            out.append(f"消息模板引用了不存在的字段 {{{name}}}（可用：{', '.join(sorted(allowed))}）")
    return out


# ------------------------------------------------------------------------------ kinds

# The record kinds a record rule may name: those with live-record SQL (checker/store/scan.py LIVE_SQL;
# tests/test_rule_schema.py checks that the two agree).
RECORD_RULE_KINDS = ("cases", "consultations", "complaints", "evaluations", "appointments", "disclosures")
RECORD_KEYS: Schema = {"record": enum(RECORD_RULE_KINDS), "when": ref("condition")}


def _record(raw: dict[str, typing.Any], p: Parsing) -> dict[str, typing.Any]:
    return {"record": raw["record"],
            "when": p.condition(raw["when"], ("when",), raw["record"], kind_fields(raw["record"]))}


TARGET_OPS = ("eq", "gte", "gt", "lte", "lt")          # checker.evaluate.indicators compares with each
INDICATOR_KEYS: Schema = {
    "code": {"type": "string", "pattern": "^[A-Z][0-9]+$"},
    "source": enum(list(KINDS)),
    "where": ref("condition"),
    "numerator": ref("condition"),
    "measure": ref("measure"),
    "denominator_measure": ref("measure"),
    "target": obj({op: {"type": "number"} for op in TARGET_OPS}, minProperties=1),
    "period_field": IDENTIFIER,
}
INDICATOR_NAMES = {"code", "value", "target", "numerator", "denominator", "period", "period_code", "org"}


def _indicator(raw: dict[str, typing.Any], p: Parsing) -> dict[str, typing.Any]:
    source = raw["source"]
    fields = kind_fields(source)
    for key in ("measure", "denominator_measure"):
        m = raw.get(key)
        if isinstance(m, dict) and m["sum"] not in KINDS[source].columns:
            p.problem((key, "sum"), f"{source} 没有可求和的字段 '{m['sum']}'")
    period_field = raw.get("period_field")
    if period_field and period_field not in KINDS[source].columns:
        p.problem(("period_field",), f"{source} 没有字段 '{period_field}'")
    return {"code": raw["code"], "source": source,
            "where": p.condition(raw.get("where"), ("where",), source, fields, sql=True),
            "numerator": p.condition(raw.get("numerator"), ("numerator",), source, fields, sql=True),
            "measure": raw.get("measure", "count"), "denominator_measure": raw.get("denominator_measure"),
            "target": dict(raw.get("target") or {}), "period_field": period_field}   # no target: a figure only


CHECKLIST_KEYS: Schema = {
    "checks": array(obj({"id": DOTTED_ID, "title": TEXT}, ("id", "title")), minItems=1),
    "scope": ref("scope"),
    "max_age_days": integer(1),
    "every_working_day": {"type": "boolean"},
    "lookback_working_days": integer(1),
}
CHECKLIST_NAMES = {"org", "check", "check_title", "last_date", "last_result", "reason", "max_age_days", "day"}


def _checklist(raw: dict[str, typing.Any], p: Parsing) -> dict[str, typing.Any]:
    seen: set[str] = set()
    for i, c in enumerate(raw["checks"]):
        if c["id"] in seen:
            p.problem(("checks", i, "id"), f"检查项 '{c['id']}' 在本规则中重复")
        seen.add(c["id"])
    return {"checks": tuple(Check(c["id"], c["title"]) for c in raw["checks"]),
            "levels": tuple(raw["scope"]["levels"]), "max_age_days": raw.get("max_age_days"),
            "every_working_day": bool(raw.get("every_working_day", False)),
            "lookback_working_days": raw.get("lookback_working_days")}


ACTIVITIES = KINDS["supervisions"].field("kind").values    # supervisions.kind
EVERY_UNITS = ("days", "months", "years")                 # calendar periods (checker.evaluate.supervision)
CADENCE_KEYS: Schema = {
    "activity": {"oneOf": [enum(ACTIVITIES), array(enum(ACTIVITIES), minItems=1, uniqueItems=True)]},
    "every": obj({unit: integer(1) for unit in EVERY_UNITS}, minProperties=1, maxProperties=1),
    "scope": ref("scope"),
    "period_anchor_year": integer(1900),
    "applies_to": enum(("all", "third_party_commissioned")),
}
CADENCE_NAMES = {"org", "activity", "activity_name", "last_date", "window_start", "every_text", "period",
                 "period_label", "period_start", "period_end", "days_left", "state_text"}


def _cadence(raw: dict[str, typing.Any], p: Parsing) -> dict[str, typing.Any]:
    activity = raw["activity"]
    return {"activity": tuple(activity) if isinstance(activity, list) else activity, "every": dict(raw["every"]),
            "levels": tuple(raw["scope"]["levels"]), "period_anchor_year": raw.get("period_anchor_year"),
            "applies_to": raw.get("applies_to")}


# The rule kinds (DESIGN.md "Rules"): the model class, the parser of the kind's own keys, the names
# its message templates may use, and the schema of its own keys with those it requires.
RULE_KINDS: dict[str, RuleKind] = {k.name: k for k in (
    RuleKind("record", RecordRule, _record, lambda raw: kind_fields(raw["record"]),
             RECORD_KEYS, ("record", "when")),
    RuleKind("indicator", IndicatorRule, _indicator, lambda raw: INDICATOR_NAMES,
             INDICATOR_KEYS, ("code", "source")),
    RuleKind("checklist", ChecklistRule, _checklist, lambda raw: CHECKLIST_NAMES,
             CHECKLIST_KEYS, ("checks", "scope")),
    RuleKind("cadence", CadenceRule, _cadence, lambda raw: CADENCE_NAMES,
             CADENCE_KEYS, ("activity", "every", "scope")),
)}
