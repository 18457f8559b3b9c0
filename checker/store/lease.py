"""SQL of the service lease: one `govwatch serve` per database (issue 12 item 9).

The lease is a row naming its holder (host, pid, a random id) and a heartbeat the holder renews
every few seconds. A second service finds a fresh heartbeat and stops; a service that crashed stops
renewing, so its lease goes stale after `ttl` seconds and the next one takes it over. Times are the
wall clock (epoch seconds), never a --now.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from .base import StoreBase


def _service_lease(conn: sqlite3.Connection) -> None:
    conn.execute("""CREATE TABLE service_lease (
        name TEXT PRIMARY KEY,            -- 'serve'
        holder TEXT NOT NULL,             -- random id of the holding process
        host TEXT NOT NULL, pid INTEGER NOT NULL,
        acquired_at REAL NOT NULL, heartbeat_at REAL NOT NULL)""")


class LeaseStore(StoreBase):
    def acquire_lease(self, name: str, holder: str, host: str, pid: int, now: float, ttl: float) -> dict[str, Any] | None:
        """Take the lease (free, stale, or already ours): None; else the live holder's row."""
        with self.transaction() as c:
            self.dialect.serialize(c, f"lease:{name}")       # PostgreSQL: two services never both take it
            row = c.execute("SELECT holder, host, pid, acquired_at, heartbeat_at FROM service_lease WHERE name = ?",
                            (name,)).fetchone()
            if row and row[0] != holder and row[4] > now - ttl:
                return dict(zip(("holder", "host", "pid", "acquired_at", "heartbeat_at"), row))
            c.execute("""INSERT INTO service_lease (name, holder, host, pid, acquired_at, heartbeat_at)
                         VALUES (?, ?, ?, ?, ?, ?)
                         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, host = excluded.host,
                            pid = excluded.pid, acquired_at = excluded.acquired_at,
                            heartbeat_at = excluded.heartbeat_at""", (name, holder, host, pid, now, now))
            return None

    def renew_lease(self, name: str, holder: str, now: float) -> bool:
        """The heartbeat; False when the lease is no longer ours (it went stale and was taken)."""
        with self.transaction() as c:
            return bool(c.execute("UPDATE service_lease SET heartbeat_at = ? WHERE name = ? AND holder = ?",
                                  (now, name, holder)).rowcount)

    def release_lease(self, name: str, holder: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM service_lease WHERE name = ? AND holder = ?", (name, holder))
