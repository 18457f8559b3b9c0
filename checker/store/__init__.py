"""The store: one SQLite file holding records, findings, the outbox and the run log.

All SQL of govwatch lives in this package, one module per concept; `Store` combines them.
"""
from __future__ import annotations

from pathlib import Path

from . import migrations
from .base import StoreBase
from .delivery import DeliveryStore
from .findings import FindingStore
from .indicators import IndicatorStore
from .records import RecordStore
from .runs import RunStore
from .reports import ReportStore
from .scan import ScanStore


class Store(RecordStore, RunStore, FindingStore, IndicatorStore, ReportStore, DeliveryStore, ScanStore, StoreBase):
    """Open (and migrate) a govwatch database."""

    def __init__(self, path: str | Path):
        super().__init__(path)
        self.applied = migrations.migrate(self.conn)


def open_store(path: str | Path) -> Store:
    return Store(path)
