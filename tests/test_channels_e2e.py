"""End to end: `govwatch serve` in its own process with DingTalk, WeCom, Telegram and the webhook
enabled, against the fake servers on 127.0.0.1. Each officer's digest arrives on their channel; a
DingTalk 确认 (Stream mode, through the SDK's handlers) acknowledges the finding and a DingTalk 整改
reaches the supervisor on Telegram; after 429s, 5xx, WeCom errcodes, an expired token and a SIGKILL
and restart, every alert has arrived exactly once on its channel."""
from __future__ import annotations

import os
import re
import time
from datetime import datetime

import pytest
import yaml

from checker import config as config_mod
from checker import findings as fnd
from checker.store import Store

from botworld import TZ, Rule, fire, seed
from fakebotapi import FakeServer
from fakechannels import FakeDingTalk, FakeWebhook, FakeWeCom
from test_bot_e2e import JOBS_OFF, Service, wait_for

OVERDUE = Rule("db33.case.overdue")
SUPERVISOR_CHAT = 2001
SECRETS = {"GOVWATCH_DINGTALK_APP_KEY": FakeDingTalk.APP_KEY, "GOVWATCH_DINGTALK_APP_SECRET": FakeDingTalk.APP_SECRET,
           "GOVWATCH_WECOM_SECRET": FakeWeCom.SECRET, "GOVWATCH_WEBHOOK_SECRET": "hook-secret"}


class ChannelService(Service):
    def start(self):
        for name, value in SECRETS.items():
            os.environ[name] = value
        try:
            super().start()
        finally:
            for name in SECRETS:
                os.environ.pop(name, None)


@pytest.fixture
def world(tmp_path):
    with FakeServer() as telegram, FakeDingTalk() as ding, FakeWeCom() as wecom, FakeWebhook() as hook:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(yaml.safe_dump({
            "database": str(tmp_path / "govwatch.db"),
            "telegram": {"base_url": telegram.base_url, "base_file_url": telegram.base_file_url,
                         "quiet_hours": {"start": "00:00", "end": "00:00"}, "rate_limit": {"max_retries": 0}},
            "channels": {
                "retry_base_seconds": 0.2, "retry_max_seconds": 1,
                "dingtalk": {"enabled": True, "base_url": ding.base_url, "robot_code": FakeDingTalk.ROBOT},
                "wecom": {"enabled": True, "base_url": wecom.base_url, "corp_id": FakeWeCom.CORP_ID,
                          "agent_id": FakeWeCom.AGENT_ID},
                "webhook": {"enabled": True, "url": f"{hook.base_url}/sms"}},
            "schedule": {**JOBS_OFF, "deliver_interval_seconds": 0.2, "rules_watch_seconds": 3600},
        }), encoding="utf-8")
        cfg = config_mod.load(config_path)
        store = Store(cfg.database)
        seed(store, cfg, tmp_path)
        # E1: DingTalk (before its Telegram id, by order); E2: WeCom; S1: Telegram; E9: no id → webhook
        store.conn.execute("UPDATE officers SET dingtalk_userid = 'ding-E1' WHERE id = 'E1'")
        store.conn.execute("UPDATE officers SET wecom_userid = 'wx-E2' WHERE id = 'E2'")
        store.conn.execute("UPDATE officers SET telegram_id = NULL WHERE id = 'E9'")
        service = ChannelService(config_path, tmp_path / "serve.log")
        try:
            yield telegram.api, ding, wecom, hook, store, cfg, service
        finally:
            service.stop()
            store.close()
            print((tmp_path / "serve.log").read_text(encoding="utf-8", errors="replace")[-4000:])


def alerts(ding, wecom, hook, telegram) -> dict[str, str]:
    return {"E1": "\n".join(ding.texts("ding-E1")), "E2": "\n".join(wecom.texts("wx-E2")),
            "E9": "\n".join(d["text"] for d in hook.docs_for("E9")),
            "S1": "\n".join(telegram.texts(SUPERVISOR_CHAT))}


