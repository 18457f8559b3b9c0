"""Channels: the `channels:` config (schema, secrets only through *_env), each officer's channel by
`order`, officers' DingTalk / WeCom ids (Chinese headers, kept across re-imports), and
`govwatch channels test`."""
from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from bot.channels import build_channels
from bot.notifiers.console import ConsoleNotifier
from checker import config as config_mod
from checker import notify
from checker.errors import ConfigError
from checker.ingest import import_file
from govwatch.cli import main

from botworld import DAY, Rule, fire, seed
from fakechannels import FakeDingTalk, FakeWebhook, FakeWeCom

OVERDUE = Rule("db33.case.overdue")


def write(tmp_path, data) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_defaults_and_the_shipped_config_agree():
    shipped = config_mod.load("config.yaml")
    assert shipped.channels == config_mod.Config().channels
    assert shipped.channels.order == ("dingtalk", "wecom", "telegram", "webhook")
    assert shipped.channels.dingtalk.url == "https://api.dingtalk.com"
    assert shipped.channels.wecom.url == "https://qyapi.weixin.qq.com"


@pytest.mark.parametrize("channels, problem", [
    ({"dingtalk": {"app_secret": "s3cret"}}, "unknown key 'channels.dingtalk.app_secret'"),
    ({"wecom": {"secret": "s3cret"}}, "unknown key 'channels.wecom.secret'"),
    ({"webhook": {"secret_env": "not a variable"}}, "channels.webhook.secret_env"),
    ({"order": ["dingtalk", "sms"]}, "channels.order.1"),
    ({"dingtalk": {"enabled": True}}, "channels.dingtalk.robot_code': required"),
    ({"wecom": {"enabled": True, "corp_id": "ww1"}}, "channels.wecom.agent_id': required"),
    ({"webhook": {"enabled": True, "url": "ftp://x"}}, "channels.webhook.url"),
])
def test_the_schema_refuses_secrets_and_incomplete_channels(tmp_path, channels, problem):
    with pytest.raises(ConfigError) as caught:
        config_mod.load(write(tmp_path, {"channels": channels}))
    assert problem in str(caught.value)


def test_each_officer_gets_messages_on_the_first_channel_they_have_an_id_for(tmp_path, monkeypatch, store, cfg):
    seed(store, cfg, tmp_path)
    store.conn.execute("UPDATE officers SET dingtalk_userid = 'ding-E1' WHERE id = 'E1'")
    store.conn.execute("UPDATE officers SET wecom_userid = 'wx-' || id WHERE id IN ('E1', 'S1')")
    for name, value in (("GOVWATCH_DINGTALK_APP_KEY", FakeDingTalk.APP_KEY),
                        ("GOVWATCH_DINGTALK_APP_SECRET", FakeDingTalk.APP_SECRET),
                        ("GOVWATCH_WECOM_SECRET", FakeWeCom.SECRET), ("GOVWATCH_WEBHOOK_SECRET", "k")):
        monkeypatch.setenv(name, value)
    with FakeDingTalk() as ding, FakeWeCom() as wecom, FakeWebhook() as hook:
        c = config_mod.load(write(tmp_path, {"database": cfg.database, "channels": {
            "dingtalk": {"enabled": True, "base_url": ding.base_url, "robot_code": FakeDingTalk.ROBOT},
            "wecom": {"enabled": True, "base_url": wecom.base_url, "corp_id": FakeWeCom.CORP_ID,
                      "agent_id": FakeWeCom.AGENT_ID},
            "webhook": {"enabled": True, "url": hook.base_url}}}))
        ids = fire(store, c, [(OVERDUE, "C001", "办件 C001 已超期", "E1"), (OVERDUE, "C002", "办件 C002 已超期", "E2")])
        from checker import findings as fnd
        fnd.submit(store, ids["C001"], "E1", "已补办", now=DAY)      # S1 is asked to verify
        channels = build_channels(c)
        assert [n.channel for n in channels] == ["dingtalk", "wecom", "webhook"]

        async def go():
            try:
                return await notify.deliver_pending(store, c, channels, DAY)
            finally:
                for n in channels:
                    await n.http.close()
        asyncio.run(go())
        assert len(ding.texts("ding-E1")) == 1 and wecom.texts("wx-E1") == []        # DingTalk first
        assert len(wecom.texts("wx-S1")) == 1                                            # S1: WeCom only
        assert [d["doc"]["recipient"]["id"] for d in hook.received] == ["E2"]                   # the rest: webhook
        sent = {r["recipient"]: r["channel"] for r in store.outbox()}
        assert sent == {"E1": "dingtalk", "S1": "wecom", "E2": "webhook"}


