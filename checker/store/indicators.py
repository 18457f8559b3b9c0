"""SQL of the P1–P9 indicators (DB33/T 2036.7 §5.2–5.3): per-org aggregates rolled up the org tree.

One query per indicator: the source rows of the period are summed per org, then joined to the
org → ancestor closure (a temp table rebuilt per computation) so that every org's figure covers
the org and all orgs below it, in a single GROUP BY.
"""
from __future__ import annotations

import json

from ..records import KINDS, OPEN_CASE_STATUSES

# SQL-capable derived fields: (record kind, name) → an SQL expression over the kind's columns.
# Named parameters they may use: :now (ISO local datetime), :p9_level (int).
SQL_DERIVED: dict[tuple[str, str], str] = {}


def sql_derived(kind: str, name: str, sql: str) -> None:
    """Register the SQL of a derived field for aggregate conditions."""
    SQL_DERIVED[(kind, name)] = f"({sql})"


_CONCLUDED = "status IN ('closed', 'rejected') AND closed_at IS NOT NULL"
_OPEN = ", ".join(f"'{s}'" for s in OPEN_CASE_STATUSES)

sql_derived("cases", "concluded", _CONCLUDED)
sql_derived("cases", "on_time", "closed_at IS NOT NULL AND (due_at IS NULL OR closed_at <= due_at)")
sql_derived("cases", "outcome_known", f"({_CONCLUDED}) OR (status IN ({_OPEN}) AND due_at < :now)")
sql_derived("complaints", "rectified_by_now", "rectified_at IS NOT NULL AND rectified_at <= :now")
sql_derived("evaluations", "onsite", "channel IN ('window', 'pad')")
sql_derived("evaluations", "satisfied", "level >= :p9_level")

_ROLLUP = """
WITH per_org AS (
    SELECT org, SUM(CASE WHEN {num} THEN {measure} ELSE 0 END) AS n, SUM({den_measure}) AS d
    FROM "{source}" WHERE {where} GROUP BY org)
SELECT c.ancestor AS org, SUM(p.n) AS numerator, SUM(p.d) AS denominator
FROM per_org p JOIN temp._org_closure c ON c.org = p.org
WHERE {ancestors}
GROUP BY c.ancestor"""


class IndicatorStore:
    """Aggregates for checker.indicators."""

    def build_org_closure(self) -> int:
        """(Re)build temp._org_closure(ancestor, org): every org paired with itself and each org
        above it. Returns its size."""
        parent = dict(self.conn.execute("SELECT code, parent FROM orgs").fetchall())
        pairs = [(a, code) for code in parent for a in _chain(code, parent)]
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _org_closure (ancestor TEXT, org TEXT)")
        self.conn.execute("DELETE FROM temp._org_closure")
        self.conn.executemany("INSERT INTO temp._org_closure VALUES (?, ?)", pairs)
        self.conn.execute("CREATE INDEX IF NOT EXISTS temp.ix_org_closure ON _org_closure (org, ancestor)")
        return len(pairs)

    def orgs_with_children(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT parent FROM orgs WHERE parent IS NOT NULL AND parent IN (SELECT code FROM orgs)")]

    def org_levels(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT code, level FROM orgs").fetchall())

    def org_names(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT code, name FROM orgs").fetchall())

    def indicator_rollup(self, spec: "AggregateSpec", orgs=None) -> dict[str, tuple]:
        """org → (numerator, denominator) for every org (or those in `orgs`) that has source rows.

        Call build_org_closure() first (once per computation)."""
        where, params = spec.where_sql, dict(spec.params)
        ancestors = "1"
        if orgs is not None:
            ancestors = "c.ancestor IN (SELECT value FROM json_each(:_orgs))"
            params["_orgs"] = json.dumps(list(orgs))
        sql = _ROLLUP.format(num=spec.numerator_sql, measure=spec.measure_sql, where=where,
                             den_measure=spec.denominator_measure_sql, source=spec.source,
                             ancestors=ancestors)
        return {org: (n or 0, d or 0) for org, n, d in self.conn.execute(sql, params)}


def _chain(code: str, parent: dict) -> list[str]:
    """The org and its ancestors (cycle-safe)."""
    out, seen = [], set()
    while code is not None and code not in seen:
        out.append(code)
        seen.add(code)
        code = parent.get(code)
    return out


class AggregateSpec:
    """The SQL pieces of one indicator over one period: checked names, fixed templates only."""

    def __init__(self, source, where_sql, numerator_sql, measure_sql, denominator_measure_sql, params):
        if source not in KINDS:
            raise ValueError(f"unknown record kind {source!r}")
        self.source = source
        self.where_sql, self.numerator_sql = where_sql, numerator_sql
        self.measure_sql, self.denominator_measure_sql = measure_sql, denominator_measure_sql
        self.params = params


def measure_sql(kind: str, measure) -> str:
    """`count` → 1; {sum: FIELD} → the field's value (0 when empty)."""
    if measure in (None, "count"):
        return "1"
    field = measure["sum"]
    if field not in KINDS[kind].columns:
        raise ValueError(f"{kind} has no field {field!r}")
    return f'COALESCE("{field}", 0)'


def period_sql(kind: str, field: str | None, start: str, end: str, params: dict) -> str:
    """Restrict rows to local dates [start, end) on the period field (stored local ISO strings)."""
    if not field:
        return "1"
    if field not in KINDS[kind].columns:
        raise ValueError(f"{kind} has no field {field!r}")
    params.update(_start=start, _end=end)
    return f'("{field}" >= :_start AND "{field}" < :_end)'


# ------------------------------------------------------------------ conditions → SQL
# Interim compiler for indicator conditions, used only while checker.rules.compiler has no SQL
# compiler of its own (see checker.indicators.condition_sql).

_OPS = {"eq": "=", "ne": "IS NOT", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def condition_sql(kind: str, tree, params: dict, rule_params: dict | None = None) -> str:
    """An all/any tree of leaves as an SQL expression; values become named parameters."""
    if not tree:
        return "1"
    if "all" in tree or "any" in tree:
        joiner, parts = (" AND ", tree["all"]) if "all" in tree else (" OR ", tree["any"])
        return "(" + joiner.join(condition_sql(kind, p, params, rule_params) for p in parts) + ")" if parts else "1"
    return _leaf_sql(kind, tree, params, rule_params or {})


def _leaf_sql(kind, leaf, params, rule_params) -> str:
    column = _column(kind, leaf["field"])
    op = next(k for k in leaf if k != "field")
    value = leaf[op]
    if isinstance(value, dict) and "param" in value:
        value = rule_params[value["param"]]
    if op == "exists":
        return f"({column} IS {'NOT ' if value else ''}NULL)"
    if op in ("in", "not_in"):
        names = [_bind(params, v) for v in value]
        return f"({column} {'NOT ' if op == 'not_in' else ''}IN ({', '.join(names) or 'NULL'}))"
    if op == "matches":
        raise ValueError("matches is not supported in aggregate conditions")
    sql_op = "IS NOT" if op == "ne" else _OPS[op]
    return f"({column} {sql_op} {_bind(params, value)})"


def _column(kind: str, field: str) -> str:
    if (kind, field) in SQL_DERIVED:
        return SQL_DERIVED[(kind, field)]
    if field not in KINDS[kind].columns:
        raise ValueError(f"{kind} has no field or SQL derived field {field!r}")
    return f'"{field}"'


def _bind(params: dict, value) -> str:
    name = f"_v{len(params)}"
    params[name] = int(value) if isinstance(value, bool) else value
    return f":{name}"
