"""SQL of the P1–P9 indicators (DB33/T 2036.7 §5.2–5.3): per-org aggregates rolled up the org tree.

One query per indicator: the source rows of the period are summed per org, then joined to the
org → ancestor closure (a temp table rebuilt per computation) so that every org's figure covers
the org and all orgs below it, in a single GROUP BY.
"""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..ingest import derived
from ..ingest.records import KINDS, OPEN_CASE_STATUSES
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
        self.dialect.empty(self.conn, "temp._org_closure")
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
        A spec over dated records that counts rows (`kept`) sums its kept per-day roll-up, brought up
        to date first (`keep_rollups`); the others (items, sums of a field, working-day clocks) read
        their source: specs over the same table and period share one pass over it (the specs of one
        computation bind into one params dict, so their names do not clash). Call build_org_closure()
        first."""
        orgs = None if orgs is None else list(orgs)
        out: dict[str, dict[str, tuple[Any, Any]]] = {}
        keep = {k: s for k, s in specs.items() if kept(s)}
        for group in rollup_groups(keep):
            try:
                grp = self.keep_rollups(group)
            except Exception as exc:        # a reader that may not write: its specs read their rows
                if not self.dialect.read_only(exc):
                    raise
                keep = {k: s for k, s in keep.items() if k not in dict(group.specs)}
                continue
            out.update(self._kept_sums(grp, group, orgs))
        groups: dict[tuple[str, str], list[str]] = {}
        for key, spec in specs.items():
            if key not in keep:
                groups.setdefault((spec.source, spec.scan_sql), []).append(key)
        for (source, scan), keys in groups.items():
            out.update(self._rollup(source, scan, [(k, specs[k]) for k in keys], orgs))
        return out

    # -------------------------------------------------------------- kept roll-ups (per spec, org, day)

    def keep_rollups(self, group: RollupGroup) -> int:
        """Bring the group's kept roll-up to its `now` and to the records as they are; its id.

        indicator_rollup_rows holds, per record counted, its org, day and bits (two a spec: counted in
        the denominator, in the numerator) as last evaluated; indicator_rollup_days their sums per
        (spec, day, org). The rows to evaluate again: changed since (`_seq`; SQLite: rows appended
        since, by rowid, too) and those whose value may move between the last `now` and this one
        (CLOCK_MOVES); each one's old bits are taken out of its old (org, day) and its new ones added.
        Built anew when it cannot be trusted: a new spec (rules, config), another calendar, items
        changed under a spec that reads them, or the table behind it rebuilt (change counter or last
        rowid gone back). Each step is a short write transaction, one writer at a time (the scan's two
        periods ask at once; a bot's writes go between them): a build goes BUILD_CHUNK records a step,
        resumed by whoever asks next if its process stops."""
        while True:
            with self.transaction():
                self.dialect.serialize(self.conn, "indicator_rollups")
                grp = self._keep_step(group)
            if grp is not None:
                self._drop_orphans()
                return grp

    def _keep_step(self, group: RollupGroup) -> int | None:
        """One step of keep_rollups (in its transaction): the roll-up's id when it is up to date."""
        src = KINDS[group.source]
        state = self.row("SELECT id, ref_now, seq, top, deps, built_to FROM indicator_rollups WHERE signature = ?",
                         (group.signature,))
        newest = seq = int(self.scalar(f'SELECT max(_seq) FROM "{src.name}"') or 0)
        self._above_stamps([src.name, *group.reads], newest)
        settled = self._deadlines_seq() if src.name == "cases" else None   # deadlines final up to here
        if settled is not None:         # (the rows after it are evaluated again until they are)
            seq = min(seq, settled)
        top = self.dialect.last_rowid(self.conn, src.name)
        deps = self._rollup_deps(group)
        if (state is None or state["deps"] != deps or int(state["seq"]) > seq
                or (top is not None and state["top"] is not None and int(state["top"]) > top)):
            self._start_build(group, state, deps, seq, top)
            return None
        grp = int(state["id"])
        if state["built_to"] is not None:
            self._build_chunk(group, grp, state)
            return None
        if state["ref_now"] != group.now or newest > int(state["seq"]) or state["top"] != top:
            self._update_rollup(group, grp, state, top)
        self.conn.execute("UPDATE indicator_rollups SET ref_now = ?, seq = ?, top = ?, used_at = ? WHERE id = ?",
                          (group.now, seq, top, _utc_now(), grp))
        return grp

    def _above_stamps(self, tables: list[str], newest: int) -> None:
        """Move change_seq past every row of `tables` when one is at or above it (as a scan takes its
        own number, RecordStore.scan_seq): a row written in SQL from now on is stamped above what the
        roll-up has seen (checker.store.dialect seq_triggers stamp change_seq + 1, and leave a row
        already at or above change_seq as it is)."""
        current = self.current_seq()
        if newest < current and all(int(self.scalar(f'SELECT max(_seq) FROM "{t}"') or 0) < current
                                    for t in tables[1:]):
            return
        self.pass_stamps()

    def _deadlines_seq(self) -> int | None:
        state = self.scalar("SELECT value FROM meta WHERE key = 'workdays'")
        return int(json.loads(state)["seq"]) if state else None

    def _rollup_deps(self, group: RollupGroup) -> str:
        """What the kept figures rest on besides their own rows: the calendar (deadlines) and the
        items a spec reads (count, last change)."""
        state = json.loads(self.scalar("SELECT value FROM meta WHERE key = 'workdays'") or "{}")
        state.pop("seq", None)
        out: dict[str, Any] = {"workdays": state}
        for table in group.reads:
            count, last = self.conn.execute(f'SELECT count(*), max(_seq) FROM "{table}"').fetchone()
            out[table] = [count, last, self.dialect.last_rowid(self.conn, table)]
        return json.dumps(out, sort_keys=True)

    def _start_build(self, group: RollupGroup, state: Mapping[str, Any] | None, deps: str, seq: int,
                     top: int | None) -> None:
        """A new roll-up for the group, empty, to be built from the first record on (at the group's
        `now`; what changes meanwhile is caught up from `seq` and `top` once it is built). The old one's
        rows are dropped a step at a time (_drop_orphans), as are those of older specs of the kind."""
        if state is not None:
            self.conn.execute("DELETE FROM indicator_rollups WHERE id = ?", (state["id"],))
        for old in self.conn.execute("SELECT id FROM indicator_rollups WHERE source = ? AND field = ? "
                                     "ORDER BY used_at DESC, id DESC", (group.source, group.field)).fetchall()[1:]:
            self.conn.execute("DELETE FROM indicator_rollups WHERE id = ?", (old[0],))
        self.conn.execute("INSERT INTO indicator_rollups (signature, source, field, spec, deps, ref_now, seq, top, "
                          "built_to, used_at, built_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
                          (group.signature, group.source, group.field, group.spec_json, deps, group.now, seq, top,
                           _utc_now(), _utc_now()))

    def _build_chunk(self, group: RollupGroup, grp: int, state: Mapping[str, Any]) -> None:
        """The next BUILD_CHUNK records (by key) of a roll-up being built, evaluated at its `now`."""
        src = KINDS[group.source]
        key = f'"{src.key[0]}"'
        params = {**group.params, "now": state["ref_now"], "_grp": grp, "_from": state["built_to"]}
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _rollup_new "
                          "(rid TEXT PRIMARY KEY, org TEXT, day TEXT, bits INTEGER)")
        # emptied by TRUNCATE on PostgreSQL (dialect.empty): a DELETE left each chunk's rows dead in the
        # temporary table, which autovacuum never visits, so every chunk read all the chunks before it
        self.dialect.empty(self.conn, "temp._rollup_new")
        self.conn.execute(f"INSERT INTO temp._rollup_new (rid, org, day, bits) "
                          f"{group.evaluated_sql(f'{key} > :_from ORDER BY {key} LIMIT {BUILD_CHUNK}')}", params)
        count, last = self.conn.execute("SELECT count(*), max(rid) FROM temp._rollup_new").fetchone()
        self.conn.execute("""INSERT INTO indicator_rollup_rows (grp, rid, org, day, bits)
            SELECT :_grp, rid, org, day, bits FROM temp._rollup_new WHERE bits <> 0
            ON CONFLICT (grp, rid) DO UPDATE SET org = excluded.org, day = excluded.day, bits = excluded.bits""",
                          params)
        for i in range(len(group.specs)):
            self.conn.execute(f"""INSERT INTO indicator_rollup_days (grp, i, day, org, n, d)
                SELECT :_grp, {i}, day, org, n, d FROM (
                    SELECT day, org, SUM((bits >> {2 * i + 1}) & 1) AS n, SUM((bits >> {2 * i}) & 1) AS d
                    FROM temp._rollup_new WHERE bits <> 0 GROUP BY day, org) AS x
                WHERE d <> 0
                ON CONFLICT (grp, i, day, org) DO UPDATE
                SET n = indicator_rollup_days.n + excluded.n, d = indicator_rollup_days.d + excluded.d""", params)
        self.conn.execute("UPDATE indicator_rollups SET built_to = ? WHERE id = ?",
                          (last if count >= BUILD_CHUNK else None, grp))

    def _drop_orphans(self) -> None:
        """Rows of roll-ups no longer kept (rebuilt, or of older specs): BUILD_CHUNK at a time, each a
        short transaction of its own."""
        while True:
            with self.transaction():
                grp = self.scalar("SELECT grp FROM indicator_rollup_days WHERE grp NOT IN "
                                  "(SELECT id FROM indicator_rollups) LIMIT 1")
                if grp is None:
                    return
                gone = self.conn.execute(
                    "DELETE FROM indicator_rollup_rows WHERE grp = :g AND rid IN (SELECT rid FROM "
                    f"indicator_rollup_rows WHERE grp = :g ORDER BY rid LIMIT {BUILD_CHUNK})", {"g": grp}).rowcount
                if gone < BUILD_CHUNK:
                    self.conn.execute("DELETE FROM indicator_rollup_days WHERE grp = ?", (grp,))

    def _update_rollup(self, group: RollupGroup, grp: int, state: Mapping[str, Any], top: int | None) -> None:
        """Evaluate the rows that may have changed again (into temp._rollup_new, bits 0: counted
        nowhere now); what differs from the rows kept moves between the day sums and is written to
        them (a row re-imported as it was writes nothing)."""
        params: dict[str, Any] = {**group.params, "_grp": grp, "_seq": int(state["seq"]),
                                  "_lo": min(state["ref_now"], group.now), "_hi": max(state["ref_now"], group.now)}
        again = ["_seq > :_seq"]
        if top is not None and state["top"] is not None and top != state["top"]:
            again.append(f"{self.dialect.rowid()} > :_top")
            params["_top"] = int(state["top"])
        if state["ref_now"] != group.now:
            again += [f"({moves})" for moves in group.moves]
        for table, columns in (("_rollup_new", "rid TEXT PRIMARY KEY, org TEXT, day TEXT, bits INTEGER"),
                               ("_rollup_old", "rid TEXT PRIMARY KEY, org TEXT, day TEXT, bits INTEGER"),
                               ("_rollup_delta", "org TEXT, day TEXT, bits INTEGER, sign INTEGER")):
            self.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({columns})")
            self.dialect.empty(self.conn, f"temp.{table}")
        for where in again:        # one statement each: each can use its own index
            self.conn.execute(f"INSERT OR IGNORE INTO temp._rollup_new (rid, org, day, bits) "
                              f"{group.evaluated_sql(where)}", params)
        self.conn.execute("""INSERT INTO temp._rollup_old (rid, org, day, bits)
            SELECT r.rid, r.org, r.day, r.bits FROM temp._rollup_new n
            CROSS JOIN indicator_rollup_rows r WHERE r.grp = :_grp AND r.rid = n.rid""", params)
        self.conn.execute(f"""INSERT INTO temp._rollup_delta (org, day, bits, sign)
            SELECT o.org, o.day, o.bits, -1 FROM temp._rollup_old o JOIN temp._rollup_new n ON n.rid = o.rid
            WHERE {_DIFFERS}
            UNION ALL
            SELECT n.org, n.day, n.bits, 1 FROM temp._rollup_new n LEFT JOIN temp._rollup_old o ON o.rid = n.rid
            WHERE n.bits <> 0 AND (o.rid IS NULL OR {_DIFFERS})""")
        for i in range(len(group.specs)):
            self.conn.execute(f"""INSERT INTO indicator_rollup_days (grp, i, day, org, n, d)
                SELECT :_grp, {i}, day, org, n, d FROM (
                    SELECT day, org, SUM(sign * ((bits >> {2 * i + 1}) & 1)) AS n,
                           SUM(sign * ((bits >> {2 * i}) & 1)) AS d
                    FROM temp._rollup_delta GROUP BY day, org) AS x
                WHERE n <> 0 OR d <> 0
                ON CONFLICT (grp, i, day, org) DO UPDATE
                SET n = indicator_rollup_days.n + excluded.n, d = indicator_rollup_days.d + excluded.d""", params)
        self.conn.execute("""DELETE FROM indicator_rollup_rows WHERE grp = :_grp AND rid IN (
            SELECT o.rid FROM temp._rollup_old o JOIN temp._rollup_new n ON n.rid = o.rid WHERE n.bits = 0)""",
                          params)
        self.conn.execute(f"""INSERT INTO indicator_rollup_rows (grp, rid, org, day, bits)
            SELECT :_grp, n.rid, n.org, n.day, n.bits FROM temp._rollup_new n LEFT JOIN temp._rollup_old o ON o.rid = n.rid
            WHERE n.bits <> 0 AND (o.rid IS NULL OR {_DIFFERS})
            ON CONFLICT (grp, rid) DO UPDATE SET org = excluded.org, day = excluded.day, bits = excluded.bits""", params)

    def _kept_sums(self, grp: int, group: RollupGroup, orgs: list[str] | None) -> dict[str, dict[str, tuple[Any, Any]]]:
        """Each spec's period figures per org (its subtree) from the kept per-day sums."""
        params: dict[str, Any] = {"_grp": grp, "_start": group.start, "_end": group.end}
        ancestors = "1 = 1"
        if orgs is not None:
            ancestors = "c.ancestor IN (SELECT value FROM json_each(:_orgs))"
            params["_orgs"] = json.dumps(orgs)
        out: dict[str, dict[str, tuple[Any, Any]]] = {key: {} for key, _ in group.specs}
        for org, i, n, d in self.packed(f"""
                SELECT c.ancestor AS org, b.i AS i, SUM(b.n) AS n, SUM(b.d) AS d
                FROM indicator_rollup_days b JOIN temp._org_closure c ON c.org = b.org
                WHERE b.grp = :_grp AND b.day >= :_start AND b.day < :_end AND {ancestors}
                GROUP BY c.ancestor, b.i""", ["org", "i", "n", "d"], params):
            if d:
                out[group.specs[int(i)][0]][org] = (n or 0, d)
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
    """The SQL pieces of one indicator over one period: checked names, fixed templates only.
    `period_field` (the records' date the period takes) and `fields` (every field the conditions
    name) tell whether a kept roll-up can serve it (`kept`)."""

    def __init__(self, source: str, where_sql: str, numerator_sql: str, measure_sql: str,
                 denominator_measure_sql: str, params: dict[str, Any], scan_sql: str = "1 = 1",
                 period_field: str | None = None, fields: Iterable[str] = ()):
        if source not in KINDS:
            raise ValueError(f"unknown record kind {source!r}")
        self.source, self.scan_sql = source, scan_sql       # scan_sql: the rows to read (the period's)
        self.where_sql, self.numerator_sql = where_sql, numerator_sql
        self.measure_sql, self.denominator_measure_sql = measure_sql, denominator_measure_sql
        self.params = params
        self.period_field, self.fields = period_field, tuple(fields)


