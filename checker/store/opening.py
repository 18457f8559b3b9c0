"""SQL of opening a scan's new record findings set-wise (checker.findings.opening): one INSERT … SELECT
over the fired pairs that open (temp._changes rows without a finding), facts as JSON text and the
message built by SQL the way the Python path writes them, then inserted with their open events in
statements of OPEN_CHUNK findings."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..ingest.records import KINDS
from .base import StoreBase
from .findings import NO_ORG

if TYPE_CHECKING:
    from ..findings.opening import Fact, OpenSpec

# The new findings a statement opens (with their open events). PostgreSQL checks each event's foreign
# key to its finding at the end of the statement (an AFTER trigger per row, queued): a statement whose
# new findings outgrow the buffer cache (150,000 findings, 217 MB beside the default 128 MB
# shared_buffers) reads each one back for its check and dirties its page again (the check locks the
# row: FOR KEY SHARE): 45,669 reads of the findings' pages in one statement, 22,838 in chunks of
# 20,000 (about 30 MB each). How the checks are planned: OpeningStore.open_staged, dialect.replan.
OPEN_CHUNK = 20_000

# checker.findings.messages._text of a stored ISO time: "YYYY-MM-DD HH:MM"
_ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}.*"


def _text(f: Fact, value: str) -> str:
    """SQL of messages._text(value) for a fact of type f.type."""
    if f.type == "bool":
        return f"(CASE WHEN {value} IS NULL THEN '—' WHEN {value} <> 0 THEN '是' ELSE '否' END)"
    if f.type == "int":
        return f"COALESCE(CAST({value} AS TEXT), '—')"
    if f.type == "float":
        return (f"(CASE WHEN {value} IS NULL THEN '—' WHEN {value} = CAST({value} AS INTEGER) "
                f"THEN CAST(CAST({value} AS INTEGER) AS TEXT) ELSE CAST({value} AS TEXT) END)")
    # the regular expression only where it can match (a 'T' 11th): on SQLite each call is one into
    # Python, and most values (codes, names) have none
    return (f"(CASE WHEN {value} IS NULL THEN '—' WHEN substr(CAST({value} AS TEXT), 11, 1) = 'T' AND "
            f"regexp_full('{_ISO}', {value}) = 1 "
            f"THEN substr({value}, 1, 10) || ' ' || substr({value}, 12, 5) ELSE CAST({value} AS TEXT) END)")


def _json(f: Fact, value: str) -> str:
    """SQL of the fact's value as JSON text (json.dumps of the Python path's value)."""
    if f.type == "bool":
        return f"(CASE WHEN {value} IS NULL THEN 'null' WHEN {value} <> 0 THEN 'true' ELSE 'false' END)"
    return f"json_quote({value})"


class OpeningStore(StoreBase):
    """The set-wise opening of new record findings: staged (each record read once), routed, inserted."""

    def stage_new(self, specs: Sequence[OpenSpec], params: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
        """temp._open: the findings the fired pairs that open (temp._changes rows without a finding)
        make, message and facts built; returns their (rule, org, handler), each once (what routing
        decides on). `params`: the derived fields' (:now, :today, config)."""
        self.conn.execute("DROP TABLE IF EXISTS temp._open")
        self.conn.execute("CREATE TABLE temp._open (fingerprint TEXT, rule TEXT, clause TEXT, standard TEXT, "
                          "subject TEXT, subject_kind TEXT, org TEXT, handler TEXT, severity TEXT, message TEXT, "
                          "due_at TEXT, data TEXT)")
        if not specs:
            return []
        binds: dict[str, Any] = dict(params)
        parts = [_select(i, spec, binds) for i, spec in enumerate(specs)]
        with_ = ", ".join(f"_v{i} AS MATERIALIZED ({values})" for i, (values, _) in enumerate(parts))
        self.conn.execute(f"INSERT INTO temp._open WITH {with_} {' UNION ALL '.join(select for _, select in parts)}",
                          binds)
        return [(r, o, h) for r, o, h in self.conn.execute("SELECT DISTINCT rule, org, handler FROM temp._open")]

    def route_staged(self, routes: Iterable[tuple[str, str | None, str | None, str | None, str | None]]) -> None:
        """temp._opening: the staged findings (stage_new) with their routes (`routes`: rule, org,
        handler, assignee, supervisor), in fingerprint order (the order the Python path numbers
        them in). Joined and sorted here, before a scan's write lock, so that under it open_staged
        copies them in order (1M, 4,855 opened: 15 ms of the insert's 85 ms)."""
        self.conn.execute("DROP TABLE IF EXISTS temp._routes")
        self.conn.execute("CREATE TABLE temp._routes (rule TEXT, org TEXT, handler TEXT, assignee TEXT, supervisor TEXT)")
        self.conn.executemany("INSERT INTO temp._routes VALUES (?, ?, ?, ?, ?)",
                              [(r, o or "", h or "", a, s) for r, o, h, a, s in routes])
        self.conn.execute("CREATE UNIQUE INDEX temp.ix_routes ON _routes (rule, org, handler)")
        self.conn.execute("DROP TABLE IF EXISTS temp._opening")
        self.conn.execute("CREATE TABLE temp._opening (_n INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT, "
                          "rule TEXT, clause TEXT, standard TEXT, subject TEXT, subject_kind TEXT, org TEXT, "
                          "severity TEXT, message TEXT, assignee TEXT, supervisor TEXT, due_at TEXT, data TEXT)")
        self.conn.execute("""INSERT INTO temp._opening (fingerprint, rule, clause, standard, subject, subject_kind,
                org, severity, message, assignee, supervisor, due_at, data)
            SELECT o.fingerprint, o.rule, o.clause, o.standard, o.subject, o.subject_kind, COALESCE(o.org, :_no_org),
                   o.severity, o.message, t.assignee, t.supervisor, o.due_at, o.data
            FROM temp._open o LEFT JOIN temp._routes t ON t.rule = o.rule AND t.org = COALESCE(o.org, '')
                 AND t.handler = COALESCE(o.handler, '')
            ORDER BY o.fingerprint""", {"_no_org": NO_ORG})     # a finding of no org: stored as NO_ORG

    def open_staged(self, at: str, scan_id: int) -> int:
        """The staged and routed findings (route_staged) inserted open, in fingerprint order, and
        their open events, OPEN_CHUNK findings a statement; how many opened."""
        last = int(self.scalar("SELECT COALESCE(max(_n), 0) FROM temp._opening"))
        if last:                     # the events' key checks planned on the findings of the first chunk
            self.dialect.replan(self.conn)
        n = sum(self._open_chunk(at, scan_id, lo, lo + OPEN_CHUNK) for lo in range(0, last, OPEN_CHUNK))
        self.dialect.analyze(self.conn, "findings", added=n)       # the next statements join findings
        return n

    def _open_chunk(self, at: str, scan_id: int, lo: int, hi: int) -> int:
        """The staged findings numbered in (lo, hi] inserted open with their open events."""
        binds: dict[str, Any] = {"_at": at, "_scan": scan_id, "_lo": lo, "_hi": hi}
        insert = """INSERT INTO findings (fingerprint, rule, clause, standard, kind, subject,
                subject_kind, org, severity, status, message, assignee, supervisor, opened_at, due_at, last_seen_at,
                last_scan_id, data)
            SELECT fingerprint, rule, clause, standard, 'record', subject, subject_kind, org, severity,
                   'open', message, assignee, supervisor, :_at, due_at, :_at, :_scan, data
            FROM temp._opening WHERE _n > :_lo AND _n <= :_hi ORDER BY _n"""
        events = """INSERT INTO finding_events (finding_id, org, at, actor, action, from_status, to_status, data)
            SELECT f.id, f.org, :_at, 'system', 'open', NULL, 'open',
                   '{"assignee": ' || json_quote(f.assignee) || ', "scan_id": ' || CAST(:_scan AS TEXT) || '}'"""
        if self.dialect.modifying_with:
            # The events from the inserted rows themselves (RETURNING): no join of the new findings
            # back to the staged ones by fingerprint (10M cases, 533,000 opened: 37.8 s → 30.4 s)
            return int(self.conn.execute(f"WITH f AS ({insert} RETURNING id, org, assignee, fingerprint) "
                                         f"{events} FROM f ORDER BY f.fingerprint", binds).rowcount)
        # The inserted rows are those numbered after the highest id before (AUTOINCREMENT, in this
        # write transaction), in fingerprint order: read back by that id range, not joined to the
        # staged ones by fingerprint (1M, 4,855 opened: 26 ms → 5 ms)
        binds["_after"] = int(self.scalar("SELECT COALESCE(max(id), 0) FROM findings"))
        n = int(self.conn.execute(insert, binds).rowcount)
        self.conn.execute(f"{events} FROM findings f WHERE f.id > :_after ORDER BY f.id", binds)
        return n


