"""SQL of the imported records: upsert by key, change sequence, lookups."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ..ingest.records import KINDS, RecordKind
from . import staging
from .base import StoreBase

MAX_PARAMS = 30000          # below SQLITE_MAX_VARIABLE_NUMBER (32766)


class RecordStore(StoreBase):
    """Record tables (one per kind of checker.ingest.records); `_seq` marks what changed when."""

    def next_seq(self) -> int:
        """Take the next change-sequence number (one per import batch)."""
        with self.transaction() as c:
            c.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'change_seq'")
            return self.current_seq()

    def scan_seq(self) -> int:
        """A scan's change number: the rows stamped before it started carry it (the scan looks at
        them), and change_seq moves one past it, so that a row stamped from now on (checker.store.dialect
        seq_triggers) is above it, for the next scan. Rows inserted without a change number (`_seq` 0:
        SQLite has no INSERT trigger) get this one."""
        with self.transaction() as c:
            seq = self.pass_stamps()
            for kind in KINDS:
                c.execute(f'UPDATE "{kind}" SET _seq = ? WHERE _seq = 0', (seq,))
            return seq

    def count(self, kind: str) -> int:
        KINDS[kind]  # unknown kinds raise KeyError, never reach SQL
        return int(self.scalar(f'SELECT count(*) FROM "{kind}"'))

    def counts(self) -> dict[str, int]:
        return {k: self.count(k) for k in KINDS}

    def get(self, kind: str, key: str | tuple[Any, ...]) -> dict[str, Any] | None:
        """One record by its key (a tuple for composite keys)."""
        rk = KINDS[kind]
        values = key if isinstance(key, tuple) else (key,)
        where = " AND ".join(f'"{k}" = ?' for k in rk.key)
        return self.row(f'SELECT * FROM "{kind}" WHERE {where}', values)

    def org_subtree(self, code: str) -> list[str]:
        """The org, then every org below it by code (the same order on both stores)."""
        below = sorted(r[0] for r in self.conn.execute(
            """WITH RECURSIVE t(code) AS (SELECT ? UNION SELECT o.code FROM orgs o JOIN t ON o.parent = t.code)
               SELECT code FROM t""", (code,)) if r[0] != code)
        return [code, *below]

    def org_ancestors(self, code: str) -> list[str]:
        """The org's parent, grandparent … up to the root (nearest first), without the org itself."""
        out: list[str] = []
        seen = {code}
        parent = self.scalar("SELECT parent FROM orgs WHERE code = ?", (code,))
        while parent and parent not in seen:
            out.append(parent)
            seen.add(parent)
            parent = self.scalar("SELECT parent FROM orgs WHERE code = ?", (parent,))
        return out

    def officers_of(self, org: str, role: str | None = None) -> list[dict[str, Any]]:
        """Officers of exactly this org (optionally of one role), by id."""
        if role:
            return self.rows("SELECT * FROM officers WHERE org = ? AND role = ? ORDER BY id", (org, role))
        return self.rows("SELECT * FROM officers WHERE org = ? ORDER BY id", (org,))

    def officers_with_role(self, role: str) -> list[dict[str, Any]]:
        """Every officer of a role (e.g. the admins told about a refused rule reload), by id."""
        return self.rows("SELECT * FROM officers WHERE role = ? ORDER BY id", (role,))

    def supervisor_for(self, org: str) -> dict[str, Any] | None:
        """The supervisor responsible for an org: one of the org's own, else the nearest ancestor's."""
        for code in [org, *self.org_ancestors(org)]:
            found = self.officers_of(code, "supervisor")
            if found:
                return found[0]
        return None

    # --- import -------------------------------------------------------------------------------

    @contextmanager
    def bulk_writes(self, cache_mb: int = 64, checkpoint_pages: int = 20000) -> Iterator[Callable[[], None]]:
        """One write transaction for a big import, with the dialect's bulk-load tuning (SQLite: a
        bounded larger page cache and fewer WAL checkpoints). Yields `commit()`, which commits what
        is in and carries on in a new transaction (so other writers get a turn). Whatever was written is committed at the end, even on error:
        every row written was a validated, good row."""
        if self.conn.in_transaction:          # the caller's transaction decides
            yield lambda: None
            return

        def commit() -> None:
            self.conn.execute("COMMIT")
            self.conn.execute("BEGIN IMMEDIATE")
        with self.dialect.bulk_session(self.conn, cache_mb, checkpoint_pages):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield commit
            finally:
                self.conn.execute("COMMIT")

    def fast_import_supported(self, rk: RecordKind) -> bool:
        """Whether CSV files of a kind may take the bulk import's set-based fast path."""
        return staging.supported(rk)

    def fast_import(self, **plan: Any) -> staging.FastImport:
        """The fast path of one CSV file (`plan`: the fields of checker.store.staging.Plan)."""
        return staging.FastImport(self, staging.Plan(**plan))

    def record_keys(self, kind: str) -> set[Any]:
        """Every key of a kind (a value, or a tuple for composite keys): for small reference tables."""
        key = KINDS[kind].key
        cols = ", ".join(f'"{k}"' for k in key)
        rows = self.conn.execute(f'SELECT {cols} FROM "{kind}"')
        return {r[0] for r in rows} if len(key) == 1 else set(rows)

    def org_parents(self) -> dict[str, str | None]:
        """org code → parent code (None at a root): for the parent-loop check of an import."""
        return dict(self.conn.execute("SELECT code, parent FROM orgs"))

    def clear_field(self, kind: str, field: str, keys: list[Any]) -> None:
        """Set one field to NULL for these keys (single-column keys): an import's explicit 解绑."""
        rk = KINDS[kind]
        if field not in rk.columns or len(rk.key) != 1:
            raise KeyError(f"cannot clear {kind}.{field}")
        with self.transaction() as c:
            c.executemany(f'UPDATE "{kind}" SET "{field}" = NULL WHERE "{rk.key[0]}" = ?', [(k,) for k in keys])

    def evaluations_of_other_orgs(self, seq: int) -> int:
        """How many evaluations stamped `seq` (the rows one import wrote) name a stored case of another
        org than their own: E1 (DB50/T 957.7 §5.4.2 b) counts an evaluation for its case only under the
        case's org (checker.ingest.derived `evaluated`). One statement, by the `_seq` index, each
        evaluation's case by its key (PostgreSQL: the key table, where each case lives)."""
        cases = self.dialect.key_table(self.conn, "cases") or "cases"
        return int(self.scalar(f'SELECT count(*) FROM evaluations e JOIN "{cases}" c ON c.case_no = e.case_no '
                               "WHERE e._seq = ? AND c.org <> e.org", (seq,)) or 0)

    def item_deadline_facts(self) -> dict[str, tuple[Any, Any, Any]]:
        """item code → (immediate, promised_days, statutory_days)."""
        return {r[0]: (r[1], r[2], r[3]) for r in self.conn.execute(
            "SELECT code, immediate, promised_days, statutory_days FROM items")}

    def upsert_records(self, kind: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int:
        """Insert or update rows by key in one transaction; return how many keys existed before
        (or came twice in `rows`): the updates."""
        rk = KINDS[kind]
        unknown = set(columns) - set(rk.columns) - {"_seq", "due_at"}
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)} for {kind}")
        positions = [columns.index(k) for k in rk.key]
        keys = [tuple(r[i] for i in positions) for r in rows]
        with self.transaction() as c:
            existing = self._existing_keys(c, kind, keys)
            c.execute("SAVEPOINT upsert")        # a refused row undoes its whole batch, nothing half-written
            try:
                self.dialect.upsert(c, kind, columns, rk.key, rows, _conflict_sql(kind, columns, rk.key))
            except BaseException:
                c.execute("ROLLBACK TO upsert")
                c.execute("RELEASE upsert")
                raise
            c.execute("RELEASE upsert")
        return _count_updates(keys, existing)

    def _existing_keys(self, conn: Any, kind: str, keys: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
        key = KINDS[kind].key
        cols = ", ".join(f'"{k}"' for k in key)
        step = MAX_PARAMS // len(key)
        found: set[tuple[Any, ...]] = set()
        for i in range(0, len(keys), step):
            chunk = keys[i:i + step]
            if len(key) == 1:
                sql = f'SELECT {cols} FROM "{kind}" WHERE {cols} IN ({",".join("?" * len(chunk))})'
            else:
                values = ",".join(["(" + ",".join("?" * len(key)) + ")"] * len(chunk))
                sql = f'SELECT {cols} FROM "{kind}" WHERE ({cols}) IN (VALUES {values})'
            found.update(tuple(r) for r in conn.execute(sql, [v for k in chunk for v in k]))
        return found


def _conflict_sql(kind: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    """The upsert's ON CONFLICT clause (both stores; the dialect writes the rows: SQLite row by
    row, PostgreSQL by COPY). A blank sticky field (a binding made through /bind) keeps the stored value."""
    sticky = {f.name for f in KINDS[kind].fields if f.sticky}
    updates = ", ".join(f'"{c}" = coalesce(excluded."{c}", "{kind}"."{c}")' if c in sticky
                        else f'"{c}" = excluded."{c}"' for c in columns if c not in key)
    conflict = ", ".join(f'"{k}"' for k in key)
    return f'ON CONFLICT ({conflict}) DO UPDATE SET {updates}'


def _count_updates(keys: list[tuple[Any, ...]], existing: set[tuple[Any, ...]]) -> int:
    seen, updated = set(existing), 0
    for k in keys:
        if k in seen:
            updated += 1
        else:
            seen.add(k)
    return updated
