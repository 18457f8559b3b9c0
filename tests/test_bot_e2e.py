"""End to end: `govwatch serve` in its own process against a fake Bot API server on 127.0.0.1.

Findings reach the right chats, a button press acknowledges, a rectification is submitted and
verified; after the server refuses sends for a while and the process is killed (SIGKILL) and
restarted, every notification arrives exactly once.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest
import yaml

from checker import config as config_mod
from checker import findings as fnd
from checker.store import Store

from botworld import TZ, Rule, fire, seed, wait_for
from fakebotapi import FakeServer

OFFICER, SUPERVISOR = 1001, 2001
OVERDUE = Rule("db33.case.overdue")
JOBS_OFF = {name: {"enabled": False} for name in ("daily_scan", "weekly_dispatch", "monthly_bulletin",
                                                   "quarterly_analysis", "annual_evaluation", "reminders")}

def _serve_command(config_path) -> list[str]:
    return [sys.executable, "-m", "govwatch", "--config", str(config_path), "serve"]



class Service:
    def __init__(self, config_path, log_path):
        self.config_path, self.log_path, self.proc = config_path, log_path, None

    def start(self):
        env = {**os.environ, "GOVWATCH_TELEGRAM_TOKEN": "123456:E2E-TOKEN", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(_serve_command(self.config_path), env=env, stdout=open(self.log_path, "ab"),
                                     stderr=subprocess.STDOUT, cwd=self.config_path.parent)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def e2e(tmp_path):
    with FakeServer() as server:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(yaml.safe_dump({
            "database": str(tmp_path / "govwatch.db"),
            "telegram": {"base_url": server.base_url, "base_file_url": server.base_file_url,
                         "quiet_hours": {"start": "00:00", "end": "00:00"},
                         "rate_limit": {"max_retries": 0}},
            "schedule": {**JOBS_OFF, "deliver_interval_seconds": 0.2, "rules_watch_seconds": 3600},
        }), encoding="utf-8")
        cfg = config_mod.load(config_path)
        store = Store(cfg.database)
        seed(store, cfg, tmp_path)
        service = Service(config_path, tmp_path / "serve.log")
        try:
            yield server.api, store, cfg, service
        finally:
            service.stop()
            store.close()
            print((tmp_path / "serve.log").read_text(encoding="utf-8", errors="replace")[-3000:])


def test_alerts_buttons_rectification_and_exactly_once_after_failures_and_sigkill(e2e):
    api, store, cfg, service = e2e
    now = datetime.now(TZ)
    ids = fire(store, cfg, [(OVERDUE, "C001", "办件 C001 已超期", "E1")], now=now)
    service.start()

    # a scan's finding reaches the assignee's chat, with its buttons
    wait_for(lambda: any("办件 C001 已超期" in t for t in api.texts(OFFICER)), "the alert in the officer's chat")
    alert = api.messages[OFFICER][-1]
    assert "依据 DB33/T 2036.7 §5.2.1.5" in alert["text"]
    assert api.texts(SUPERVISOR) == []

    # 确认收到
    fid = ids["C001"]
    api.push(api.press(OFFICER, f"ack:{fid}", alert))
    wait_for(lambda: fnd.get_finding(store, fid)["status"] == "acknowledged", "the acknowledgement")

    # 提交整改 → the supervisor is asked → 复查通过 → the officer is told
    api.push(api.press(OFFICER, f"rect:{fid}", alert))
    wait_for(lambda: any("整改说明" in t for t in api.texts(OFFICER)), "the note prompt")
    api.push(api.message(OFFICER, "已补办并归档"))
    wait_for(lambda: any("/skip" in t for t in api.texts(OFFICER)), "the evidence prompt")
    api.push(api.message(OFFICER, "/skip"))
    wait_for(lambda: any("确认提交吗" in t for t in api.texts(OFFICER)), "what will be submitted")
    api.push(api.press(OFFICER, f"rc:{fid}", api.messages[OFFICER][-1]))
    wait_for(lambda: any("整改待复查" in t for t in api.texts(SUPERVISOR)), "the verification request")
    request = api.messages[SUPERVISOR][-1]
    api.push(api.press(SUPERVISOR, f"vp:{fid}", request))
    wait_for(lambda: any("整改复查通过" in t for t in api.texts(OFFICER)), "the verification notice")
    assert fnd.get_finding(store, fid)["status"] == "verified"

    # the server refuses sends for a while; the service is killed and restarted
    api.fail(40, 429, retry_after=1)
    ids = fire(store, cfg, [(OVERDUE, f"K{i}", f"办件 K{i} 已超期", "E1") for i in range(3)], now=datetime.now(TZ))
    wait_for(lambda: 0 < len(api.failures) < 40, "a refused send")
    service.kill()
    with api.lock:
        api.failures.clear()
    service.start()
    wait_for(lambda: all(any(f"办件 K{i} 已超期" in t for t in api.texts(OFFICER)) for i in range(3)),
             "every alert after the restart")
    time.sleep(0.6)                               # a few more delivery ticks: nothing may repeat
    texts = "\n".join(api.texts(OFFICER))
    for subject, finding_id in ids.items():
        assert len(re.findall(f"新发现问题 #{finding_id}<", texts)) == 1, subject
    assert len(re.findall("整改复查通过", texts)) == 1
    assert {r["status"] for r in store.outbox()} == {"sent"}
