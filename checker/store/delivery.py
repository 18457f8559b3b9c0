"""SQL of delivery: the outbox, the routing cursor, silences, bind codes and officers by Telegram id."""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Collection, Iterable
from typing import Any

from .dialect import table_columns
from .base import StoreBase
from .findings import org_out

OUTBOX_COLUMNS = ("id, dedup_key, finding_id, recipient, kind, severity, payload, created_at, not_before, "
                  "status, attempts, last_error, sent_at, message_ref, claim, channel, claimed_at, claim_holder")

# Delivery sessions of stores open in this process: a claim of this process whose session is closed
# is a dead worker's (a crash inside a send), one whose session is open is in flight.
_OPEN_SESSIONS: set[str] = set()


def _claim(conn: sqlite3.Connection) -> None:
    # claim: which delivery session marked a row `sending`; a row left `sending` by an
    # earlier session (a crash) is sent again, one of this session is in flight.
    conn.execute("ALTER TABLE outbox ADD COLUMN claim TEXT")
    conn.execute("ALTER TABLE outbox ADD COLUMN silence_id INTEGER")
    conn.execute("CREATE INDEX ix_silences_active ON silences (removed_at, ends_at)")


def _outbox_channel(conn: sqlite3.Connection) -> None:
    # channel: the messenger a row was sent on (telegram, dingtalk, wecom, webhook, console).
    conn.execute("ALTER TABLE outbox ADD COLUMN channel TEXT")


def _officer_channel_ids(conn: sqlite3.Connection) -> None:
    # Officers' ids on DingTalk and WeCom (checker/ingest/records.py); a database made before them lacks the columns.
    have = {r[1] for r in conn.execute('PRAGMA table_info("officers")')}
    for column in ("dingtalk_userid", "wecom_userid"):
        if column not in have:
            conn.execute(f'ALTER TABLE officers ADD COLUMN "{column}" TEXT')
    conn.execute("CREATE INDEX ix_officers_dingtalk ON officers (dingtalk_userid)")


def _outbox_claim_lease(conn: sqlite3.Connection) -> None:
    # The claim becomes a lease. claimed_at: when a row was marked `sending` (the database's clock,
    # epoch seconds, one clock for every worker host); claim_holder: who holds it ("host|pid|session",
    # on PostgreSQL "|pg backend pid:backend start" appended), so a dead worker's claims are taken back
    # at once and a live worker's only after the lease (channels.claim_timeout_seconds).
    have = set(table_columns(conn, "outbox"))
    if "claimed_at" not in have:
        conn.execute("ALTER TABLE outbox ADD COLUMN claimed_at REAL")
    if "claim_holder" not in have:
        conn.execute("ALTER TABLE outbox ADD COLUMN claim_holder TEXT")


CHANNEL_ID_COLUMNS = ("telegram_id", "dingtalk_userid", "wecom_userid")


def _marks(ids: Iterable[object]) -> str:
    return ", ".join("?" for _ in ids)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _local_holder_dead(holder: str, host: str) -> bool:
    """A holder of this host whose process is gone, or of this process whose store is closed."""
    parts = holder.split("|")
    if len(parts) < 3 or parts[0] != host:
        return False                       # another host's worker: only the lease tells
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return parts[2] not in _OPEN_SESSIONS
    return not _process_alive(pid)


