"""`govwatch serve` end to end: a real subprocess with the console notifier. Back after an outage it
catches up the daily scan and the reminders on its own, delivers a digest, and exits 0 on SIGTERM."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from checker import config as config_mod
from checker.ingest.importer import import_file
from checker.store import Store
from scheduler import runlog

TZ = ZoneInfo("Asia/Shanghai")
CONFIG = """
database: {db}
schedule:
  daily_scan: {{enabled: true, time: "00:00"}}
  reminders: {{enabled: true, time: "00:00"}}
  weekly_dispatch: {{enabled: false}}
  monthly_bulletin: {{enabled: false}}
  quarterly_analysis: {{enabled: false}}
  annual_evaluation: {{enabled: false}}
  deliver_interval_seconds: 0.3
  rules_watch_seconds: 1
  remind_before_working_days: 30     # the scan gives findings days to rectify: remind now
reports:
  out_dir: {out}
"""


def records(now: datetime) -> dict[str, list[dict]]:
    """A district with an officer and supervisors, and a case long past its deadline."""
    accepted = (now - timedelta(days=40)).isoformat(timespec="seconds")
    return {
        "orgs": [{"code": "330100", "name": "杭州市", "level": "city"},
                 {"code": "330102", "name": "上城区", "parent": "330100", "level": "district"}],
        "officers": [{"id": "O1", "name": "王一", "org": "330102", "role": "officer"},
                     {"id": "S1", "name": "张监", "org": "330102", "role": "supervisor"},
                     {"id": "S0", "name": "周监", "org": "330100", "role": "supervisor"}],
        "items": [{"code": "X1", "name": "营业执照", "org": "330102", "type": "行政许可", "in_scope": True,
                   "one_visit": True, "statutory_days": 20, "promised_days": 5}],
        "cases": [{"case_no": "C001", "item_code": "X1", "org": "330102", "channel": "window",
                   "accepted_at": accepted, "status": "processing", "handler": "O1"}],
    }


@pytest.fixture
def service_dir(tmp_path):
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(CONFIG.format(db=tmp_path / "gw.db", out=tmp_path / "reports"), encoding="utf-8")
    cfg = config_mod.load(cfg_file)
    now = datetime.now(TZ)
    with Store(cfg.database) as store:
        for kind, rows in records(now).items():
            path = tmp_path / f"{kind}.json"
            path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            import_file(store, cfg, kind, path)
        for job in ("daily_scan", "reminders"):       # the service ran long ago, then was down
            run_id = runlog.claim(store, job, "2026-01-05", now - timedelta(days=300))
            runlog.finish(store, run_id, True, "earlier run", now - timedelta(days=300))
    return tmp_path, cfg_file, cfg


def wait_for(predicate, timeout=25.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_serve_catches_up_scans_reminds_delivers_and_stops_cleanly(service_dir):
    tmp, cfg_file, cfg = service_dir
    env = {k: v for k, v in os.environ.items() if k != cfg.telegram.token_env}
    out, err = (tmp / "stdout.txt").open("wb"), (tmp / "stderr.txt").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "govwatch", "--config", str(cfg_file), "serve"],
                            stdout=out, stderr=err, env=env, cwd=tmp)
    stdout = lambda: (tmp / "stdout.txt").read_text(encoding="utf-8", errors="replace")  # noqa: E731

    def finished(job):
        with Store(cfg.database) as store:
            return [r for r in store.job_runs(job) if r["slot"] != "2026-01-05" and r["status"] != "running"]
    try:
        assert wait_for(lambda: finished("reminders") and "办件 C001" in stdout()), (
            stdout() + (tmp / "stderr.txt").read_text(encoding="utf-8"))
        assert wait_for(lambda: "整改期限提醒" in stdout()), stdout()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        out.close(), err.close()
    log = (tmp / "stderr.txt").read_text(encoding="utf-8")
    assert code == 0, log
    [scan], [remind] = finished("daily_scan"), finished("reminders")
    assert scan["status"] == "ok" and scan["detail"].startswith("扫描 #"), scan
    assert remind["status"] == "ok" and remind["detail"].startswith("提醒 "), remind
    assert not remind["detail"].startswith("提醒 0"), remind
    assert "catching up daily_scan" in log and "stopped cleanly" in log
    assert "新发现问题" in stdout()
