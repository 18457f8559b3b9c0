"""SQL of the imported records: upsert by key, change sequence, lookups."""
from __future__ import annotations

from ..records import KINDS


class RecordStore:
    """Record tables (one per kind of checker.records); `_seq` marks what changed when."""

    def next_seq(self) -> int:
        """Take the next change-sequence number (one per import batch)."""
        with self.transaction() as c:
            c.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'change_seq'")
            return int(c.execute("SELECT value FROM meta WHERE key = 'change_seq'").fetchone()[0])

    def current_seq(self) -> int:
        return int(self.scalar("SELECT value FROM meta WHERE key = 'change_seq'"))

    def count(self, kind: str) -> int:
        KINDS[kind]  # unknown kinds raise KeyError, never reach SQL
        return self.scalar(f'SELECT count(*) FROM "{kind}"')

    def counts(self) -> dict[str, int]:
        return {k: self.count(k) for k in KINDS}

    def get(self, kind: str, key: str | tuple) -> dict | None:
        """One record by its key (a tuple for composite keys)."""
        rk = KINDS[kind]
        values = key if isinstance(key, tuple) else (key,)
        where = " AND ".join(f'"{k}" = ?' for k in rk.key)
        return self.row(f'SELECT * FROM "{kind}" WHERE {where}', values)

    def org_subtree(self, code: str) -> list[str]:
        """The org and every org below it."""
        return [r[0] for r in self.conn.execute(
            """WITH RECURSIVE t(code) AS (SELECT ? UNION SELECT o.code FROM orgs o JOIN t ON o.parent = t.code)
               SELECT code FROM t""", (code,))]

    def org_ancestors(self, code: str) -> list[str]:
        """The org's parent, grandparent … up to the root (nearest first), without the org itself."""
        out, seen = [], {code}
        parent = self.scalar("SELECT parent FROM orgs WHERE code = ?", (code,))
        while parent and parent not in seen:
            out.append(parent)
            seen.add(parent)
            parent = self.scalar("SELECT parent FROM orgs WHERE code = ?", (parent,))
        return out

    def officers_of(self, org: str, role: str | None = None) -> list[dict]:
        """Officers of exactly this org (optionally of one role), by id."""
        if role:
            return self.rows("SELECT * FROM officers WHERE org = ? AND role = ? ORDER BY id", (org, role))
        return self.rows("SELECT * FROM officers WHERE org = ? ORDER BY id", (org,))

    def supervisor_for(self, org: str) -> dict | None:
        """The supervisor responsible for an org: one of the org's own, else the nearest ancestor's."""
        for code in [org, *self.org_ancestors(org)]:
            found = self.officers_of(code, "supervisor")
            if found:
                return found[0]
        return None
