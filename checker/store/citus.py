"""How the PostgreSQL schema distributes on a Citus cluster, and the catalog check that it can.

No Citus runs here: the declaration below is what docs/postgresql.md ("Scale-out: monthly partitions
and Citus") tells an operator to run, and `problems` checks PostgreSQL's own catalog (pg_index,
pg_constraint) against the rules Citus sets for it, so a schema change that would stop the tables
distributing fails a test (tests/test_citus_schema.py) instead of a province's first cluster:

- a distributed table's distribution column is NOT NULL (a row needs a shard), and every primary key
  and unique index of the table and of each of its partitions contains it (a shard can only check
  what it holds);
- a foreign key between two distributed tables carries the distribution column on both sides (the
  two rows are on one shard: the tables are colocated); a distributed table refers to a distributed
  or a reference table only; a reference table refers to reference tables only; a local table (one
  the coordinator keeps: every table not declared here) refers to no distributed table.

`plan_problems` does the same for a statement: from its PostgreSQL plan, what Citus could not push
down to the shards as it stands (tests/test_citus_schema.py runs it on every statement of a scan).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# table → its distribution column. The tables that grow with a province's history go by org (their
# shards answer for their orgs); the record tables' key tables by the record key (a lookup by key is
# one shard). finding_events is colocated with findings (its foreign key needs it).
DISTRIBUTED: dict[str, str] = {
    "cases": "org", "evaluations": "org", "complaints": "org", "consultations": "org",
    "findings": "org", "finding_events": "org",
    "case_keys": "case_no", "evaluation_keys": "id", "complaint_keys": "id", "consultation_keys": "id",
}
# Copied to every worker: small, read by the distributed tables' queries (joins, correlated lookups).
REFERENCE: tuple[str, ...] = ("orgs", "items", "officers", "workdays", "workday_cals", "meta", "rule_seen")


def problems(conn: Any, distributed: Mapping[str, str] | None = None,
             reference: Iterable[str] | None = None) -> list[str]:
    """What in the schema of a PostgreSQL store (its PgConnection) breaks the rules above for this
    declaration (default: DISTRIBUTED, REFERENCE); [] when the tables can be distributed as declared."""
    dist = dict(DISTRIBUTED if distributed is None else distributed)
    ref = set(REFERENCE if reference is None else reference)
    raw = conn.raw
    out: list[str] = []
    root = owners(conn)          # every table and partition of the schema → the table it belongs to
    for table, column in sorted(dist.items()):
        if table not in root.values():
            out.append(f"{table}: declared distributed, not in the schema")
            continue
        row = raw.execute("SELECT a.attnotnull FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) "
                          "AND a.attname = %s AND NOT a.attisdropped", (f'"{table}"', column)).fetchone()
        if row is None:
            out.append(f"{table}: has no distribution column {column}")
            continue
        if not row[0]:
            out.append(f"{table}.{column}: the distribution column may be NULL")
        for rel, index, columns in raw.execute(
                """SELECT c.relname, x.relname, ARRAY(SELECT a.attname::text FROM unnest(i.indkey) AS k(n)
                                                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n)
                   FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid
                   WHERE i.indisunique AND c.relname = ANY(%s) AND c.relnamespace = current_schema()::regnamespace
                   ORDER BY 1, 2""", ([r for r, t in root.items() if t == table],)).fetchall():
            if column not in columns:
                out.append(f"{rel}: unique index {index} ({', '.join(columns)}) lacks the distribution column {column}")
    for rel, name, parent, cols, keys in raw.execute(
            """SELECT c.relname, k.conname, p.relname,
                      ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(n, o)
                            JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o),
                      ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS u(n, o)
                            JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o)
               FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
               WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace ORDER BY 1, 2""").fetchall():
        src, dst = root.get(rel, rel), root.get(parent, parent)
        what = f"{rel}: foreign key {name} ({', '.join(cols)}) → {dst} ({', '.join(keys)})"
        if dst in dist:
            if src not in dist:
                out.append(f"{what}: a {'reference' if src in ref else 'local'} table refers to a distributed one")
            elif (dist[src], dist[dst]) not in zip(cols, keys):
                out.append(f"{what}: lacks the distribution columns {dist[src]} → {dist[dst]}")
        elif src in dist and dst not in ref:
            out.append(f"{what}: a distributed table refers to a local one")
        elif src in ref and dst not in ref:
            out.append(f"{what}: a reference table refers to a local one")
    return out


# ------------------------------------------------------------------ a statement's plan

_JOINS = ("Nested Loop", "Hash Join", "Merge Join")
_CONDITIONS = ("Hash Cond", "Merge Cond", "Join Filter", "Index Cond", "Recheck Cond", "Filter")


def owners(conn: Any) -> dict[str, str]:
    """Every table and partition of a PostgreSQL store's schema (its PgConnection) → the table it
    belongs to (a partition: its partitioned table; a table: itself)."""
    return {str(r[0]): str(r[1]) for r in conn.raw.execute(
        """WITH RECURSIVE up(rel, top) AS (
               SELECT c.oid, c.oid FROM pg_class c
               WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               UNION ALL SELECT i.inhrelid, up.top FROM pg_inherits i JOIN up ON i.inhparent = up.rel)
           SELECT r.relname, t.relname FROM up JOIN pg_class r ON r.oid = up.rel JOIN pg_class t ON t.oid = up.top""")}


def plan_problems(plan: Mapping[str, Any], owner: Mapping[str, str],
                  distributed: Mapping[str, str] | None = None) -> list[str]:
    """What in one statement's plan (the "Plan" of PostgreSQL's EXPLAIN (FORMAT JSON)) a Citus
    cluster distributing the tables as declared (default: DISTRIBUTED) could not push down to the
    shards as it stands; `owner`: partition → its table (`owners`). Two forms:
    - a join whose two sides each read a distributed table, other than on their one distribution
      column (`org = x.org`): each shard holds only its own rows of both, so the rows would have to be
      moved between the workers first (a repartition join at best);
    - a correlated subquery (a SubPlan whose conditions name a relation outside it) reading a
      distributed table, other than on its distribution column (`e.org = cases.org` in every
      condition naming the outer relation): Citus plans one only when it is correlated on the
      distribution column (the outer relation's alias is not followed to its table: the joins of
      the outer query are checked as joins).
    Joins and subqueries of a distributed table with reference and local tables (a scan's temporary
    tables) are not problems: Citus sends the local rows to the workers as an intermediate result."""
    dist = dict(DISTRIBUTED if distributed is None else distributed)
    out: list[str] = []
    _walk(plan, owner, dist, out)
    return out


def _walk(node: Mapping[str, Any], owner: Mapping[str, str], dist: Mapping[str, str], out: list[str]) -> None:
    children = list(node.get("Plans") or [])
    if node.get("Node Type") in _JOINS:
        sides = [c for c in children if c.get("Parent Relationship") in ("Outer", "Inner")]
        if len(sides) == 2:
            outer, inner = (_read(side, owner, dist) for side in sides)
            if outer and inner:
                conditions = [node[k] for k in _CONDITIONS if k in node]
                if node["Node Type"] == "Nested Loop":        # a parameterised inner side holds the join's keys
                    conditions += _conditions(sides[1])
                column = _one_column(outer | inner, dist)
                if column is None or not any(_equated(c, column) for c in conditions):
                    out.append(f"{' '.join(sorted(outer))} joined to {' '.join(sorted(inner))} on "
                               f"{' AND '.join(conditions) or 'nothing'}: not on the distribution column")
    if node.get("Parent Relationship") == "SubPlan" and (problem := _subplan_problem(node, owner, dist)):
        out.append(problem)
    for child in children:
        _walk(child, owner, dist, out)


def _subplan_problem(node: Mapping[str, Any], owner: Mapping[str, str], dist: Mapping[str, str]) -> str | None:
    """A correlated subquery reading distributed tables, unless every condition naming a relation
    outside it equates their one distribution column with that relation's (`org = cases.org`)."""
    read, conditions = _read(node, owner, dist), _conditions(node)
    outside = sorted({q for c in conditions for q in re.findall(r"\b(\w+)\.\w+", re.sub(r"'(?:[^']|'')*'", "", c))}
                     - _aliases(node))
    column = _one_column(read, dist)
    correlating = [c for c in conditions if any(re.search(rf"\b{q}\.", c) for q in outside)]
    if not read or not outside or (column and all(_equated(c, column, outside) for c in correlating)):
        return None
    return (f"{node.get('Subplan Name')}: a subquery on {' '.join(sorted(read))} correlated with "
            f"{' '.join(outside)} by {' AND '.join(conditions)}")


