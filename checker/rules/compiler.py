"""Condition trees → durable-rules JSON (record rules) and → parametrised SQL (aggregates).

OPERATORS lists the operators; each gives its durable-rules form and its SQL form.
Nothing is evaluated: values are constants or rule params resolved here, SQL values are bound.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from ..ingest import derived as derived_mod
from ..ingest.records import KINDS
from .model import All, Condition, Leaf, Param, RecordRule, leaves

Bind = Callable[[Any], str]                     # a value → the placeholder it is bound to (:_c0 …)
DrForm = Callable[[str, Any], dict[str, Any]]    # (field, value) → durable-rules expression
SqlForm = Callable[[str, Any, Bind], str]        # (column, value, bind) → SQL text

SINK_PRIORITY = 1000          # durable-rules runs lower `pri` first; the sink comes last
EVENT_MARK = "_gw"            # every event we post carries it; the sink matches on it


@dataclass(frozen=True)
class Operator:
    name: str
    value: str               # scalar | list | bool | regex: what the YAML value must be
    dr: DrForm               # (field, value) -> durable-rules expression
    sql: SqlForm             # (column, value, bind) -> SQL text


def _cmp(dr_op: str | None, sql_op: str) -> tuple[DrForm, SqlForm]:
    """A comparison's two forms: durable-rules (`eq` is the bare {field: value}) and SQL."""
    def dr(f: str, v: Any) -> dict[str, Any]:
        return {dr_op: {f: v}} if dr_op else {f: v}

    def sql(c: str, v: Any, bind: Bind) -> str:
        return f"{c} {sql_op} {bind(v)}"
    return dr, sql


def _in_dr(f: str, v: Any) -> dict[str, Any]:
    return {"$or": [{f: x} for x in v]}


def _in_sql(c: str, v: Any, bind: Bind) -> str:
    return f"{c} IN ({', '.join(bind(x) for x in v)})"


def _not_in_dr(f: str, v: Any) -> dict[str, Any]:
    return {"$and": [{"$neq": {f: x}} for x in v]}


def _not_in_sql(c: str, v: Any, bind: Bind) -> str:
    return f"{c} NOT IN ({', '.join(bind(x) for x in v)})"


def _exists_dr(f: str, v: Any) -> dict[str, Any]:
    return {"$ex" if v else "$nex": {f: 1}}


def _exists_sql(c: str, v: Any, bind: Bind) -> str:
    return f"{c} IS {'NOT ' if v else ''}NULL"


def _matches_dr(f: str, v: Any) -> dict[str, Any]:
    """Full match of a regular expression (durable-rules' dialect: . * + ? [] () |)."""
    return {"$mt": {f: v}}


def _matches_sql(c: str, v: Any, bind: Bind) -> str:
    return f"regexp_full({bind(v)}, {c})"


# The leaf operators of the rule language (DESIGN.md "Rules"); the rule schema's `condition` is made
# from this table (checker.rules.rule_schema).
OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator("eq", "scalar", *_cmp(None, "=")),
    Operator("ne", "scalar", *_cmp("$neq", "!=")),
    Operator("lt", "scalar", *_cmp("$lt", "<")),
    Operator("lte", "scalar", *_cmp("$lte", "<=")),
    Operator("gt", "scalar", *_cmp("$gt", ">")),
    Operator("gte", "scalar", *_cmp("$gte", ">=")),
    Operator("in", "list", _in_dr, _in_sql),
    Operator("not_in", "list", _not_in_dr, _not_in_sql),
    Operator("exists", "bool", _exists_dr, _exists_sql),
    Operator("matches", "regex", _matches_dr, _matches_sql),
)}


def resolve(value: object, params: dict[str, Any]) -> Any:
    """A leaf value with {param: NAME} references replaced by the rule's params."""
    if isinstance(value, Param):
        return params[value.name]
    if isinstance(value, tuple):
        return [resolve(v, params) for v in value]
    return value


# ---------------------------------------------------------------- durable-rules JSON

