"""What a scan does under its write lock, and its WAL checkpoint (issue 11: the 1M daily scan's
critical path).

The new findings of a daily scan are made whole in SQL and routed before the lock (stage_setwise):
under it only their insert, the resolves and the scan's row are written.

run_scan's commits leave the checkpoint of its writes to the caller's `store.checkpoint()`, once the
scan has reported and released its lock (`govwatch scan`, the scheduler's daily scan), so it lands
neither on the scan's commit nor on the next writer's (a bot button press). The WAL stays bounded:
past SCAN_WAL_PAGES a scan's commit checkpoints as usual, and the connection's own setting is
restored afterwards. The figures are asserted on the database file alone (`immutable=1` reads it
without its WAL): what a checkpoint folded back is there.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import checker.store.scan as store_scan
from checker import config
from checker.evaluate.scan import run_scan
from checker.rules import load_packs
from checker.store import Store

from scanworld import load
from test_engines_agree import seeded_records

ROOT = Path(__file__).resolve().parent.parent
PACKS = [ROOT / "rules" / "db33"]
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 10, 14, 8, 30, tzinfo=TZ)
NEXT = datetime(2026, 10, 15, 8, 30, tzinfo=TZ)
USUAL = 10         # the connection's own automatic checkpoint (pages): far below what a scan writes here


def _file_findings(path: str) -> int:
    """Findings in the database file itself, its WAL not read."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM findings").fetchone()[0])
    finally:
        conn.close()


def _scanned_store(tmp_path, name: str) -> tuple[Store, config.Config]:
    cfg = config.load(None, database=str(tmp_path / name))
    store = Store(cfg.database)
    store.conn.execute(f"PRAGMA wal_autocheckpoint = {USUAL}")
    load(store, cfg, seeded_records(5, 300), tmp_path)
    store.checkpoint()
    return store, cfg


def test_a_scan_leaves_its_checkpoint_to_the_caller_who_then_folds_the_wal_back(tmp_path):
    store, cfg = _scanned_store(tmp_path, "deferred.db")
    with store:
        before = _file_findings(store.path)
        r = run_scan(store, cfg, load_packs(PACKS), NOW, full=True)
        assert r.opened > 0
        assert _file_findings(store.path) == before, "the scan's commit checkpointed"
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == USUAL   # restored
        log, done = store.checkpoint() or (0, -1)
        assert log == done > USUAL, "every page the scan wrote folded back, nobody reading meanwhile"
        assert _file_findings(store.path) == before + r.opened


def test_past_its_bound_a_scans_commit_checkpoints_as_usual(tmp_path, monkeypatch):
    monkeypatch.setattr(store_scan, "SCAN_WAL_PAGES", 2)
    store, cfg = _scanned_store(tmp_path, "bounded.db")
    with store:
        before = _file_findings(store.path)
        r = run_scan(store, cfg, load_packs(PACKS), NOW, full=True)
        assert r.opened > 0
        assert _file_findings(store.path) == before + r.opened, "the WAL grew past the bound unchecked"


def test_a_checkpoint_waits_on_no_reader_and_says_what_it_could_not_fold(tmp_path):
    store, cfg = _scanned_store(tmp_path, "reader.db")
    with store, Store(store.path) as reader:
        reader.conn.execute("BEGIN")
        reader.scalar("SELECT count(*) FROM findings")                 # a snapshot from before the scan
        r = run_scan(store, cfg, load_packs(PACKS), NOW, full=True)
        log, done = store.checkpoint() or (0, 0)
        assert r.opened > 0 and done < log, "the reader's snapshot keeps the newer pages in the WAL"
        reader.conn.execute("COMMIT")
        log, done = store.checkpoint() or (0, -1)
        assert log == done


@pytest.mark.both_stores
def test_a_scan_and_its_checkpoint_on_either_store(store, cfg, tmp_path):
    load(store, cfg, seeded_records(6, 120), tmp_path)
    r = run_scan(store, cfg, load_packs(PACKS), NOW, full=True)
    folded = store.checkpoint()
    assert r.opened > 0
    if store.is_postgres:
        assert folded is None                  # the server checkpoints by itself
    else:
        assert folded is not None and folded[0] == folded[1]


def test_a_daily_scan_stages_its_new_findings_before_its_write_lock(tmp_path, monkeypatch):
    cfg = config.load(None, database=str(tmp_path / "staged.db"))
    with Store(cfg.database) as store:
        load(store, cfg, seeded_records(11, 300), tmp_path)
        book = load_packs(PACKS)
        run_scan(store, cfg, book, NOW, full=True)
        load(store, cfg, {"cases": seeded_records(12, 60)["cases"]}, tmp_path)     # changed rows
        seen: list[str] = []
        store.conn.set_trace_callback(seen.append)
        r = run_scan(store, cfg, book, NEXT)
        store.conn.set_trace_callback(None)
    lock = max(i for i, sql in enumerate(seen) if sql.startswith("BEGIN IMMEDIATE"))
    staged = [i for i, sql in enumerate(seen) if sql.startswith(("INSERT INTO temp._open", "INSERT INTO temp._opening"))]
    opened = [i for i, sql in enumerate(seen) if sql.lstrip().startswith("INSERT INTO findings")]
    assert r.opened > 0 and len(staged) == 2 and len(opened) == 1
    assert max(staged) < lock < opened[0], "the findings were staged under the write lock"