class DeliveryStore(StoreBase):
    """Outbox rows (pending → sending → sent | failed | silenced | obsolete), silences, bind codes.

    Several delivery workers (processes, hosts) may share the outbox. A worker claims a message's rows
    (`sending`, its session token in `claim`, the database's time in `claimed_at`); a claim is a lease:
    when it is older than the claim timeout, or its holder is known dead (its process on this host
    is gone, its store closed, or on PostgreSQL its database session ended), the next worker's
    collect gives the rows back (`pending`) and they are sent again. A worker writes the outcome
    (sent, retry, failed) only of rows it still holds: a row given back and claimed by another
    worker is no longer its own. So a message is delivered at least once and, but for the window
    described in docs/postgresql.md ("Several delivery workers"), exactly once."""

    @property
    def delivery_session(self) -> str:
        """A token unique to this opened store: rows claimed by it are in flight, older claims are stale."""
        if not hasattr(self, "_delivery_session"):
            self._delivery_session = f"{os.getpid()}:{uuid.uuid4().hex}"
            _OPEN_SESSIONS.add(self._delivery_session)
        return self._delivery_session

    @property
    def claim_holder(self) -> str:
        """Who this store's claims belong to: "host|pid|session[|database session]"."""
        if not hasattr(self, "_claim_holder"):
            backend = self.dialect.session_id(self.conn)
            self._claim_holder = "|".join([socket.gethostname(), str(os.getpid()), self.delivery_session,
                                           *([backend] if backend else [])])
        return self._claim_holder

    def close(self) -> None:
        _OPEN_SESSIONS.discard(getattr(self, "_delivery_session", None))
        super().close()

    # -- routing cursor and events --------------------------------------------------------

    def route_cursor(self) -> int:
        return int(self.scalar("SELECT value FROM meta WHERE key = 'route_cursor'") or 0)

    def events_after(self, cursor: int, limit: int = 500) -> list[dict[str, Any]]:
        """Finding events past the cursor, each with the finding's current fields (prefixed f_)."""
        return self.rows(
            f"""SELECT e.id, e.finding_id, e.at, e.actor, e.action, e.note, e.data,
                      f.rule AS f_rule, f.clause AS f_clause, f.standard AS f_standard,
                      f.subject AS f_subject, {org_out("f.org")} AS f_org, f.severity AS f_severity,
                      f.status AS f_status, f.message AS f_message, f.assignee AS f_assignee,
                      f.supervisor AS f_supervisor, f.due_at AS f_due_at,
                      f.escalation_level AS f_escalation_level, f.data AS f_data
               FROM finding_events e JOIN findings f ON f.id = e.finding_id AND f.org = e.org
               WHERE e.id > ? ORDER BY e.id LIMIT ?""", (cursor, limit))

    def enqueue(self, rows: list[dict[str, Any]], cursor: int | None = None) -> int:
        """Insert outbox rows (a dedup_key already present is skipped) and move the cursor, atomically."""
        inserted = 0
        with self.transaction() as c:
            for r in rows:
                cur = c.execute(
                    """INSERT OR IGNORE INTO outbox (dedup_key, finding_id, recipient, kind, severity,
                       payload, created_at, not_before, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')""",
                    (r["dedup_key"], r.get("finding_id"), r["recipient"], r["kind"], r.get("severity"),
                     json.dumps(r["payload"], ensure_ascii=False), r["created_at"], r.get("not_before")))
                inserted += cur.rowcount
            if cursor is not None:
                c.execute("INSERT INTO meta (key, value) VALUES ('route_cursor', ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(cursor),))
        return inserted

    # -- the outbox -----------------------------------------------------------------------

    def due_outbox(self, now: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Rows to send now: pending and due (a lapsed claim is first given back by `reap_claims`)."""
        return self.rows(
            f"""SELECT {OUTBOX_COLUMNS} FROM outbox
                WHERE status = 'pending' AND (not_before IS NULL OR not_before <= ?)
                ORDER BY id LIMIT ?""", (now, limit))

    def reap_claims(self, timeout: float) -> int:
        """Give back (`pending`, to be sent again) the `sending` rows whose claim is older than
        `timeout` seconds of the database's clock, has no time (made before claims were leases),
        or whose holder is dead. The rows keep their claim: the worker that claimed them may still
        record them as sent until another worker claims them. The number of rows given back."""
        holders = [r[0] for r in self.conn.execute(
            "SELECT DISTINCT claim_holder FROM outbox WHERE status = 'sending' AND claim_holder IS NOT NULL")]
        host = socket.gethostname()
        dead = {h for h in holders if _local_holder_dead(h, host)}
        dead |= self.dialect.dead_sessions(self.conn, [h for h in holders if h not in dead])
        with self.transaction() as c:
            return int(c.execute(
                f"""UPDATE outbox SET status = 'pending' WHERE status = 'sending'
                    AND (claimed_at IS NULL OR claimed_at < {self.dialect.epoch_now} - ?
                         OR claim_holder IN (SELECT value FROM json_each(?)))""",
                (float(timeout), json.dumps(sorted(dead)))).rowcount)

    def outbox(self, status: str | None = None, recipient: str | None = None) -> list[dict[str, Any]]:
        """Outbox rows, optionally of one status and/or recipient, oldest first."""
        sql = f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE 1=1"
        params: list[str] = []
        if status:
            sql, params = sql + " AND status = ?", [*params, status]
        if recipient:
            sql, params = sql + " AND recipient = ?", [*params, recipient]
        return self.rows(sql + " ORDER BY id", params)

    def outbox_of_message(self, recipient: str, ref: str) -> list[dict[str, Any]]:
        """The rows a sent message carried (its ref, e.g. Telegram's "chat:message id"), of one recipient."""
        return self.rows(f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE recipient = ? AND message_ref = ? "
                         "AND status = 'sent' ORDER BY id", (recipient, ref))

    def claim_outbox(self, ids: list[int], now: str | None = None) -> list[int]:
        """Mark pending rows `sending` under this session's claim (never a row sent, nor one another
        worker holds; with `now`, nor one whose retry or quiet-hours wait has not ended); return the
        ids claimed."""
        due = "" if now is None else " AND (not_before IS NULL OR not_before <= ?)"
        with self.transaction() as c:
            # PostgreSQL: rows another worker is claiming at this moment are skipped, not waited for.
            c.execute(f"""UPDATE outbox SET status = 'sending', claim = ?, claim_holder = ?,
                              claimed_at = {self.dialect.epoch_now}, attempts = attempts + 1
                          WHERE id IN (SELECT id FROM outbox WHERE id IN ({_marks(ids)})
                                       AND status = 'pending'{due}{self.dialect.skip_locked})""",
                      (self.delivery_session, self.claim_holder, *ids, *([] if now is None else [now])))
            return [r[0] for r in c.execute(
                f"SELECT id FROM outbox WHERE id IN ({_marks(ids)}) AND status = 'sending' AND claim = ? ORDER BY id",
                (*ids, self.delivery_session))]

    def _set_held(self, ids: Collection[int], sql: str, params: tuple[Any, ...] = ()) -> int:
        """Update rows this session still holds: claimed by it (given back by a lapsed lease too,
        until another worker claims them). The number of rows updated."""
        if not ids:
            return 0
        return int(self.conn.execute(f"UPDATE outbox SET {sql} WHERE id IN ({_marks(ids)}) AND claim = ? "
                                     "AND status IN ('sending', 'pending')",
                                     (*params, *ids, self.delivery_session)).rowcount)

    def _set_pending(self, ids: Collection[int], sql: str, params: tuple[Any, ...] = ()) -> None:
        """Update rows no worker holds (before a claim: obsolete, silenced, deferred)."""
        if ids:
            self.conn.execute(f"UPDATE outbox SET {sql} WHERE id IN ({_marks(ids)}) AND status = 'pending'",
                              (*params, *ids))

    def mark_sent(self, ids: Collection[int], ref: str, now: str, channel: str | None = None) -> int:
        """`sent` with the message's ref; the number of rows still held (fewer: another worker
        took some after this claim lapsed, and sends them again)."""
        return self._set_held(ids, "status = 'sent', message_ref = ?, sent_at = ?, channel = ?, last_error = NULL",
                              (ref, now, channel))

    def mark_retry(self, ids: Collection[int], not_before: str, error: str) -> int:
        return self._set_held(ids, "status = 'pending', not_before = ?, last_error = ?", (not_before, error))

    def mark_waiting(self, ids: Collection[int], not_before: str, error: str) -> int:
        """Back to pending until `not_before`, the claim's attempt given back (its channel was down)."""
        return self._set_held(ids, "status = 'pending', not_before = ?, last_error = ?, claim = NULL, "
                                   "attempts = max(attempts - 1, 0)", (not_before, error))

    def mark_failed(self, ids: Collection[int], error: str) -> int:
        return self._set_held(ids, "status = 'failed', last_error = ?", (error,))

    def mark_silenced(self, ids: Collection[int], silence_id: int) -> None:
        self._set_pending(ids, "status = 'silenced', silence_id = ?", (silence_id,))

    def mark_obsolete(self, ids: Collection[int], reason: str) -> None:
        self._set_pending(ids, "status = 'obsolete', last_error = ?", (reason,))

    def release(self, ids: Collection[int]) -> int:
        """Give claimed rows back (not sent) so a later run takes them."""
        return self._set_held(ids, "status = 'pending', claim = NULL, attempts = max(attempts - 1, 0)")

    def defer(self, ids: Collection[int], not_before: str) -> None:
        self._set_pending(ids, "not_before = ?", (not_before,))

    def outbox_statuses(self, ids: Collection[int]) -> dict[int, str]:
        return {r["id"]: r["status"] for r in self.rows(
            f"SELECT id, status FROM outbox WHERE id IN ({_marks(ids)})", tuple(ids))} if ids else {}

    def outbox_subjects(self, recipient: str, rule: str, like: str) -> list[str]:
        """Subjects (LIKE pattern) of the rule's alerts to a recipient that are sent or on their way."""
        return [r[0] for r in self.conn.execute(
            """SELECT json_extract(payload, '$.subject') FROM outbox WHERE recipient = ?
               AND json_extract(payload, '$.rule') = ? AND json_extract(payload, '$.subject') LIKE ?
               AND status IN ('pending', 'sending', 'sent')""", (recipient, rule, like))]

    def finding_statuses(self, ids: Iterable[int | None]) -> dict[int, str]:
        known = list({i for i in ids if i is not None})
        return {r["id"]: r["status"] for r in self.rows(
            f"SELECT id, status FROM findings WHERE id IN ({_marks(known)})", tuple(known))} if known else {}

    # -- silences -------------------------------------------------------------------------

    def add_silence(self, rule: str, org: str, starts_at: str, ends_at: str, reason: str, created_by: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO silences (rule, org, starts_at, ends_at, reason, created_by) VALUES (?, ?, ?, ?, ?, ?)",
            (rule, org, starts_at, ends_at, reason, created_by))
        silence_id: int = cur.lastrowid          # the new row's id (PostgreSQL: RETURNING id)
        return silence_id

    def remove_silence(self, silence_id: int, now: str) -> bool:
        cur = self.conn.execute("UPDATE silences SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                                (now, silence_id))
        return bool(cur.rowcount == 1)

    def active_silences(self, now: str) -> list[dict[str, Any]]:
        return self.rows("""SELECT * FROM silences WHERE removed_at IS NULL AND starts_at <= ? AND ends_at > ?
                            ORDER BY id""", (now, now))

    # -- bind codes and officers ----------------------------------------------------------

    def add_bind_code(self, code: str, officer_id: str, created_at: str, expires_at: str) -> None:
        self.conn.execute("INSERT INTO bind_codes (code, officer_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                          (code, officer_id, created_at, expires_at))

    def use_bind_code(self, code: str, telegram_id: int | str, now: str, column: str = "telegram_id") -> str | None:
        """Spend a valid, unused code: bind its officer to the messenger user (`column`: telegram_id or
        dingtalk_userid); the officer id, or None."""
        if column not in CHANNEL_ID_COLUMNS:
            raise ValueError(f"not a channel id column: {column}")
        with self.transaction() as c:
            row = c.execute("SELECT officer_id FROM bind_codes WHERE code = ? AND used_at IS NULL AND expires_at > ?",
                            (code, now)).fetchone()
            if not row:
                return None
            c.execute("UPDATE bind_codes SET used_at = ?, used_by = ? WHERE code = ?", (now, telegram_id, code))
            c.execute(f"UPDATE officers SET {column} = NULL WHERE {column} = ?", (telegram_id,))
            c.execute(f"UPDATE officers SET {column} = ? WHERE id = ?", (telegram_id, row[0]))
            officer_id: str = row[0]
            return officer_id

    def officer_by_telegram(self, telegram_id: int) -> dict[str, Any] | None:
        return self.row("SELECT * FROM officers WHERE telegram_id = ?", (telegram_id,))

    def officer_by_channel_id(self, column: str, value: object) -> dict[str, Any] | None:
        """The officer whose id on a channel (telegram_id, dingtalk_userid, wecom_userid) is `value`."""
        if column not in CHANNEL_ID_COLUMNS:
            raise ValueError(f"not a channel id column: {column}")
        return self.row(f"SELECT * FROM officers WHERE {column} = ? ORDER BY id", (value,))

    def officer(self, officer_id: str) -> dict[str, Any] | None:
        return self.row("SELECT * FROM officers WHERE id = ?", (officer_id,))
