"""The two stores agree: the same generated data imported into SQLite and into PostgreSQL gives the
same findings (messages, deadlines, lifecycle), the same audit trail, the same P1–P9 for every org,
the same index and the same monthly bulletin (DESIGN.md: identical results on both stores)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from checker import config as config_mod
from checker.evaluate import indicators
from checker.reports.index import compute_index
from checker.ingest import import_dir
from checker.periods import Period
from checker.reports import model, spec_of
from checker.rules import load_packs
from checker.tools.sample import write_sample
from checker.evaluate.scan import run_scan
from checker.store import Store

from conftest import ROOT

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 10, 14, 9, tzinfo=TZ)
FINDING_COLUMNS = ("rule", "clause", "standard", "kind", "subject", "subject_kind", "org", "severity", "status",
                   "message", "assignee", "supervisor", "opened_at", "due_at", "resolved_at", "reopen_count", "data")


def outcome(database: str, data_dir) -> dict:
    cfg = config_mod.load(None, database=database)
    book = load_packs(ROOT / "rules")
    with Store(cfg.database) as store:
        imported = [(r.kind, r.inserted, r.updated, r.rejected) for r in import_dir(store, cfg, data_dir)]
        scans = [run_scan(store, cfg, book, NOW, full=True),
                 run_scan(store, cfg, book, NOW + timedelta(days=3)),          # resolves, opens, keeps
                 run_scan(store, cfg, book, NOW + timedelta(days=3), full=True)]
        cols = ", ".join(FINDING_COLUMNS)
        findings = store.rows(f"SELECT {cols} FROM findings ORDER BY rule, subject")
        events = store.rows("SELECT f.rule, f.subject, e.action, e.from_status, e.to_status, e.at "
                            "FROM finding_events e JOIN findings f ON f.id = e.finding_id "
                            "ORDER BY f.rule, f.subject, e.id")
        period = Period.parse("2026-09")
        values = indicators.compute(store, cfg, book, period, now=NOW)
        quarter = indicators.compute(store, cfg, book, Period.parse("2026-Q3"), now=NOW)
        index = compute_index(store, cfg, book, period, now=NOW)
        report = model.gather(store, cfg, book, spec_of("monthly"), period, None, NOW)
        return {"imported": imported,
                "scans": [(s.evaluated, s.opened, s.resolved, s.reopened, s.open) for s in scans],
                "findings": findings, "events": events,
                "indicators": [dataclasses.astuple(v) for v in values + quarter],
                "index": index, "report": report}      # compared as values (a dict's order aside)


def test_sqlite_and_postgresql_give_the_same_findings_indicators_index_and_report(tmp_path, pg_url, pg_database):
    write_sample(tmp_path / "data", NOW, cases=1500, seed=11, tz=TZ)
    lite = outcome(str(tmp_path / "govwatch.db"), tmp_path / "data")
    pg = outcome(pg_database, tmp_path / "data")
    assert lite["findings"] and lite["indicators"] and any(s[1] for s in lite["scans"])
    for key in lite:
        assert pg[key] == lite[key], key