def to_dr(cond: Condition, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A condition tree as a durable-rules expression."""
    params = params or {}
    if isinstance(cond, Leaf):
        return OPERATORS[cond.op].dr(cond.field, resolve(cond.value, params))
    key = "$and" if isinstance(cond, All) else "$or"
    items = [to_dr(c, params) for c in cond.items]
    return items[0] if len(items) == 1 else {key: items}


def ruleset(rule: RecordRule) -> dict[str, Any]:
    """The durable-rules ruleset of a record rule: the rule and a low-priority sink (no `run` yet)."""
    assert rule.when is not None, "a record rule has a condition (the rule schema requires `when`)"
    match = {"$and": [{"$ex": {EVENT_MARK: 1}}, to_dr(rule.when, rule.params)]}
    return {"fire": {"all": [{"m": match}]},
            "sink": {"all": [{"m": {"$ex": {EVENT_MARK: 1}}}], "pri": SINK_PRIORITY}}


# ---------------------------------------------------------------- SQL

class SQLError(ValueError):
    """A condition names something SQL cannot compute."""


def column(kind: str, name: str) -> str:
    """The SQL of a field or an SQL-capable derived field of a kind (names are never interpolated
    unless they are known columns)."""
    if name in KINDS[kind].columns:
        return f'"{name}"'
    expr = derived_mod.sql_expression(kind, name)
    if expr is None:
        raise SQLError(f"{kind} 没有可用于 SQL 的字段 {name!r}")
    return expr


def to_sql(kind: str, cond: Condition | None, params: dict[str, Any] | None = None, bound: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """A condition tree as an SQL boolean expression with named parameters (:_c0, :_c1 …);
    derived fields may also need :now, :p9_level, :p7_depth and :p7_any_online from the caller. Returns (sql, bound)."""
    bound = {} if bound is None else bound
    if cond is None:
        return "1 = 1", bound
    return _sql(kind, cond, params or {}, bound), bound


def to_sql_parts(kind: str, cond: Condition | None, params: dict[str, Any] | None = None,
                 bound: dict[str, Any] | None = None) -> tuple[list[str], dict[str, Any]]:
    """to_sql's condition as its top-level conjuncts (an `all` gives one per item; their AND, in
    parentheses, is to_sql's text), binding the same parameters."""
    bound = {} if bound is None else bound
    if cond is None:
        return ["1 = 1"], bound
    items = cond.items if isinstance(cond, All) else (cond,)
    return [_sql(kind, c, params or {}, bound) for c in items], bound


def _sql(kind: str, cond: Condition, params: dict[str, Any], bound: dict[str, Any]) -> str:
    if isinstance(cond, Leaf):
        def bind(v: Any) -> str:
            name = f"_c{len(bound)}"
            bound[name] = int(v) if isinstance(v, bool) else v
            return f":{name}"
        return "(" + OPERATORS[cond.op].sql(column(kind, cond.field), resolve(cond.value, params), bind) + ")"
    joiner = " AND " if isinstance(cond, All) else " OR "
    return "(" + joiner.join(_sql(kind, c, params, bound) for c in cond.items) + ")"


_CLOCK = re.compile(r"(?<![\w:]):(now|today)\b")


def on_clock(sql: str) -> bool:
    """Whether a compiled condition reads the clock (:now or :today)."""
    return _CLOCK.search(sql) is not None


def at_previous(sql: str) -> str:
    """A compiled condition at another clock: its :now and :today (the derived fields' clock
    parameters) renamed :_prev_now and :_prev_today, everything else the same."""
    return _CLOCK.sub(lambda m: f":_prev_{m.group(1)}", sql)


def sql_condition_problems(kind: str, cond: Condition | None) -> list[tuple[Leaf, str]]:
    """(leaf, message) for each leaf SQL cannot compute."""
    out: list[tuple[Leaf, str]] = []
    for leaf in leaves(cond):
        try:
            column(kind, leaf.field)
        except SQLError as exc:
            out.append((leaf, str(exc)))
    return out