def _one_column(tables: set[str], dist: Mapping[str, str]) -> str | None:
    """The distribution column the distributed `tables` share (None: none, or more than one)."""
    columns = {dist[t] for t in tables}
    return columns.pop() if len(columns) == 1 else None


def _equated(condition: str, column: str, outside: Iterable[str] | None = None) -> bool:
    """Whether a plan condition equates `column` with `column` (`org = x.org`, `(org = cases.org)`),
    that of one of the relations `outside` when given (a correlated subquery's condition)."""
    other = r"(\w+\.)?" if outside is None else "(" + "|".join(map(re.escape, outside)) + r")\."
    return re.search(rf"\b{column}\)? = \(?{other}{column}\b", condition) is not None


def _subtree(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("Plans") or []:
        yield from _subtree(child)


def _read(node: Mapping[str, Any], owner: Mapping[str, str], dist: Mapping[str, str]) -> set[str]:
    """The distributed tables a plan node's subtree reads."""
    tables = {owner.get(n["Relation Name"], n["Relation Name"]) for n in _subtree(node) if "Relation Name" in n}
    return {t for t in tables if t in dist}


def _conditions(node: Mapping[str, Any]) -> list[str]:
    return [str(n[k]) for n in _subtree(node) for k in _CONDITIONS if k in n]


def _aliases(node: Mapping[str, Any]) -> set[str]:
    return {str(n[k]) for n in _subtree(node) for k in ("Alias", "Relation Name") if k in n}
