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
