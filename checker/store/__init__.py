"""The store: one SQLite file (or a PostgreSQL database) holding records, findings, the outbox and the run log.

All SQL of govwatch lives in this package, one module per concept; `Store` combines them.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from . import migrations
from .base import DatabaseBusy, StoreBase, is_busy, not_a_database, require_file  # noqa: F401 (DatabaseBusy, is_busy: API)
from .delivery import DeliveryStore
from .findings import FindingStore
from .indicators import IndicatorStore
from .lease import LeaseStore
from .lookups import LookupStore
from .opening import OpeningStore
from .records import RecordStore
from .runs import RunStore
from .reports import ReportStore
from .scan import ScanStore


class Store(LeaseStore, LookupStore, RecordStore, RunStore, FindingStore, OpeningStore, IndicatorStore, ReportStore,
            DeliveryStore, ScanStore, StoreBase):
    """Open (and migrate) a govwatch database."""

    def __init__(self, path: str | Path, create: bool = True, *, password_env: str | None = None):
        """`create=False`: the file must exist already (read commands). `password_env`: the
        environment variable with a PostgreSQL URL's password (config database_password_env)."""
        if not create:
            require_file(path)
        super().__init__(path, password_env)
        try:
            self.applied = migrations.migrate(self.conn)
            self.dialect.maintain(self.conn)          # PostgreSQL: this and the next months' partitions
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise not_a_database(self.path, exc) from None