def _select(i: int, spec: OpenSpec, binds: dict[str, Any]) -> tuple[str, str]:
    """One rule's new findings: the SELECT of each one's values from its record (each computed once:
    a materialized CTE `_v<i>`) and the SELECT of temp._open's columns from them. Adds its bound
    values to `binds`."""
    p = f"_o{i}"
    binds.update({f"{p}rule": spec.rule, f"{p}clause": spec.clause, f"{p}standard": spec.standard,
                  f"{p}severity": spec.severity, f"{p}kind": spec.kind, f"{p}due": spec.rectify_due})
    read = [f for f in spec.facts if f.const is None]
    columns = ", ".join(f"{_value(f, spec)} AS _f{j}" for j, f in enumerate(read))
    due = f'CASE WHEN "{spec.kind}".due_at > :now THEN "{spec.kind}".due_at ELSE :{p}due END' if spec.own_due \
        else f":{p}due"
    values = (f"SELECT _c.fingerprint AS _fp, _c.subject AS _subject, {_org(spec)} AS _org, "
              f"{_handler(spec)} AS _handler, {due} AS _due{', ' if columns else ''}{columns} "
              f"{_pairs(spec, ':' + p + 'rule')}")
    names = {f.name: f"_v._f{j}" for j, f in enumerate(read)}
    data = " || ', ' || ".join(f"'\"{f.name}\": ' || {_json_of(f, names, binds, f'{p}c{j}')}"
                               for j, f in enumerate(spec.facts)) or "''"
    message = " || ".join(_piece(text, name, spec, names, binds, f"{p}t{j}")
                          for j, (text, name) in enumerate(spec.message))
    select = (f"SELECT _v._fp, :{p}rule, :{p}clause, :{p}standard, _v._subject, :{p}kind, _v._org, _v._handler, "
              f":{p}severity, {message}, _v._due, '{{' || {data} || '}}' FROM _v{i} AS _v")
    return values, select


