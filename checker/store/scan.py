"""SQL of the scan: the live and changed records of a kind, the subjects of active findings, the
scans table, and the lookups of the checklist and cadence evaluators."""
from __future__ import annotations

import json
import re

from ..records import KINDS, OPEN_CASE_STATUSES
from .migrations import migration

_OPEN = ", ".join(f"'{s}'" for s in OPEN_CASE_STATUSES)

# What is still "live" per record kind: what can still breach a rule as time passes.
LIVE_SQL = {
    "cases": f"status IN ({_OPEN})",
    "consultations": "answered_at IS NULL",
    "complaints": "valid = 1 AND rectified_at IS NULL",
    "evaluations": "level <= 2 AND (callback_at IS NULL OR rectified_at IS NULL)",
    "appointments": "reminded_at IS NULL AND status = 'booked' AND slot_at >= :since AND slot_at < :until",
}
ACTIVE = ("open", "acknowledged", "submitted", "rejected")


@migration("0040_scan_live_indexes")
def _live_indexes(conn):
    conn.executescript("""
    CREATE INDEX IF NOT EXISTS ix_consultations_answered ON consultations (answered_at);
    CREATE INDEX IF NOT EXISTS ix_complaints_open ON complaints (valid, rectified_at);
    CREATE INDEX IF NOT EXISTS ix_evaluations_level ON evaluations (level);
    CREATE INDEX IF NOT EXISTS ix_inspections_org_check ON inspections (org, "check", date);
    CREATE INDEX IF NOT EXISTS ix_supervisions_org_kind ON supervisions (org, kind, date);
    """)


def _regexp_full(pattern, value) -> int:
    return int(value is not None and re.fullmatch(pattern, str(value)) is not None)


class ScanStore:
    """Queries of checker.scan (indexed by status / _seq so a scan's cost follows live records)."""

    def __init__(self, path):
        super().__init__(path)
        self.conn.create_function("regexp_full", 2, _regexp_full, deterministic=True)

    def live_records(self, kind: str, since: str, until: str) -> list[dict]:
        """Records of a kind that may breach a rule as time passes (appointments: slots in [since, until))."""
        return self.rows(f'SELECT * FROM "{_kind(kind)}" WHERE {LIVE_SQL[kind]}', {"since": since, "until": until})

    def changed_records(self, kind: str, since_seq: int) -> list[dict]:
        return self.rows(f'SELECT * FROM "{_kind(kind)}" WHERE _seq > ?', (since_seq,))

    def all_records(self, kind: str) -> list[dict]:
        return self.rows(f'SELECT * FROM "{_kind(kind)}"')

    def record_chunks(self, kind: str, size: int):
        """Every record of a kind, `size` at a time (a full scan's memory stays flat)."""
        cur = self.conn.execute(f'SELECT * FROM "{_kind(kind)}"')
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(size):
            yield [dict(zip(names, r)) for r in rows]

    def records_by_key(self, kind: str, keys) -> list[dict]:
        rk = KINDS[_kind(kind)]
        keys = list(keys)
        if not keys or len(rk.key) != 1:
            return []
        out = []
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            out += self.rows(f'SELECT * FROM "{rk.name}" WHERE "{rk.key[0]}" IN ({marks})', chunk)
        return out

    def unseen_active_subjects(self, kind: str, rule_ids, since: str, until: str, since_seq: int) -> list[str]:
        """Subjects of these rules' active findings whose record is neither live nor changed since
        `since_seq` (or is gone): what a scan must look at besides the live and changed records.
        Decided in SQL, so a scan does not fetch the many active subjects it reads anyway."""
        rk = KINDS[_kind(kind)]
        sql = f"""SELECT f.subject FROM findings f
                  WHERE f.rule IN (SELECT value FROM json_each(:rules))
                    AND f.status IN ({", ".join(f"'{s}'" for s in ACTIVE)})
                    AND NOT EXISTS (SELECT 1 FROM "{rk.name}" r WHERE r."{rk.key[0]}" = f.subject
                                    AND (({LIVE_SQL[kind]}) OR r._seq > :since_seq))"""
        params = {"rules": json.dumps(list(rule_ids)), "since": since, "until": until, "since_seq": since_seq}
        return [r[0] for r in self.conn.execute(sql, params)]

    def last_scan_seq(self) -> int | None:
        """The change sequence the last finished scan covered (None: never scanned)."""
        return self.scalar("SELECT to_seq FROM scans WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1")

    def start_scan(self, now: str, started_at: str, full: bool, version: str, from_seq: int, to_seq: int) -> int:
        cur = self.conn.execute(
            "INSERT INTO scans (now, started_at, full, ruleset_version, from_seq, to_seq) VALUES (?, ?, ?, ?, ?, ?)",
            (now, started_at, int(full), version, from_seq, to_seq))
        return cur.lastrowid

    def finish_scan(self, scan_id: int, finished_at: str, evaluated: int, opened: int, resolved: int,
                    reopened: int, open_: int) -> None:
        self.conn.execute("UPDATE scans SET finished_at = ?, evaluated = ?, opened = ?, resolved = ?, reopened = ?, "
                          "open = ? WHERE id = ?", (finished_at, evaluated, opened, resolved, reopened, open_, scan_id))

    def orgs_at_levels(self, levels) -> list[dict]:
        levels = list(levels)
        return self.rows(f"SELECT code, name, level FROM orgs WHERE level IN ({', '.join('?' * len(levels))}) "
                         "ORDER BY code", levels)

    def latest_inspections(self, checks) -> dict[tuple[str, str], dict]:
        """(org, check) → the latest inspection row (by date, then id) of those checks."""
        checks = list(checks)
        rows = self.rows(
            f'SELECT org, "check", date, result, note, id FROM inspections WHERE "check" IN '
            f'({", ".join("?" * len(checks))}) ORDER BY org, "check", date, id', checks)
        return {(r["org"], r["check"]): r for r in rows}

    def latest_supervisions(self, kind: str) -> dict[str, str]:
        """org → date of its latest supervision of a kind."""
        return dict(self.conn.execute("SELECT org, MAX(date) FROM supervisions WHERE kind = ? GROUP BY org",
                                      (kind,)).fetchall())


def _kind(kind: str) -> str:
    KINDS[kind]              # unknown kinds raise KeyError, never reach SQL
    return kind