# ------------------------------------------------------------------------------ kept roll-ups

# Derived fields whose value moves with `now`, each with the rows whose value may differ between two
# clocks :_lo <= :_hi (local ISO text): a kept roll-up evaluates those rows again when it is brought
# from one `now` to another. A spec naming any other clock-moving field (working days since …, which
# move every row each day) reads its period's rows instead.
_RUNNING_SQL = ", ".join(f"'{s}'" for s in OPEN_CASE_STATUSES if s != "suspended")
_DUE_MOVES = f"cases.status IN ({_RUNNING_SQL}) AND cases.due_at >= :_lo AND cases.due_at <= :_hi"
_PROMISE_MOVES = "consultations.promised_at >= :_lo AND consultations.promised_at <= :_hi"
CLOCK_MOVES: dict[tuple[str, str], str] = {
    ("cases", "overdue"): _DUE_MOVES, ("cases", "outcome_known"): _DUE_MOVES, ("cases", "late"): _DUE_MOVES,
    ("complaints", "rectified_by_now"): "complaints.rectified_at >= :_lo AND complaints.rectified_at <= :_hi",
    ("consultations", "overdue"): _PROMISE_MOVES, ("consultations", "overdue_promise"): _PROMISE_MOVES,
}
# Other tables a kept spec may read (a change to them rebuilds its roll-up: items change seldom).
# A spec reading another record kind (cases.evaluated reads evaluations, which change daily) reads
# its period's rows instead.
_READ_OK = {"items", "workdays", "workday_cals"}
_SPECS_A_GROUP = 30                      # two bits a spec in one 64-bit integer
_FROM = re.compile(r'\bFROM\s+"?(\w+)', re.I)
_NAMED = re.compile(r"(?<!:):([A-Za-z_]\w*)")
_PER_CALL = {"now", "today", "_start", "_end"}
# A kept row (o) whose new evaluation (n; bits 0: counted nowhere now) differs from it.
_DIFFERS = "n.bits = 0 OR n.bits <> o.bits OR n.org <> o.org OR n.day <> o.day"
ROLLUP_VERSION = 1                       # bump when what the roll-up tables hold changes meaning
BUILD_CHUNK = 100_000                    # records a build step evaluates (one short write transaction)


