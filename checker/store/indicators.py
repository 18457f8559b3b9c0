"""SQL of the P1–P9 indicators (DB33/T 2036.7 §5.2–5.3): per-org aggregates rolled up the org tree.

One query per indicator: the source rows of the period are summed per org, then joined to the
org → ancestor closure (a temp table rebuilt per computation) so that every org's figure covers
the org and all orgs below it, in a single GROUP BY.
"""
from __future__ import annotations

import json

from ..records import KINDS

_ROLLUP = """
WITH per_org AS (
    SELECT org, SUM(CASE WHEN {num} THEN {measure} ELSE 0 END) AS n, SUM({den_measure}) AS d
    FROM "{source}" WHERE {where} GROUP BY org)
SELECT c.ancestor AS org, SUM(p.n) AS numerator, SUM(p.d) AS denominator
FROM per_org p JOIN temp._org_closure c ON c.org = p.org
WHERE {ancestors}
GROUP BY c.ancestor"""


_CLOSURE = """
INSERT INTO temp._org_closure (ancestor, org)
WITH RECURSIVE up(ancestor, org) AS (
    SELECT code, code FROM orgs
    UNION
    SELECT o.parent, up.org FROM up JOIN orgs o ON o.code = up.ancestor WHERE o.parent IS NOT NULL)
SELECT ancestor, org FROM up"""


class IndicatorStore:
    """Aggregates for checker.indicators."""

    def build_org_closure(self) -> int:
        """(Re)build temp._org_closure(ancestor, org): every org paired with itself and each org
        above it (in SQL: UNION stops at a cycle). Returns its size."""
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _org_closure (ancestor TEXT, org TEXT)")
        self.conn.execute("DELETE FROM temp._org_closure")
        self.conn.execute(_CLOSURE)
        self.conn.execute("CREATE INDEX IF NOT EXISTS temp.ix_org_closure ON _org_closure (org, ancestor)")
        return self.scalar("SELECT count(*) FROM temp._org_closure")

    def orgs_with_children(self) -> list[str]:
        return [r[0] for r in self.packed(
            "SELECT DISTINCT parent FROM orgs WHERE parent IS NOT NULL AND parent IN (SELECT code FROM orgs)",
            ["parent"])]

    def org_levels(self) -> dict[str, str]:
        return dict(self.packed("SELECT code, level FROM orgs", ["code", "level"]))

    def org_names(self) -> dict[str, str]:
        return dict(self.packed("SELECT code, name FROM orgs", ["code", "name"]))

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
        return {org: (n or 0, d or 0) for org, n, d in self.packed(sql, ["org", "numerator", "denominator"], params)}


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
