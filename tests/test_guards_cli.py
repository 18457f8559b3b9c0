"""Issue 12: the clock, the lock and the command line (items 4, 11, 13). Values differ on purpose
from the ones the issue reported."""
from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import datetime

import pytest

from checker import findings as fnd
from checker.errors import Forbidden
from checker.evaluate.scan import run_scan
from checker.evaluate.scanclock import BackdatedScan
from checker.store import Store, base
from govwatch import cli
from scheduler.jobs import JOBS
from scheduler.runner import Runtime

import shipped
from test_findings import T0, fire, scan, seed

LATER = datetime.fromisoformat("2026-11-03T09:00:00+08:00")


class Holder:
    def __init__(self, rulebook):
        self.rulebook = rulebook


def test_a_backdated_scan_is_refused_and_a_dry_run_writes_nothing(cfg, store, capsys):
    book = shipped.rulebook()
    run_scan(store, cfg, book, LATER)
    with pytest.raises(BackdatedScan, match="早于上次完成的扫描时间"):
        run_scan(store, cfg, book, datetime.fromisoformat("1999-07-07T07:00:00+08:00"))
    before = (store.scalar("SELECT count(*) FROM scans"), store.scalar("SELECT count(*) FROM finding_events"),
              store.scalar("SELECT max(_seq) FROM cases"))
    assert cli.main(["--db", cfg.database, "scan", "--now", "2025-06-01T10:00"]) == 2
    assert "--dry-run" in capsys.readouterr().err
    assert cli.main(["--db", cfg.database, "scan", "--now", "2025-06-01T10:00", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is True
    after = (store.scalar("SELECT count(*) FROM scans"), store.scalar("SELECT count(*) FROM finding_events"),
             store.scalar("SELECT max(_seq) FROM cases"))
    assert after == before
    assert run_scan(store, cfg, book, LATER).scan_id          # the same moment again is fine


def test_a_read_command_on_a_missing_database_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "typo" / "govwtach.db"
    for argv in (["findings"], ["scan"], ["indicators", "--period", "2026-10"], ["finding", "ack", "1", "--by", "X"]):
        assert cli.main(["--db", str(missing), *argv]) == 2
        assert "不存在" in capsys.readouterr().err
    assert not missing.exists() and not missing.parent.exists()


def test_a_file_that_is_not_sqlite_is_a_message_not_a_traceback(tmp_path, capsys):
    fake = tmp_path / "notes.db"
    fake.write_text("这不是数据库\n" * 200, encoding="utf-8")
    assert cli.main(["--db", str(fake), "findings"]) == 2
    err = capsys.readouterr().err
    assert "不是可用的 SQLite 数据库" in err and "Traceback" not in err


def test_findings_options_are_checked(cfg, store, capsys):
    seed(store)
    assert cli.main(["--db", cfg.database, "findings", "--limit", "-5"]) == 2
    assert cli.main(["--db", cfg.database, "findings", "--limit", "0"]) == 2
    assert cli.main(["--db", cfg.database, "findings", "--org", "999999"]) == 2
    assert "未找到机构 999999" in capsys.readouterr().err
    assert cli.main(["--db", cfg.database, "findings", "--org", "330105"]) == 0
    with pytest.raises(SystemExit) as exc:
        cli.main(["--db", cfg.database, "finding", "verify", "1", "--by", "S0", "--fail", "--pass"])
    assert exc.value.code == 2 and "只能选一个" in capsys.readouterr().err


def test_evidence_is_not_written_when_the_actor_may_not_submit(cfg, store, tmp_path):
    seed(store)
    scan(store, cfg, T0, [fire()])
    [row] = fnd.list_findings(store)
    with pytest.raises(Forbidden):
        fnd.submit(store, row["id"], "O5", "不是我的问题", evidence=("证据.png", b"\x89PNG stranger"), now=T0)
    assert not (tmp_path / "evidence").exists()


def test_a_long_lock_is_a_clear_message_and_the_job_runs_at_its_next_slot(cfg, store, capsys, monkeypatch,
                                                                             tmp_path):
    monkeypatch.setattr(base, "LOCK_WAIT_SECONDS", 0.2)              # the wait, not the behaviour
    cfg = dataclasses.replace(cfg, reports=dataclasses.replace(cfg.reports, out_dir=str(tmp_path / "reports")))
    seed(store)
    holder = sqlite3.connect(cfg.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert cli.main(["--db", cfg.database, "scan", "--now", "2026-10-09T09:00"]) == 2
        err = capsys.readouterr().err
        assert "正被其他进程占用" in err and "Traceback" not in err
        rt = Runtime(cfg, Holder(shipped.rulebook()), clock=lambda: LATER)
        slot = datetime.fromisoformat("2026-11-03T08:30:00+08:00")
        assert rt.run_slot(JOBS["daily_scan"], slot) is None         # not claimed: nothing half-done
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.job_runs("daily_scan") == []
    nxt = datetime.fromisoformat("2026-11-04T08:30:00+08:00")
    rt = Runtime(cfg, Holder(shipped.rulebook()), clock=lambda: nxt)
    assert rt.run_slot(JOBS["daily_scan"], nxt) == "ok"
