"""SQL of findings, their audit trail (finding_events) and the lookups the lifecycle needs."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable
from typing import Any

from ..statuses import ACTIVE_STATUSES, CLOSED_STATUSES, sql_list
from .base import StoreBase
from .dialect import add_foreign_key, drop_foreign_keys_to, rekey, set_not_null, table_columns

# The org a finding of no org is stored with, on both stores (migration 0200): `org` is the column a
# Citus cluster distributes findings and their events by, and a distribution value cannot be NULL.
# No real org code is empty (an org's `code` is required, and every record's `org` must name an org).
# The store maps it back to None at its boundary: above the store such a finding has `org=None`.
NO_ORG = ""


def org_in(org: str | None) -> str:
    """A finding's org as stored (None: NO_ORG)."""
    return NO_ORG if org is None else org


def org_out(column: str = "org") -> str:
    """SQL of a stored finding org `column` as the store returns it: NULL for NO_ORG."""
    return f"NULLIF({column}, '{NO_ORG}')"


def orgs_out(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows read with `SELECT *` from findings or finding_events: NO_ORG back to None."""
    for r in rows:
        if r.get("org") == NO_ORG:
            r["org"] = None
    return rows


_LIST_COLUMNS = """id, rule, clause, standard, subject, {org} AS org, severity, status, message, assignee,
    opened_at, due_at, resolved_at, supervisor, kind, subject_kind, verified_at,
    max(COALESCE(last_seen_at, ''),
        CASE WHEN status IN ({active}) THEN COALESCE((SELECT seen_at FROM rule_seen WHERE rule_seen.rule = findings.rule), '')
        ELSE '' END) AS last_seen_at,
    reopen_count, rebound_count, persist_count, escalation_level""".format(active=sql_list(ACTIVE_STATUSES),
                                                                            org=org_out())

_INSERT = """INSERT INTO findings (fingerprint, rule, clause, standard, kind, subject, subject_kind, org,
    severity, status, message, assignee, supervisor, opened_at, due_at, last_seen_at, last_scan_id, data)
    VALUES (:fingerprint, :rule, :clause, :standard, :kind, :subject, :subject_kind, :org,
    :severity, 'open', :message, :assignee, :supervisor, :at, :due_at, :at, :scan_id, :data)"""

# A finding still firing gets its current message and deadline; `data` keeps the facts of when it
# opened (the message carries today's figures, e.g. overdue working days).
_TOUCH = """UPDATE findings SET message = :message, due_at = :due_at, severity = :severity,
    last_seen_at = :at, last_scan_id = :scan_id WHERE id = :id"""

# An event carries its finding's org (the distribution column of both tables on Citus), which
# add_events reads from the findings (a plain VALUES row: Citus routes it to its shard).
_EVENT = """INSERT INTO finding_events (finding_id, org, at, actor, action, from_status, to_status, note,
    evidence_path, evidence_sha256, data)
    VALUES (:finding_id, :org, :at, :actor, :action, :from_status, :to_status, :note,
    :evidence_path, :evidence_sha256, :data)"""

_EVENT_KEYS = ("finding_id", "at", "actor", "action", "from_status", "to_status", "note",
               "evidence_path", "evidence_sha256", "data")

# Columns a lifecycle change may set besides status (never user-named: fixed here).
_SETTABLE = ("resolved_at", "verified_at", "cleared_at", "reopen_count", "rebound_count", "persist_count", "assignee", "supervisor",
             "escalation_level", "escalated_at", "reminded_at", "message", "due_at", "severity",
             "last_seen_at", "last_scan_id", "data")


_RECONCILE_COLS = ("id, fingerprint, rule, subject, status, verified_at, cleared_at, assignee, supervisor, message, "
                   "due_at, severity")


_ACTIVE_SQL = sql_list(ACTIVE_STATUSES)

# An active record finding was last seen when its rule was (rule_seen); a finding that leaves the
# active statuses keeps that time in its own row (SET expressions read the row as it was).
_KEEP_SEEN = f"""last_seen_at = CASE WHEN status IN ({_ACTIVE_SQL}) THEN NULLIF(max(COALESCE(last_seen_at, ''),
    COALESCE((SELECT seen_at FROM rule_seen WHERE rule_seen.rule = findings.rule), '')), '') ELSE last_seen_at END"""


# ------------------------------------------------------------------ migrations: findings distributable by org

def _findings_org_not_null(conn: sqlite3.Connection) -> None:
    """0200: a finding of no org has the org NO_ORG instead of NULL (both stores), NOT NULL DEFAULT NO_ORG."""
    set_not_null(conn, "findings", "org", NO_ORG)


def _finding_events_org(conn: sqlite3.Connection) -> None:
    """0201: each event carries its finding's org (both stores; written by add_events from now on),
    existing events filled from their findings. PostgreSQL: the key becomes (id, org, at)."""
    if "org" not in table_columns(conn, "finding_events"):
        conn.execute(f"ALTER TABLE finding_events ADD COLUMN org TEXT NOT NULL DEFAULT '{NO_ORG}'")
    conn.execute("""UPDATE finding_events AS e SET org = f.org FROM findings AS f
                    WHERE f.id = e.finding_id AND f.org <> ? AND e.org <> f.org""", (NO_ORG,))
    rekey(conn, "finding_events", ("id", "org", "at"))


def _findings_keys_by_org(conn: sqlite3.Connection) -> None:
    """0202, PostgreSQL (SQLite keeps its keys, and enforces no foreign keys): findings keyed (id, org)
    and unique by (fingerprint, org), the events' foreign key (finding_id, org) → findings (id, org),
    and none from the outbox (a local queue; what stands for its key: docs/postgresql.md)."""
    drop_foreign_keys_to(conn, "findings")
    rekey(conn, "findings", ("id", "org"), [("fingerprint", "org")])
    add_foreign_key(conn, "finding_events", ("finding_id", "org"), "findings", ("id", "org"))


def _finding_seen_folded(conn: sqlite3.Connection) -> None:
    """0203: finding_seen (a finding's last-seen time, written before rule_seen replaced it in 0055 and
    no longer written) folded into findings.last_seen_at and dropped, so the findings list reads
    findings and rule_seen alone. A scan's time never goes back (checker.evaluate.scanclock), so
    every later write of last_seen_at is at least the folded time, and the list reads the same."""
    if not table_columns(conn, "finding_seen"):
        return
    conn.execute("""UPDATE findings AS f SET last_seen_at = s.seen_at FROM finding_seen AS s
                    WHERE s.finding_id = f.id AND s.seen_at > COALESCE(f.last_seen_at, '')""")
    conn.execute("DROP TABLE finding_seen")


def _not_fired(table: str, alias: str = "x") -> str:
    """The finding `alias` is not among the fired pairs. NOT EXISTS, never NOT IN over a subquery:
    PostgreSQL runs a NOT IN whose subquery outgrows work_mem as a plain subplan, a scan of the
    fired pairs for every finding (a 10M first scan on PostgreSQL: stopped after 14 minutes in it); NOT EXISTS is an
    anti-join on both stores (SQLite probes temp.ix_fired)."""
    return f"NOT EXISTS (SELECT 1 FROM {_fired(table)} f WHERE f.fingerprint = {alias}.fingerprint)"


def _fired(table: str) -> str:
    if table != "temp._fired":
        raise ValueError(f"not a fired table: {table}")
    return table


def _cleared(table: str) -> str:
    if table != "temp._cleared":
        raise ValueError(f"not a cleared table: {table}")
    return table


# One encoder (json.dumps with options builds a new one per call: a daily scan writes ~12,000 values)
_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def _json(value: Any) -> str | None:
    return None if value is None else _ENCODE(value)


class FindingStore(StoreBase):
    """Findings (one row per fingerprint = rule id + subject) and their append-only audit trail."""

    def findings_to_reconcile(self, rule_ids: Iterable[str], fingerprints: Iterable[str]) -> dict[str, dict[str, Any]]:
        """What a scan reconciles against, by fingerprint: the active findings of these rules (to keep
        or resolve) and the findings of the fingerprints that fired (to reopen). Closed history is
        not read, so a scan's cost does not grow with it."""
        rules = sorted(rule_ids)
        # The rules as listed values, not a JSON array: PostgreSQL plans json_each for 100 values,
        # matching every finding, and read all of them (a sequential scan of 1 GB, 1.8 s, four times
        # in a 10M-case daily scan) for the few active findings of the non-record rules
        active = self.rows(
            f"""SELECT {_RECONCILE_COLS} FROM findings
                WHERE rule IN ({", ".join("?" * len(rules)) or "NULL"}) AND status NOT IN ('resolved', 'verified')""",
            rules)
        known = {r["fingerprint"]: r for r in active}
        others = self.rows(                     # fired, not active: new, or closed ones to reopen
            f"SELECT {_RECONCILE_COLS} FROM findings WHERE fingerprint IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(set(fingerprints) - known.keys())),))
        known.update((r["fingerprint"], r) for r in others)
        return known

    def finding_render_facts(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        """id, subject_kind, opened_at, data of those findings whose message is rendered when read."""
        return self.rows("""SELECT id, subject_kind, opened_at, data FROM findings
                            WHERE id IN (SELECT CAST(value AS INTEGER) FROM json_each(?)) AND data LIKE '%"_template"%'""",
                         (json.dumps(list(ids)),))

    def finding_data(self, finding_id: int) -> str | None:
        """The facts a finding stored when it opened (JSON text), or None."""
        data: str | None = self.scalar("SELECT data FROM findings WHERE id = ?", (finding_id,))
        return data

    def derived_over_facts(self, kind: str, exprs: list[tuple[str, str]], needs: list[str], facts: list[list[Any]],
                           params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Derived-field expressions (`exprs`, (name, SQL) over the kind's table, checker.ingest.derived)
        over rows of stored facts (`facts`, one value per column of `needs`) at the named `params`:
        one statement over a VALUES table, a tuple of the values per facts row, in order."""
        names = ", ".join(["_i", *(f'"{c}"' for c in needs)])
        rows = ", ".join("(" + ", ".join([f":_r{j}", *(f":_r{j}_{i}" for i in range(len(needs)))]) + ")"
                         for j in range(len(facts)))
        values: dict[str, Any] = {}
        for j, row in enumerate(facts):
            values[f"_r{j}"] = j
            values.update({f"_r{j}_{i}": v for i, v in enumerate(row)})
        selected = ", ".join(f'{sql} AS "{name}"' for name, sql in exprs)
        out: list[tuple[Any, ...]] = [() for _ in facts]
        for r in self.conn.execute(f"WITH _v({names}) AS (VALUES {rows}) SELECT _i, {selected} FROM _v AS {kind}",
                                   {**params, **values}):
            out[int(r[0])] = tuple(r[1:])
        return out

    # ------------------------------------------------------------------ record rules, set-wise

    def new_fired_table(self) -> str:
        """temp._fired: the (rule, subject) pairs the record rules fire in this scan."""
        self.conn.execute("DROP TABLE IF EXISTS temp._fired")
        self.conn.execute("CREATE TABLE temp._fired (fingerprint TEXT NOT NULL, rule TEXT NOT NULL, "
                          "subject TEXT NOT NULL, kind TEXT NOT NULL)")      # unique by construction
        return "temp._fired"

    def add_fired(self, table: str, rows: Iterable[tuple[str, str, str]]) -> None:
        self.conn.executemany(f"INSERT INTO {_fired(table)} (fingerprint, rule, subject, kind) "
                              "VALUES (? || ':' || ?, ?, ?, ?)", [(r, s, r, s, k) for r, s, k in rows])

    def fired_changes(self, table: str) -> list[dict[str, Any]]:
        """The fired pairs whose finding is new, resolved or verified (they open or reopen), with the
        finding's columns a reconcile reads (id NULL: new)."""
        self.collect_fired_changes(table)
        return self.fired_changes_after("", None)

    def collect_fired_changes(self, table: str) -> int:
        """temp._changes: the fired pairs of fired_changes, kept (by fingerprint) so that a first scan,
        which opens hundreds of thousands, reads them a page at a time. Returns how many."""
        self.conn.execute("CREATE INDEX IF NOT EXISTS temp.ix_fired ON _fired (fingerprint)")  # for the NOT EXISTS
        self.dialect.analyze(self.conn, _fired(table))       # filled: joined to findings below and after
        self.conn.execute("DROP TABLE IF EXISTS temp._changes")
        self.conn.execute("CREATE TABLE temp._changes (fingerprint TEXT PRIMARY KEY, rule TEXT, subject TEXT, "
                          "kind TEXT, id INTEGER, status TEXT, verified_at TEXT, cleared_at TEXT, assignee TEXT, "
                          "supervisor TEXT)")
        n: int = self.conn.execute(f"""INSERT INTO temp._changes
                             SELECT f.fingerprint, f.rule, f.subject, f.kind, x.id, x.status, x.verified_at,
                                    x.cleared_at, x.assignee, x.supervisor
                             FROM {_fired(table)} f
                             LEFT JOIN findings x INDEXED BY ix_findings_fp_status ON x.fingerprint = f.fingerprint
                             WHERE x.id IS NULL OR x.status IN ({sql_list(CLOSED_STATUSES)})""").rowcount
        # temp._changes is not analysed: with its statistics PostgreSQL stages the new findings from
        # it by hash joins over the record tables (a 10M daily scan's staging 3.1 s → 8.2 s)
        return n

    def fired_changes_after(self, fingerprint: str, limit: int | None, existing: bool = False) -> list[dict[str, Any]]:
        """The collected changes (collect_fired_changes) after `fingerprint`, in fingerprint order:
        `limit` of them (None: all); `existing`: only those with a finding (that reopen)."""
        only = " AND id IS NOT NULL" if existing else ""
        return self.rows(f"SELECT * FROM temp._changes WHERE fingerprint > ?{only} ORDER BY fingerprint LIMIT ?",
                         (fingerprint, 2 ** 63 - 1 if limit is None else int(limit)))

    def mark_rules_seen(self, rule_ids: Iterable[str], at: str, scan_id: int) -> None:
        """The record rules this scan evaluated were seen at `at`: after a scan's reconcile every
        active finding of such a rule fired in it (those that did not were resolved), so a finding's
        last-seen time is its rule's (the list's last_seen_at). One narrow row per rule: a daily scan
        no longer writes a row for each of the tens of thousands of findings still firing."""
        self.conn.executemany("""INSERT INTO rule_seen (rule, seen_at, seen_scan) VALUES (?, ?, ?)
                                 ON CONFLICT (rule) DO UPDATE SET seen_at = excluded.seen_at,
                                                                  seen_scan = excluded.seen_scan""",
                              [(rule, at, scan_id) for rule in sorted(rule_ids)])

    def unfired_active(self, table: str, rule_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Active findings of these rules that did not fire (to resolve)."""
        return self.rows(f"""SELECT id, status FROM findings x INDEXED BY ix_findings_active
                             WHERE rule IN (SELECT value FROM json_each(?)) AND status IN ({_ACTIVE_SQL})
                               AND {_not_fired(table)}""",
                         (json.dumps(list(rule_ids)),))

    def fired_pairs(self, table: str) -> list[dict[str, Any]]:
        """rule, subject, kind of every pair in the fired table."""
        return self.rows(f"SELECT rule, subject, kind FROM {_fired(table)}")

    def cleared_active(self, cleared: str) -> list[dict[str, Any]]:
        """Active findings of the pairs an incremental scan evaluated and found not firing (to resolve)."""
        # CROSS JOIN: the few cleared pairs drive (SQLite), each found by the fingerprint index, not
        # every active finding probed against them (0.5 s → 0.02 s at 10M cases, 600,000 active)
        return self.rows(f"""SELECT x.id, x.status FROM {_cleared(cleared)} c
                             CROSS JOIN findings x INDEXED BY ix_findings_fp_status
                             WHERE x.fingerprint = c.fingerprint AND x.status IN ({_ACTIVE_SQL}) ORDER BY x.id""")

    def mark_cleared_verified(self, cleared: str, at: str) -> int:
        """Verified findings of the pairs an incremental scan found not firing: seen cleared (as
        mark_unfired_verified_cleared for the rules evaluated whole)."""
        return int(self.conn.execute(f"""UPDATE findings SET cleared_at = ?
                                         WHERE status = 'verified' AND cleared_at IS NULL
                                           AND fingerprint IN (SELECT fingerprint FROM {_cleared(cleared)})""",
                                     (at,)).rowcount)

    def mark_unfired_verified_cleared(self, table: str, rule_ids: Iterable[str], at: str) -> int:
        """Verified findings of these rules that did not fire: the scan saw them cleared (cleared_at),
        which a later firing needs to count as a rebound (DB33/T 2036.7 §8.4)."""
        n: int = self.conn.execute(f"""UPDATE findings SET cleared_at = ?
                                     WHERE rule IN (SELECT value FROM json_each(?)) AND status = 'verified'
                                       AND cleared_at IS NULL
                                       AND {_not_fired(table, "findings")}""",
                                 (at, json.dumps(list(rule_ids)))).rowcount
        return n

    def verified_uncleared(self, rule_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Verified findings of these rules not yet seen cleared since their verification."""
        return self.rows("""SELECT id, fingerprint, rule, subject FROM findings
                            WHERE rule IN (SELECT value FROM json_each(?)) AND status = 'verified'
                              AND cleared_at IS NULL""", (json.dumps(sorted(rule_ids)),))

    def set_cleared(self, ids: Iterable[int], at: str) -> None:
        self.conn.execute("UPDATE findings SET cleared_at = ? WHERE id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
                          (at, json.dumps(list(ids))))

    def active_fingerprints(self, rule_ids: Iterable[str]) -> set[str]:
        """Fingerprints of the active findings of these rules."""
        return {r[0] for r in self.conn.execute(
            f"SELECT fingerprint FROM findings WHERE rule IN (SELECT value FROM json_each(?)) "
            f"AND status IN ({_ACTIVE_SQL})", (json.dumps(list(rule_ids)),))}

    def insert_findings(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """New open findings (each row has the named values of _INSERT, data as a dict), in one
        statement; returns their ids by fingerprint."""
        if not rows:
            return {}
        self.conn.executemany(_INSERT, [{**row, "org": org_in(row.get("org")), "data": _json(row.get("data"))}
                                        for row in rows])
        return dict(self.conn.execute("SELECT fingerprint, id FROM findings WHERE fingerprint IN "
                                      "(SELECT value FROM json_each(?))",
                                      (json.dumps([row["fingerprint"] for row in rows]),)).fetchall())

    def touch_findings(self, rows: list[dict[str, Any]]) -> None:
        """Refresh message / due date / last seen of findings still firing (no event)."""
        self.conn.executemany(_TOUCH, rows)

    def mark_findings_seen(self, ids: list[int], at: str, scan_id: int) -> None:
        """Findings still firing unchanged: only when they were last seen (one statement)."""
        self.conn.execute(
            "UPDATE findings SET last_seen_at = ?, last_scan_id = ? WHERE id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
            (at, scan_id, json.dumps(ids)))

    def update_finding(self, finding_id: int, status: str | None = None, **cols: Any) -> None:
        """Set a finding's status and some of the fixed _SETTABLE columns."""
        bad = set(cols) - set(_SETTABLE)
        if bad:
            raise ValueError(f"not a settable finding column: {sorted(bad)}")
        if "data" in cols:
            cols["data"] = _json(cols["data"])
        if status is not None:
            cols["status"] = status
        sets = ", ".join(f"{c} = :{c}" for c in cols)
        if status is not None and status not in ACTIVE_STATUSES and "last_seen_at" not in cols:
            sets += ", " + _KEEP_SEEN        # leaving the active statuses: its rule's last-seen time is kept
        self.conn.execute(f"UPDATE findings SET {sets} WHERE id = :id", {**cols, "id": finding_id})

    def resolve_findings(self, ids: list[int], at: str, actor: str, scan_id: int) -> None:
        """Active findings whose condition cleared: resolved at `at`, in one statement (each keeps its
        rule's last-seen time, as update_finding does), after their resolve events (by `actor`, data
        {"scan_id": scan_id}, from each one's status and org; by id), in one statement too: no
        event row made and no org read back in Python for each of the thousands a morning resolves."""
        if not ids:
            return
        which = "id IN (SELECT CAST(value AS INTEGER) FROM json_each(:_ids))"
        params = {"_ids": json.dumps(ids), "_at": at, "_actor": actor, "_scan": scan_id}
        self.conn.execute(f"""INSERT INTO finding_events (finding_id, org, at, actor, action, from_status, to_status, data)
                              SELECT id, org, :_at, :_actor, 'resolve', status, 'resolved',
                                     '{{"scan_id": ' || CAST(:_scan AS TEXT) || '}}'
                              FROM findings WHERE {which} ORDER BY id""", params)
        self.conn.execute(f"UPDATE findings SET status = 'resolved', resolved_at = :_at, {_KEEP_SEEN} WHERE {which}",
                          params)

    def bump_finding_counter(self, finding_id: int, counter: str) -> None:
        """reopen_count, rebound_count or persist_count + 1."""
        if counter not in ("reopen_count", "rebound_count", "persist_count"):
            raise ValueError(f"not a finding counter: {counter}")
        self.conn.execute(f"UPDATE findings SET {counter} = {counter} + 1 WHERE id = ?", (finding_id,))

    def add_events(self, events: list[dict[str, Any]]) -> None:
        """Append audit-trail rows (missing keys are NULL; data is a dict), each with its finding's org
        (read here, one statement); an event of a finding that does not exist is refused (ValueError)."""
        if not events:
            return
        ids = sorted({int(e["finding_id"]) for e in events})
        orgs = dict(self.conn.execute("SELECT id, org FROM findings WHERE id IN (SELECT CAST(value AS INTEGER) "
                                      "FROM json_each(?))", (json.dumps(ids),)).fetchall())
        missing = [i for i in ids if i not in orgs]
        if missing:
            raise ValueError(f"audit-trail events of findings that do not exist: {missing}")
        self.conn.executemany(_EVENT, [
            {**{k: None for k in _EVENT_KEYS}, **e, "org": orgs[int(e["finding_id"])], "data": _json(e.get("data"))}
            for e in events])

    def count_active_findings(self) -> int:
        n: int = self.scalar("SELECT count(*) FROM findings WHERE status IN (?, ?, ?, ?)", ACTIVE_STATUSES)
        return n

    def finding_row(self, finding_id: int) -> dict[str, Any] | None:
        found = orgs_out(self.rows("SELECT * FROM findings WHERE id = ?", (finding_id,)))
        return found[0] if found else None

    def finding_events(self, finding_id: int) -> list[dict[str, Any]]:
        rows = orgs_out(self.rows("SELECT * FROM finding_events WHERE finding_id = ? ORDER BY id", (finding_id,)))
        for r in rows:
            r["data"] = json.loads(r["data"]) if r["data"] else None
        return rows

    def last_event_actor(self, finding_id: int, action: str) -> str | None:
        """Who did the latest `action` on a finding (e.g. who submitted the rectification)."""
        actor: str | None = self.scalar("""SELECT actor FROM finding_events WHERE finding_id = ? AND action = ?
                                           ORDER BY id DESC LIMIT 1""", (finding_id, action))
        return actor

    def query_findings(self, statuses: Collection[str] | None = None, rule: str | None = None,
                       orgs: Iterable[str] | None = None, assignee: str | None = None,
                       scope_orgs: Iterable[str] | None = None, limit: int | None = None, offset: int | None = 0,
                       subject: str | None = None) -> list[dict[str, Any]]:
        """Findings filtered by status list, rule, org list, and a visibility scope, by id.

        scope: `assignee` alone (an officer), `scope_orgs` + `assignee` (a supervisor: the orgs
        or assigned to them), neither (an admin)."""
        where: list[str] = []
        params: list[Any] = []
        if statuses:
            where.append("status IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(statuses)))
        if rule:
            where.append("rule = ?")
            params.append(rule)
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        if orgs is not None:
            where.append("org IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(orgs)))
        where.append(_scope_sql(scope_orgs, assignee, params))
        sql = f"SELECT {_LIST_COLUMNS} FROM findings WHERE {' AND '.join(where)} ORDER BY id"
        sql += " LIMIT ? OFFSET ?"
        params += [2 ** 63 - 1 if limit is None else int(limit), int(offset or 0)]      # no LIMIT -1 on PostgreSQL
        return self.rows(sql, params)


def _scope_sql(scope_orgs: Iterable[str] | None, assignee: str | None, params: list[Any]) -> str:
    if scope_orgs is None and assignee is None:
        return "1 = 1"
    if scope_orgs is None:
        params.append(assignee)
        return "assignee = ?"
    params += [json.dumps(sorted(scope_orgs)), assignee]
    return "(org IN (SELECT value FROM json_each(?)) OR assignee = ?)"