def _clock_fields(spec: AggregateSpec) -> list[str] | None:
    """The clock-moving derived fields the spec's conditions name (None: one without CLOCK_MOVES)."""
    out = []
    for name in spec.fields:
        d = derived.get(spec.source, name)
        if d is None or name in KINDS[spec.source].columns or not re.search(r":(now|today)\b", d.sql):
            continue
        if (spec.source, name) not in CLOCK_MOVES:
            return None
        out.append(name)
    return out


def kept(spec: AggregateSpec) -> bool:
    """Whether a kept per-day roll-up serves the spec: dated records of a kind with a one-column key,
    rows counted (numerator and denominator), its clock-moving fields known, no other record kind read."""
    src = KINDS[spec.source]
    if not spec.period_field or spec.period_field not in src.columns or len(src.key) != 1 or "org" not in src.columns:
        return False
    if spec.measure_sql != "1" or spec.denominator_measure_sql != "1":
        return False
    text = f"{spec.where_sql} {spec.numerator_sql}"
    clock = _clock_fields(spec)
    if clock is None or ":today" in text or (":now" in text and not clock):
        return False
    return set(_FROM.findall(text)) - {spec.source} <= _READ_OK


@dataclass(frozen=True)
class RollupGroup:
    """Kept specs over one kind and date field, at one `now` and for one period: one roll-up."""
    source: str
    field: str
    specs: tuple[tuple[str, AggregateSpec], ...]
    now: str
    start: str
    end: str

    @property
    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _, spec in self.specs:
            out.update(spec.params)
        return out

    @property
    def spec_json(self) -> str:
        """What the roll-up's figures mean: the specs' SQL and the values it binds, bar the clock and period."""
        params = self.params

        def bound(m: re.Match[str]) -> str:       # the value, not the name (names depend on the other rules)
            name = m.group(1)
            return m.group(0) if name in _PER_CALL else "$" + json.dumps(params.get(name), ensure_ascii=False, default=str)
        sql = [[_NAMED.sub(bound, s.where_sql), _NAMED.sub(bound, s.numerator_sql)] for _, s in self.specs]
        return json.dumps([ROLLUP_VERSION, self.source, self.field, sql], ensure_ascii=False)

    @property
    def signature(self) -> str:
        return hashlib.sha256(self.spec_json.encode()).hexdigest()[:24]

    @property
    def reads(self) -> list[str]:
        """The record kinds besides the source the specs read (items)."""
        text = " ".join(f"{s.where_sql} {s.numerator_sql}" for _, s in self.specs)
        return sorted((set(_FROM.findall(text)) - {self.source}) & set(KINDS))

    @property
    def moves(self) -> list[str]:
        return sorted({CLOCK_MOVES[(self.source, f)] for _, s in self.specs for f in _clock_fields(s) or ()})

    def evaluated_sql(self, where: str) -> str:
        """SELECT rid, org, day, bits of the source rows matching `where`, at :now: bit 2i the row
        counts in spec i's denominator, bit 2i+1 in its numerator; 0 without an org or a date (counted
        nowhere)."""
        src = KINDS[self.source]
        bits = " + ".join(
            f"(CASE WHEN ({s.where_sql}) THEN {1 << 2 * i} ELSE 0 END)"
            f" + (CASE WHEN ({s.where_sql}) AND ({s.numerator_sql}) THEN {1 << 2 * i + 1} ELSE 0 END)"
            for i, (_, s) in enumerate(self.specs))
        return (f'SELECT "{src.key[0]}" AS rid, org, substr("{self.field}", 1, 10) AS day, '
                f'CASE WHEN org IS NULL OR "{self.field}" IS NULL THEN 0 ELSE {bits} END AS bits '
                f'FROM "{src.name}" WHERE {where}')      # (`where` may end in ORDER BY … LIMIT …)


