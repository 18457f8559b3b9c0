"""SQL of the P1–P9 indicators (DB33/T 2036.7 §5.2–5.3): per-org aggregates rolled up the org tree.

One query per indicator: the source rows of the period are summed per org, then joined to the
org → ancestor closure (a temp table rebuilt per computation) so that every org's figure covers
the org and all orgs below it, in a single GROUP BY.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..ingest.records import KINDS
from .base import StoreBase

_ROLLUP = """
WITH per_org AS (
    SELECT org, {sums} FROM "{source}" WHERE {scan} GROUP BY org)
SELECT c.ancestor AS org, {totals}
FROM per_org p JOIN temp._org_closure c ON c.org = p.org
WHERE {ancestors}
GROUP BY c.ancestor"""
_SUMS = ("SUM(CASE WHEN ({where}) AND ({num}) THEN {measure} ELSE 0 END) AS n{i}, "
         "SUM(CASE WHEN ({where}) THEN {den_measure} ELSE 0 END) AS d{i}")
_ROWS = ", SUM(CASE WHEN ({where}) THEN 1 ELSE 0 END) AS k{i}"     # k: the org's rows (it has a figure)

_CLOSURE = """
INSERT INTO temp._org_closure (ancestor, org)
WITH RECURSIVE up(ancestor, org) AS (
    SELECT code, code FROM orgs
    UNION
    SELECT o.parent, up.org FROM up JOIN orgs o ON o.code = up.ancestor WHERE o.parent IS NOT NULL)
