"""Named schema migrations, run once each in the order of the `MIGRATIONS` table at the bottom.

A module that needs a schema change writes a new migration function beside its own SQL and adds it
to `MIGRATIONS` under a new name (never edits an applied one). The table is literal: what runs, and
in which order, is read here, not collected as a side effect of importing modules. Names sort in
table order (tests/test_migrations.py), so an existing database sees the order it always saw.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from ..ingest.records import KINDS, RecordKind
from . import delivery, findings, indicators, lease, reports, scan
from .dialect import (KEYED, drop_redundant_indexes, drop_sqlite_insert_trigger, key_columns, make_key_table,
                      partition_by_month, seq_triggers, serialized, table_columns)

SQL_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "INTEGER",
             "datetime": "TEXT", "date": "TEXT", "enum": "TEXT", "choices": "TEXT"}


@dataclass(frozen=True)
class Migration:
    """One schema change: `name` is recorded in `_migrations` once `apply` has run."""
    name: str
    apply: Callable[[sqlite3.Connection], None]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet applied; return the names applied now. The same migrations
    build both stores: the SQL is SQLite's spelling, translated for PostgreSQL (checker.store.dialect),
    where two processes opening a new database take turns (an advisory lock)."""
    with serialized(conn):
        if not table_columns(conn, "_migrations"):      # a reader of a migrated store writes nothing
            conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
        applied = []
        for m in MIGRATIONS:
            if m.name in done:
                continue
            with conn:
                m.apply(conn)
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                             (m.name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
            applied.append(m.name)
    return applied


def record_table_sql(rk: RecordKind) -> str:
    cols = [f'"{f.name}" {SQL_TYPES[f.type]}' for f in rk.fields]
    cols.append('"_seq" INTEGER NOT NULL DEFAULT 0')      # change counter: what changed since a scan
    key = ", ".join(f'"{k}"' for k in rk.key)
    return f'CREATE TABLE "{rk.name}" ({", ".join(cols)}, PRIMARY KEY ({key}))'


def _records(conn: sqlite3.Connection) -> None:
    for rk in KINDS.values():
        conn.execute(record_table_sql(rk))
        conn.execute(f'CREATE INDEX "ix_{rk.name}_seq" ON "{rk.name}" ("_seq")')
        if "org" in rk.columns and rk.key != ("org", "period", "metric"):
            conn.execute(f'CREATE INDEX "ix_{rk.name}_org" ON "{rk.name}" ("org")')
        if rk.date_field:
            conn.execute(f'CREATE INDEX "ix_{rk.name}_date" ON "{rk.name}" ("{rk.date_field}")')
    conn.execute('ALTER TABLE cases ADD COLUMN "due_at" TEXT')   # deadline computed at import
    conn.execute('CREATE INDEX ix_cases_status ON cases (status)')
    conn.execute('CREATE INDEX ix_cases_org_accepted ON cases (org, accepted_at)')
    conn.execute('CREATE INDEX ix_orgs_parent ON orgs (parent)')
    conn.execute('CREATE INDEX ix_officers_telegram ON officers (telegram_id)')
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta (key, value) VALUES ('change_seq', '0')")


def _findings(conn: sqlite3.Connection) -> None:
    conn.executescript("""
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        fingerprint TEXT NOT NULL UNIQUE,      -- rule id + subject
        rule TEXT NOT NULL, clause TEXT NOT NULL, standard TEXT NOT NULL,
        kind TEXT NOT NULL,                    -- record / indicator / checklist / cadence
        subject TEXT NOT NULL, subject_kind TEXT,
        org TEXT, severity TEXT NOT NULL,
        status TEXT NOT NULL,                  -- open acknowledged submitted verified rejected resolved
        message TEXT NOT NULL,
        assignee TEXT, supervisor TEXT,
        opened_at TEXT NOT NULL, due_at TEXT, resolved_at TEXT, verified_at TEXT,
        last_seen_at TEXT, last_scan_id INTEGER,
        reopen_count INTEGER NOT NULL DEFAULT 0, rebound_count INTEGER NOT NULL DEFAULT 0,
        escalation_level INTEGER NOT NULL DEFAULT 0,  -- 0 none, 1 supervisor, 2 parent org's supervisor
        reminded_at TEXT, escalated_at TEXT,
        data TEXT                              -- JSON: the facts the message was made from
    );
    CREATE INDEX ix_findings_status ON findings (status);
    CREATE INDEX ix_findings_rule ON findings (rule);
    CREATE INDEX ix_findings_org ON findings (org);
    CREATE INDEX ix_findings_assignee ON findings (assignee);
    CREATE TABLE finding_events (               -- the audit trail: who, when, what
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        finding_id INTEGER NOT NULL REFERENCES findings(id),
        at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        from_status TEXT, to_status TEXT, note TEXT,
        evidence_path TEXT, evidence_sha256 TEXT, data TEXT
    );
    CREATE INDEX ix_finding_events_finding ON finding_events (finding_id);
    CREATE TABLE scans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        now TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
        full INTEGER NOT NULL, ruleset_version TEXT,
        from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL,
        evaluated INTEGER, opened INTEGER, resolved INTEGER, reopened INTEGER, open INTEGER
    );
    """)


def _delivery(conn: sqlite3.Connection) -> None:
    conn.executescript("""
    CREATE TABLE outbox (                       -- durable notification queue (at-least-once)
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dedup_key TEXT NOT NULL UNIQUE,        -- one notification per event, ever
        finding_id INTEGER REFERENCES findings(id),
        recipient TEXT NOT NULL,               -- officer id
        kind TEXT NOT NULL,                    -- new reopened reminder escalation verify_request rejected verified report notice
        severity TEXT,
        payload TEXT NOT NULL,                 -- JSON
        created_at TEXT NOT NULL,
        not_before TEXT,                       -- quiet hours / retry back-off
        status TEXT NOT NULL DEFAULT 'pending',-- pending sending sent failed
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, sent_at TEXT, message_ref TEXT
    );
    CREATE INDEX ix_outbox_status ON outbox (status, not_before);
    CREATE INDEX ix_outbox_recipient ON outbox (recipient);
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rule TEXT NOT NULL, org TEXT NOT NULL,
        starts_at TEXT NOT NULL, ends_at TEXT NOT NULL,
        reason TEXT NOT NULL, created_by TEXT NOT NULL, removed_at TEXT
    );
    CREATE TABLE bind_codes (
        code TEXT PRIMARY KEY, officer_id TEXT NOT NULL,
        created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT, used_by INTEGER
    );
    """)


def _schedule(conn: sqlite3.Connection) -> None:
    conn.executescript("""
    CREATE TABLE job_runs (                     -- one row a scheduled slot: never run twice
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job TEXT NOT NULL, slot TEXT NOT NULL,
        started_at TEXT NOT NULL, finished_at TEXT,
        status TEXT NOT NULL,                  -- running ok failed abandoned
        detail TEXT,
        UNIQUE (job, slot)
    );
    """)


def add_missing_columns(conn: sqlite3.Connection, kind: str) -> None:
    """Columns of a record kind added after its table was made (0001 makes new tables complete)."""
    have = set(table_columns(conn, kind))
    for f in KINDS[kind].fields:
        if f.name not in have:
            conn.execute(f'ALTER TABLE "{kind}" ADD COLUMN "{f.name}" {SQL_TYPES[f.type]}')


def _orgs_third_party(conn: sqlite3.Connection) -> None:
    add_missing_columns(conn, "orgs")


def _evaluations_case_no(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE INDEX IF NOT EXISTS ix_evaluations_case_no ON evaluations (case_no)")   # 一事一评 E1


def _findings_cleared(conn: sqlite3.Connection) -> None:
    """cleared_at: when a scan first saw a verified finding's condition cleared (a later firing is then
    a rebound, DB33/T 2036.7 §8.4); persist_count: reopened as 复查后仍存在 (never cleared)."""
    have = set(table_columns(conn, "findings"))
    if "cleared_at" not in have:
        conn.execute('ALTER TABLE findings ADD COLUMN cleared_at TEXT')
    if "persist_count" not in have:
        conn.execute('ALTER TABLE findings ADD COLUMN persist_count INTEGER NOT NULL DEFAULT 0')


def _disclosures(conn: sqlite3.Connection) -> None:
    """政务公开 records (DB50/T 957.7 §3.3) in a database made before the kind existed."""
    if table_columns(conn, "disclosures"):       # the table exists (made by a newer schema)
        return
    conn.execute(record_table_sql(KINDS["disclosures"]))
    conn.execute('CREATE INDEX "ix_disclosures_seq" ON "disclosures" ("_seq")')
    conn.execute('CREATE INDEX "ix_disclosures_org" ON "disclosures" ("org")')
    conn.execute('CREATE INDEX "ix_disclosures_date" ON "disclosures" ("formed_at")')


def _finding_events_by_month(conn: sqlite3.Connection) -> None:
    """PostgreSQL: the audit trail, which grows with history, partitioned by the month of `at` (its key
    becomes (id, at)); SQLite keeps the plain table (checker.store.dialect.MONTHLY)."""
    partition_by_month(conn, "finding_events", ("id", "at"), {"ix_finding_events_finding": '"finding_id"'})


def _records_by_month(conn: sqlite3.Connection) -> None:
    """PostgreSQL: the record tables whose history grows (cases, evaluations, complaints,
    consultations) partitioned by the month of their time, keyed (record key, org, time), each with a
    key table keeping its record key unique (checker.store.dialect.KEYED, upsert_keyed); their rows,
    indexes and triggers kept. SQLite keeps its plain tables."""
    for table in KEYED:
        partition_by_month(conn, table, key_columns(table))
        make_key_table(conn, table)


def _record_seq_triggers(conn: sqlite3.Connection) -> None:
    """Every change of a record row bumps its `_seq`, whoever writes it (checker.store.dialect
    seq_triggers): the incremental scan evaluates only what changed, so it must not miss a row
    edited in SQL. meta's deleted_seq: the change number of the latest deleted record row."""
    conn.execute("INSERT INTO meta (key, value) VALUES ('deleted_seq', '0')")
    for rk in KINDS.values():
        seq_triggers(conn, rk.name)


def _no_sqlite_insert_seq_trigger(conn: sqlite3.Connection) -> None:
    """SQLite: the INSERT triggers of 0190 dropped (they doubled a plain insert's cost); a row
    inserted without a change number is stamped by the next scan as it starts (RecordStore.scan_seq)."""
    for rk in KINDS.values():
        drop_sqlite_insert_trigger(conn, rk.name)


# Every migration, in the order it runs (name order; the numbers leave gaps, and two pairs share a
# number: they were written apart and ordered by the whole name). Append a new one at its place.
MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_records", _records),
    Migration("0002_findings", _findings),
    Migration("0003_delivery", _delivery),
    Migration("0004_schedule", _schedule),
    Migration("0030_delivery_claim", delivery._claim),
    Migration("0040_scan_live_indexes", scan._live_indexes),
    Migration("0050_orgs_commissions_third_party", _orgs_third_party),
    Migration("0050_workdays", scan._workdays),
    Migration("0051_appointments_status", scan._appointments_status),
    Migration("0051_evaluations_case_no", _evaluations_case_no),
    Migration("0052_finding_seen", scan._finding_seen),
    Migration("0053_period_covering_indexes", scan._period_indexes),
    Migration("0054_scan_covering_indexes", scan._scan_covering_indexes),
    Migration("0055_rule_seen", scan._rule_seen),
    Migration("0056_findings_reconcile_indexes", scan._reconcile_indexes),
    Migration("0147_report_indicator_snapshots", reports._indicator_snapshots),
    Migration("0150_outbox_channel", delivery._outbox_channel),
    Migration("0151_officer_channel_ids", delivery._officer_channel_ids),
    Migration("0160_index_runs", indicators._index_runs),
    Migration("0160_service_lease", lease._service_lease),
    Migration("0161_findings_cleared", _findings_cleared),
    Migration("0162_disclosures", _disclosures),
    Migration("0170_outbox_claim_lease", delivery._outbox_claim_lease),
    Migration("0171_finding_events_by_month", _finding_events_by_month),
    Migration("0180_records_by_month", _records_by_month),
    Migration("0185_indicator_rollups", indicators._rollups),
    Migration("0186_indicator_rollups_built_to", indicators._rollups_built_to),
    Migration("0190_record_seq_triggers", _record_seq_triggers),
    Migration("0191_scans_basis", scan._scans_basis),
    Migration("0192_no_sqlite_insert_seq_trigger", _no_sqlite_insert_seq_trigger),
    Migration("0200_findings_org_not_null", findings._findings_org_not_null),
    Migration("0201_finding_events_org", findings._finding_events_org),
    Migration("0202_findings_keys_by_org", findings._findings_keys_by_org),
    Migration("0203_finding_seen_folded", findings._finding_seen_folded),
    Migration("0205_cases_seq_covering", scan._cases_seq_covering),
    Migration("0206_evaluations_case_org", scan._evaluations_case_org),
    Migration("0207_live_covering_indexes", scan._live_covering_indexes),
    Migration("0208_cases_closed_covering", scan._cases_closed_covering),
    Migration("0209_pg_redundant_case_indexes", drop_redundant_indexes),
)