def test_each_officer_gets_their_digest_once_on_their_channel_through_failures_and_a_restart(world):
    telegram, ding, wecom, hook, store, cfg, service = world
    ids = fire(store, cfg, [(OVERDUE, "C001", "办件 C001 已超期", "E1"), (OVERDUE, "C002", "办件 C002 已超期", "E2"),
                            (OVERDUE, "C900", "办件 C900 已超期", "E9", "330200")], now=datetime.now(TZ))
    service.start()
    seen = lambda: alerts(ding, wecom, hook, telegram)                              # noqa: E731
    wait_for(lambda: all(f"办件 {c} 已超期" in seen()[who] for who, c in
                         (("E1", "C001"), ("E2", "C002"), ("E9", "C900"))), "each first alert on its channel")

    # DingTalk inbound (Stream mode): 确认 acknowledges, 整改 asks the supervisor on Telegram
    wait_for(lambda: ding.connected, "the stream connection")
    fid = ids["C001"]
    ding.say("ding-E1", f"确认 {fid}")
    wait_for(lambda: fnd.get_finding(store, fid)["status"] == "acknowledged", "the acknowledgement from DingTalk")
    ding.say("ding-E1", f"整改 {fid} 已补办并归档")
    wait_for(lambda: "整改待复查" in seen()["S1"] and "已补办并归档" in seen()["S1"], "the verification request on Telegram")
    assert any(f"已确认收到问题 \\#{fid}" in t or f"已确认收到问题 #{fid}" in t for t in ding.reply_texts("ding-E1"))

    # every channel fails for a while, DingTalk's token expires, then the service is killed
    ding.fail(3, 503)
    ding.tokens.expire()
    wecom.errcode(2, 45009)
    wecom.tokens.expire()
    hook.fail(2, 429, retry_after=1)
    hook.fail(1, 500)
    later = fire(store, cfg, [(OVERDUE, "C001", "办件 C001 已超期", "E1"), (OVERDUE, "C002", "办件 C002 已超期", "E2"),
                              (OVERDUE, "C900", "办件 C900 已超期", "E9", "330200"),
                              *[(OVERDUE, f"K{i}", f"办件 K{i} 已超期", who, org) for i, (who, org) in
                                enumerate((("E1", "330102001"), ("E2", "330102001"), ("E9", "330200")))]],
                 now=datetime.now(TZ), scan_id=2)
    wait_for(lambda: len(ding.failures) < 3 and len(hook.failures) < 3, "refused sends")
    service.kill()
    service.start()
    wait_for(lambda: all(f"办件 K{i} 已超期" in seen()[who] for i, who in enumerate(("E1", "E2", "E9"))),
             "every alert after the failures and the restart", limit=30)
    wait_for(lambda: ding.connections >= 2 and ding.connected, "the stream connection after the restart")
    ding.say("ding-E1", f"确认 {later['K0']}")
    wait_for(lambda: fnd.get_finding(store, later["K0"])["status"] == "acknowledged", "确认 after the restart")
    time.sleep(0.8)                                           # more delivery ticks: nothing may repeat

    got = seen()
    for who, subjects in (("E1", ("C001", "K0")), ("E2", ("C002", "K1")), ("E9", ("C900", "K2"))):
        for subject in subjects:
            finding = later[subject]
            assert len(re.findall(rf"新发现问题 (\\)?#{finding}\b", got[who])) == 1, (who, subject, got[who])
    assert got["S1"].count("整改待复查") == 1
    assert {r["status"] for r in store.outbox()} == {"sent"}
    by_channel = {(r["recipient"], r["channel"]) for r in store.outbox()}
    assert by_channel == {("E1", "dingtalk"), ("E2", "wecom"), ("E9", "webhook"), ("S1", "telegram")}
    assert len(ding.tokens.issued) >= 2 and len(wecom.tokens.issued) >= 2            # fetched again after expiry
    assert not ding.failures and not wecom.errcodes                                   # every failure was met