SELECT ancestor, org FROM up"""


def _index_runs(conn: sqlite3.Connection) -> None:
    conn.executescript("""
    CREATE TABLE IF NOT EXISTS index_weights (      -- the efficacy index's weights, fixed per evaluation year
        year INTEGER PRIMARY KEY, base_period TEXT NOT NULL, weights TEXT NOT NULL, computed_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS index_runs (         -- every index computed: its rows and the weights used
        id INTEGER PRIMARY KEY AUTOINCREMENT, period TEXT NOT NULL, year INTEGER NOT NULL,
        base_period TEXT NOT NULL, weights TEXT NOT NULL, rows TEXT NOT NULL, now TEXT NOT NULL, computed_at TEXT NOT NULL
    );
    """)


class IndicatorStore(StoreBase):
    """Aggregates for checker.evaluate.indicators."""

    def build_org_closure(self) -> int:
        """(Re)build temp._org_closure(ancestor, org): every org paired with itself and each org
        above it (in SQL: UNION stops at a cycle). Returns its size."""
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _org_closure (ancestor TEXT, org TEXT)")
        self.conn.execute("DELETE FROM temp._org_closure")
        self.conn.execute(_CLOSURE)
        self.conn.execute("CREATE INDEX IF NOT EXISTS temp.ix_org_closure ON _org_closure (org, ancestor)")
        return int(self.scalar("SELECT count(*) FROM temp._org_closure"))

    def orgs_with_children(self) -> list[str]:
        return [r[0] for r in self.packed(
            "SELECT DISTINCT parent FROM orgs WHERE parent IS NOT NULL AND parent IN (SELECT code FROM orgs)",
            ["parent"])]

    def org_levels(self) -> dict[str, str]:
        return dict(self.packed("SELECT code, level FROM orgs", ["code", "level"]))

    def org_names(self) -> dict[str, str]:
        return dict(self.packed("SELECT code, name FROM orgs", ["code", "name"]))

    def indicator_rollups(self, specs: Mapping[str, AggregateSpec],
                          orgs: Iterable[str] | None = None) -> dict[str, dict[str, tuple[Any, Any]]]:
        """key → {org → (numerator, denominator)} for every org (or those in `orgs`) with source rows.
        Specs over the same table and period share one pass over it (the specs of one computation
        bind into one params dict, so their names do not clash). Call build_org_closure() first."""
        groups: dict[tuple[str, str], list[str]] = {}
        for key, spec in specs.items():
            groups.setdefault((spec.source, spec.scan_sql), []).append(key)
        out: dict[str, dict[str, tuple[Any, Any]]] = {}
        for (source, scan), keys in groups.items():
            out.update(self._rollup(source, scan, [(k, specs[k]) for k in keys], orgs))
        return out

    def _rollup(self, source: str, scan: str, specs: list[tuple[str, AggregateSpec]],
                orgs: Iterable[str] | None) -> dict[str, dict[str, tuple[Any, Any]]]:
        params: dict[str, Any] = {}
        ancestors = "1 = 1"
        for _, spec in specs:
            params.update(spec.params)
        if orgs is not None:
            ancestors = "c.ancestor IN (SELECT value FROM json_each(:_orgs))"
            params["_orgs"] = json.dumps(list(orgs))
        # A denominator that counts rows is the org's row count too: k is summed only when it differs
        # (each CASE is evaluated per row of the period: a month is ~180,000 cases at 1M).
        names = [("n", "d") if s.denominator_measure_sql == "1" else ("n", "d", "k") for _, s in specs]
        sums = ", ".join(_SUMS.format(i=i, where=s.where_sql, num=s.numerator_sql, measure=s.measure_sql,
                                      den_measure=s.denominator_measure_sql)
                         + (_ROWS.format(i=i, where=s.where_sql) if len(names[i]) == 3 else "")
                         for i, (_, s) in enumerate(specs))
        columns = [f"{x}{i}" for i in range(len(specs)) for x in names[i]]
        totals = ", ".join(f"SUM(p.{c}) AS {c}" for c in columns)
        sql = _ROLLUP.format(sums=sums, source=source, scan=scan, totals=totals, ancestors=ancestors)
        out: dict[str, dict[str, tuple[Any, Any]]] = {key: {} for key, _ in specs}
        for row in self.packed(sql, ["org"] + columns, params):
            got = dict(zip(columns, row[1:]))
            for i, (key, _) in enumerate(specs):
                n, d = got[f"n{i}"], got[f"d{i}"]
                if got.get(f"k{i}", d):
                    out[key][row[0]] = (n or 0, d or 0)
        return out

    # ---------------------------------------------------------------- the efficacy index's runs

    def index_weights(self, year: int) -> tuple[str, str] | None:
        """(base period, weights JSON) stored for an evaluation year."""
        row = self.conn.execute("SELECT base_period, weights FROM index_weights WHERE year = ?", (year,)).fetchone()
        return (row[0], row[1]) if row else None

    def save_index_weights(self, year: int, base_period: str, weights: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR IGNORE INTO index_weights (year, base_period, weights, computed_at) "
                              "VALUES (?, ?, ?, ?)", (year, base_period, weights, _utc_now()))

    def record_index_run(self, period: str, year: int, base_period: str, weights: str, rows: str, now: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT INTO index_runs (period, year, base_period, weights, rows, now, computed_at) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (period, year, base_period, weights, rows, now, _utc_now()))


def _utc_now() -> str:
    """When an index run was computed (an audit stamp, the same text on both stores)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class AggregateSpec:
    """The SQL pieces of one indicator over one period: checked names, fixed templates only."""

    def __init__(self, source: str, where_sql: str, numerator_sql: str, measure_sql: str,
                 denominator_measure_sql: str, params: dict[str, Any], scan_sql: str = "1 = 1"):
        if source not in KINDS:
            raise ValueError(f"unknown record kind {source!r}")
        self.source, self.scan_sql = source, scan_sql       # scan_sql: the rows to read (the period's)
        self.where_sql, self.numerator_sql = where_sql, numerator_sql
        self.measure_sql, self.denominator_measure_sql = measure_sql, denominator_measure_sql
        self.params = params


def measure_sql(kind: str, measure: object) -> str:
    """`count` → 1; {sum: FIELD} → the field's value (0 when empty)."""
    if measure in (None, "count"):
        return "1"
    if not isinstance(measure, Mapping):
        raise ValueError(f"measure {measure!r} is neither count nor {{sum: FIELD}}")
    field = measure["sum"]
    if field not in KINDS[kind].columns:
        raise ValueError(f"{kind} has no field {field!r}")
    return f'COALESCE("{field}", 0)'


def period_sql(kind: str, field: str | None, start: str, end: str, params: dict[str, Any]) -> str:
    """Restrict rows to local dates [start, end) on the period field (stored local ISO strings)."""
    if not field:
        return "1 = 1"
    if field not in KINDS[kind].columns:
        raise ValueError(f"{kind} has no field {field!r}")
    params.update(_start=start, _end=end)
    return f'("{field}" >= :_start AND "{field}" < :_end)'