def test_no_channel_and_no_token_keeps_the_console():
    channels = build_channels(config_mod.Config())
    assert [type(n) for n in channels] == [ConsoleNotifier]


def test_officers_ids_import_under_chinese_headers_and_survive_a_reimport(store, cfg, tmp_path):
    seed(store, cfg, tmp_path)
    first = tmp_path / "officers-ids.csv"
    first.write_text("工号,姓名,机构编码,角色,钉钉ID,企业微信ID\nE2,李四,330102001,officer,ding-li,wx-li\n", encoding="utf-8")
    assert import_file(store, cfg, "officers", first, rejects_dir=tmp_path).rejected == 0
    again = tmp_path / "officers-again.csv"                  # a later export: columns there, cells empty
    again.write_text("工号,姓名,机构编码,角色,钉钉ID,企业微信ID,Telegram\nE2,李四,330102001,officer,,,\n"
                     "E1,张三,330102001,officer,,,\n", encoding="utf-8")
    assert import_file(store, cfg, "officers", again, rejects_dir=tmp_path).rejected == 0
    li, zhang = store.officer("E2"), store.officer("E1")
    assert (li["dingtalk_userid"], li["wecom_userid"]) == ("ding-li", "wx-li")
    assert zhang["telegram_id"] == 1001                      # the Telegram binding is kept too


def test_channels_test_sends_through_each_enabled_channel_and_prints_the_answers(tmp_path, monkeypatch, capsys, store, cfg):
    seed(store, cfg, tmp_path)
    store.conn.execute("UPDATE officers SET dingtalk_userid = 'ding-A1', wecom_userid = 'wx-A1' WHERE id = 'A1'")
    store.conn.execute("UPDATE officers SET wecom_userid = 'wx-E1' WHERE id = 'E1'")
    for name, value in (("GOVWATCH_DINGTALK_APP_KEY", FakeDingTalk.APP_KEY),
                        ("GOVWATCH_DINGTALK_APP_SECRET", FakeDingTalk.APP_SECRET),
                        ("GOVWATCH_WECOM_SECRET", FakeWeCom.SECRET)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOVWATCH_TELEGRAM_TOKEN", raising=False)
    with FakeDingTalk() as ding, FakeWeCom() as wecom:
        path = write(tmp_path, {"database": cfg.database, "channels": {
            "dingtalk": {"enabled": True, "base_url": ding.base_url, "robot_code": FakeDingTalk.ROBOT},
            "wecom": {"enabled": True, "base_url": wecom.base_url, "corp_id": FakeWeCom.CORP_ID,
                      "agent_id": FakeWeCom.AGENT_ID}}})
        assert main(["--config", path, "channels", "test"]) == 0            # to the admins
        out = capsys.readouterr().out
        assert "✓ 钉钉 → A1（ding-A1）：dingtalk:" in out and "✓ 企业微信 → A1（wx-A1）：wecom:" in out
        assert "渠道测试" in ding.texts("ding-A1")[0] and "渠道测试" in wecom.texts("wx-A1")[0]

        wecom.errcode(2, 60020)                                              # not allowed to access from this IP
        assert main(["--config", path, "channels", "test", "--to", "E1", "--json"]) == 1
        answers = {r["channel"]: r for r in json.loads(capsys.readouterr().out)}
        assert answers["dingtalk"]["ok"] is False and "没有钉钉的 ID" in answers["dingtalk"]["answer"]
        assert answers["wecom"]["ok"] is False and "errcode 60020" in answers["wecom"]["answer"]

    monkeypatch.delenv("GOVWATCH_WECOM_SECRET")
    assert main(["--config", path, "channels", "test"]) == 2
    assert "GOVWATCH_WECOM_SECRET" in capsys.readouterr().err