def _pairs(spec: OpenSpec, rule: str) -> str:
    """FROM … WHERE of a rule's fired pairs that open (_c), joined to their records (by the kind's name)."""
    kind = KINDS[spec.kind].name
    return (f'FROM temp._changes _c JOIN "{kind}" ON "{kind}"."{spec.key}" = _c.subject '
            f"WHERE _c.id IS NULL AND _c.rule = {rule}")


def _org(spec: OpenSpec) -> str:
    return f'"{spec.kind}".org' if "org" in KINDS[spec.kind].columns else "NULL"


def _handler(spec: OpenSpec) -> str:
    return f'"{spec.kind}"."handler"' if spec.handler else "NULL"


def _value(f: Fact, spec: OpenSpec) -> str:
    """SQL of a fact read from the record (a column or derived expression, or the org's name as
    the scan's org_names has it: the org's code when it has no row)."""
    if f.sql is not None:
        return f"({f.sql})"
    if f.const is None:                               # the org's name (findings.opening.ORG_NAME)
        org = _org(spec)
        return (f"(CASE WHEN {org} IS NULL THEN NULL WHEN EXISTS (SELECT 1 FROM orgs _g WHERE _g.code = {org}) "
                f"THEN (SELECT _g.name FROM orgs _g WHERE _g.code = {org}) ELSE {org} END)")
    return "NULL"                                      # a constant (its JSON is bound, _json_of)


def _json_of(f: Fact, values: dict[str, str], binds: dict[str, Any], name: str) -> str:
    if f.const is not None:
        binds[name] = f.const
        return f":{name}"
    return _json(f, values[f.name])


def _piece(text: str, fact: str | None, spec: OpenSpec, values: dict[str, str], binds: dict[str, Any],
           name: str) -> str:
    binds[name] = text
    if fact is None:
        return f":{name}"
    f = next(f for f in spec.facts if f.name == fact)
    return f":{name} || {_text(f, values[fact])}"