def rollup_groups(specs: Mapping[str, AggregateSpec]) -> list[RollupGroup]:
    """The kept specs grouped by kind and date field (at most _SPECS_A_GROUP a group)."""
    by: dict[tuple[str, str], list[tuple[str, AggregateSpec]]] = {}
    for key, spec in sorted(specs.items()):
        assert spec.period_field is not None
        by.setdefault((spec.source, spec.period_field), []).append((key, spec))
    out = []
    for (source, field), items in by.items():
        for at in range(0, len(items), _SPECS_A_GROUP):
            chunk = tuple(items[at:at + _SPECS_A_GROUP])
            p = chunk[0][1].params
            out.append(RollupGroup(source, field, chunk, str(p["now"]), str(p["_start"]), str(p["_end"])))
    return out


def _rollups_built_to(conn: sqlite3.Connection) -> None:
    """Migration: a roll-up is built a step at a time; `built_to` is the last key done (NULL: built)."""
    conn.execute("ALTER TABLE indicator_rollups ADD COLUMN built_to TEXT")


def _rollups(conn: sqlite3.Connection) -> None:
    """Migration: the kept indicator roll-ups (checker.store.indicators.IndicatorStore.keep_rollups)."""
    conn.executescript("""
    CREATE TABLE indicator_rollups (            -- one per group of specs: what it means and how fresh
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        signature TEXT NOT NULL UNIQUE, source TEXT NOT NULL, field TEXT NOT NULL, spec TEXT NOT NULL,
        deps TEXT NOT NULL,                    -- JSON: the calendar and the items it rests on
        ref_now TEXT NOT NULL,                 -- the `now` its rows were evaluated at
        seq INTEGER NOT NULL,                  -- the records' change counter it has seen
        top INTEGER,                           -- SQLite: the source's last rowid it has seen
        used_at TEXT NOT NULL, built_at TEXT NOT NULL
    );
    CREATE TABLE indicator_rollup_rows (        -- each record counted: where, and in what (2 bits a spec)
        grp INTEGER NOT NULL, rid TEXT NOT NULL, org TEXT NOT NULL, day TEXT NOT NULL, bits INTEGER NOT NULL,
        PRIMARY KEY (grp, rid)
    ) WITHOUT ROWID;
    CREATE TABLE indicator_rollup_days (        -- their sums per spec, day and org
        grp INTEGER NOT NULL, i INTEGER NOT NULL, day TEXT NOT NULL, org TEXT NOT NULL,
        n INTEGER NOT NULL, d INTEGER NOT NULL,
        PRIMARY KEY (grp, i, day, org)
    ) WITHOUT ROWID;
    """)


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
