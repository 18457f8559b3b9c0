"""`govwatch serve` against a Bot API that is down, then up, then refuses the token (401), then up
again (issue 12 items 3, 7, 9): the scans go on through the outage, no notification is lost or sent
twice, no log line holds the token, and a second service on the same database exits 2."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
import yaml

from checker import config as config_mod
from checker import findings as fnd
from checker.ingest import import_file
from checker.store import Store
from scheduler import runlog

from botworld import TZ, wait_for
from fakebotapi import FakeServer

TOKEN = "7654321:OutageTestSecretPartXYZ0123456789abcd"
OFFICER, SUPERVISOR = 1101, 2101
JOBS = {"daily_scan": {"enabled": True, "time": "00:00"}, "reminders": {"enabled": False},
        "weekly_dispatch": {"enabled": False}, "monthly_bulletin": {"enabled": False},
        "quarterly_analysis": {"enabled": False}, "annual_evaluation": {"enabled": False}}


def records(now: datetime) -> dict[str, list[dict]]:
    accepted = (now - timedelta(days=40)).isoformat(timespec="seconds")
    return {
        "orgs": [{"code": "500100", "name": "重庆市", "level": "city"},
                 {"code": "500106", "name": "沙坪坝区", "parent": "500100", "level": "district"}],
        "officers": [{"id": "W7", "name": "刘七", "org": "500106", "role": "officer", "telegram_id": OFFICER},
                     {"id": "S7", "name": "何监", "org": "500106", "role": "supervisor", "telegram_id": SUPERVISOR}],
        "items": [{"code": "Y1", "name": "户籍迁移", "org": "500106", "type": "行政许可", "in_scope": True,
                   "one_visit": True, "statutory_days": 20, "promised_days": 5}],
        "cases": [{"case_no": f"Y{i:03d}", "item_code": "Y1", "org": "500106", "channel": "window",
                   "accepted_at": accepted, "status": "processing", "handler": "W7"} for i in range(1, 4)],
    }



@pytest.fixture
def world(tmp_path):
    with FakeServer() as server:
        server.api.set_mode("down")                       # down before the service even starts
        cfg_path = tmp_path / "config.yaml"
        cfg_path.write_text(yaml.safe_dump({
            "database": str(tmp_path / "gw.db"),
            "logging": {"level": "DEBUG", "file": str(tmp_path / "serve.log")},
            "reports": {"out_dir": str(tmp_path / "reports")},
            "channels": {"retry_base_seconds": 0.3, "retry_max_seconds": 1},
            "telegram": {"base_url": server.base_url, "base_file_url": server.base_file_url,
                         "quiet_hours": {"start": "00:00", "end": "00:00"}, "rate_limit": {"max_retries": 0},
                         "reconnect_base_seconds": 0.3, "reconnect_max_seconds": 1},   # more tries, one log line
            "schedule": {**JOBS, "deliver_interval_seconds": 0.3, "rules_watch_seconds": 3600},
        }, allow_unicode=True), encoding="utf-8")
        cfg = config_mod.load(cfg_path)
        now = datetime.now(TZ)
        with Store(cfg.database) as store:
            for kind, rows in records(now).items():
                path = tmp_path / f"{kind}.json"
                path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
                assert import_file(store, cfg, kind, path).rejected == 0
            run_id = runlog.claim(store, "daily_scan", "2026-01-05", now - timedelta(days=300))
            runlog.finish(store, run_id, True, "earlier run", now - timedelta(days=300))   # so it catches up
        env = {**os.environ, cfg.telegram.token_env: TOKEN, "PYTHONUNBUFFERED": "1"}
        out = open(tmp_path / "stderr.txt", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "govwatch", "--config", str(cfg_path), "serve"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            yield server.api, cfg, cfg_path, env, proc, tmp_path
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            out.close()


def govwatch(env, cfg_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "govwatch", "--config", str(cfg_path), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_serve_rides_out_a_bot_api_outage_and_a_refused_token(world):
    api, cfg, cfg_path, env, proc, tmp = world

    def store_rows(sql):
        with Store(cfg.database) as s:
            return s.rows(sql)

    # Down: the catch-up scan runs anyway and its alerts wait in the outbox.
    wait_for(lambda: store_rows("SELECT 1 FROM job_runs WHERE job = 'daily_scan' AND status = 'ok' "
                                "AND slot != '2026-01-05'"), "the daily scan while the Bot API is down")
    wait_for(lambda: store_rows("SELECT 1 FROM outbox WHERE status = 'pending'"), "alerts queued")
    assert proc.poll() is None and api.texts(OFFICER) == []

    # A second service on the same database is refused at once.
    second = govwatch(env, cfg_path, "serve")
    assert second.returncode == 2 and "已有一个 govwatch serve 在运行" in second.stderr

    # Up: everything queued arrives, once.
    api.set_mode(None)
    wait_for(lambda: len(re.findall("新发现问题 #", "\n".join(api.texts(OFFICER)))) >= 3, "the alerts after the outage")
    wait_for(lambda: api.called("getUpdates"), "the bot polling once the API is back")

    # 401: a rectification submitted meanwhile is not lost; the service keeps running.
    api.set_mode("unauthorized")
    told = len(api.texts(SUPERVISOR))
    first = store_rows("SELECT id FROM findings WHERE assignee = 'W7' ORDER BY id")[0]
    submitted = govwatch(env, cfg_path, "finding", "submit", str(first["id"]), "--by", "W7", "--note", "已补正材料")
    assert submitted.returncode == 0, submitted.stderr
    wait_for(lambda: store_rows("SELECT 1 FROM outbox WHERE kind = 'verify_request' AND last_error IS NOT NULL"),
             "a send refused with 401")
    assert proc.poll() is None and len(api.texts(SUPERVISOR)) == told

    # Up again: the request reaches the supervisor, once; nothing failed, nothing doubled.
    api.set_mode(None)
    wait_for(lambda: any("整改待复查" in t for t in api.texts(SUPERVISOR)), "the verification request")
    time.sleep(1.0)                                       # a few more delivery ticks: nothing may repeat
    officer = "\n".join(api.texts(OFFICER))
    # An entry may name several findings of one subject ("#19、#22", one per pack), and an indicator's
    # older period is not announced once a later one is (kept as obsolete): every other finding once.
    announced = Counter(int(i) for ids in re.findall(r"新发现问题 (#[\d、#]+)<", officer)
                        for i in re.findall(r"\d+", ids))
    obsolete = {r["finding_id"] for r in store_rows("SELECT finding_id FROM outbox WHERE status = 'obsolete'")}
    for row in store_rows("SELECT id FROM findings WHERE assignee = 'W7'"):
        assert announced[row["id"]] == (0 if row["id"] in obsolete else 1), row
    assert len(re.findall("整改待复查", "\n".join(api.texts(SUPERVISOR)))) == 1
    assert {r["status"] for r in store_rows("SELECT status FROM outbox")} <= {"sent", "obsolete"}
    assert fnd.get_finding(Store(cfg.database), first["id"])["status"] == "submitted"
    api.push(api.message(OFFICER, "/help"))                 # polling given up on the 401 is back
    wait_for(lambda: api.called("sendMessage") and "/findings" in api.texts(OFFICER)[-1], "an answer to /help")

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    logs = (tmp / "serve.log").read_text(encoding="utf-8") + (tmp / "stderr.txt").read_text(encoding="utf-8")
    secret = TOKEN.split(":", 1)[1]
    assert secret not in logs and TOKEN not in logs
    assert "unreachable" in logs and "拒绝了机器人令牌（401）" in logs
    # one line per change of state (down, back, refused, back), not one per try
    log_file = (tmp / "serve.log").read_text(encoding="utf-8")
    assert len(re.findall("channel telegram is unavailable", log_file)) == 2
    assert len(re.findall("the Bot API is unreachable", log_file)) == 1
    assert store_rows("SELECT * FROM service_lease") == []          # released on a clean stop
