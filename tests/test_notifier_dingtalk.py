"""DingTalk outbound against the fake open API: token cached and fetched again after an auth error,
msgParam as a JSON string, markdown escaped, actions as links that send 确认 68, errors mapped."""
from __future__ import annotations

import asyncio
import dataclasses
import json
from urllib.parse import unquote

import pytest

from bot.notifiers.dingtalk import DingTalkFormatter, DingTalkNotifier
from checker import config as config_mod
from checker import notify
from checker.notify import PermanentError, RetryableError

from botworld import DAY, Rule, deliver, fire, seed
from fakechannels import FakeDingTalk

OVERDUE = Rule("db33.case.overdue")


@pytest.fixture
def ding(monkeypatch):
    monkeypatch.setenv("GOVWATCH_DINGTALK_APP_KEY", FakeDingTalk.APP_KEY)
    monkeypatch.setenv("GOVWATCH_DINGTALK_APP_SECRET", FakeDingTalk.APP_SECRET)
    with FakeDingTalk() as fake:
        yield fake


def conf(fake, **kw):
    return config_mod.DingTalkConfig(enabled=True, base_url=fake.base_url, robot_code=FakeDingTalk.ROBOT,
                                      per_second=1000, **kw)


def world(store, cfg, tmp_path):
    seed(store, cfg, tmp_path)
    store.conn.execute("UPDATE officers SET dingtalk_userid = 'ding-' || id, telegram_id = NULL")


def test_a_digest_goes_out_as_sample_markdown_with_action_links(ding, store, cfg, tmp_path):
    world(store, cfg, tmp_path)
    ids = fire(store, cfg, [(OVERDUE, "C001", "办件 C001 已超期 *2* 个工作日 [急]", "E1")])
    result = deliver(store, cfg, DingTalkNotifier(conf(ding)))
    assert result.sent == 1
    send = next(r for r in ding.requests if r["path"].endswith("batchSend"))
    assert send["body"]["userIds"] == ["ding-E1"] and send["body"]["msgKey"] == "sampleMarkdown"
    assert isinstance(send["body"]["msgParam"], str)                      # a JSON string, as the API wants
    text = ding.texts("ding-E1")[0]
    assert "依据 DB33/T 2036.7 §5.2.1.5" in text
    assert r"已超期 \*2\* 个工作日 \[急\]" in text                      # data escaped, never markup
    fid = ids["C001"]
    assert unquote(f"dtmd://dingtalkclient/sendMessage?content=确认 {fid}") in unquote(text)
    assert f"[确认收到 #{fid}]" in text and f"[提交整改 #{fid}]" in text
    row = store.outbox()[0]
    assert row["status"] == "sent" and row["channel"] == "dingtalk"


def test_the_token_is_cached_and_fetched_again_after_it_expires(ding, store, cfg, tmp_path):
    world(store, cfg, tmp_path)
    notifier = DingTalkNotifier(conf(ding))
    fire(store, cfg, [(OVERDUE, "C001", "超期", "E1")])
    asyncio.run(notify.deliver_pending(store, cfg, notifier, DAY))
    fire(store, cfg, [(OVERDUE, "C001", "超期", "E1"), (OVERDUE, "C002", "又超期", "E1")], scan_id=2)
    ding.tokens.expire()                                                   # the cached token is now refused
    result = deliver(store, cfg, notifier)
    assert result.sent == 1 and notifier.token.fetched == 2
    assert len(ding.tokens.issued) == 2 and len(ding.texts("ding-E1")) == 2


@pytest.mark.parametrize("status, error", [(429, RetryableError), (500, RetryableError), (503, RetryableError)])
def test_429_and_5xx_are_retried_by_the_outbox(ding, store, cfg, tmp_path, status, error):
    world(store, cfg, tmp_path)
    fire(store, cfg, [(OVERDUE, "C001", "超期", "E1")])
    ding.fail(1, status, retry_after=7 if status == 429 else None)
    result = deliver(store, cfg, DingTalkNotifier(conf(ding)))
    assert result.retried == 1 and result.sent == 0
    row = store.outbox()[0]
    assert row["status"] == "pending" and row["last_error"].startswith("dingtalk: HTTP")
    from datetime import timedelta
    assert deliver(store, cfg, DingTalkNotifier(conf(ding)), now=DAY + timedelta(hours=2)).sent == 1
    assert len(ding.texts("ding-E1")) == 1


def test_an_unknown_userid_fails_at_once_and_the_supervisor_is_told(ding, store, cfg, tmp_path):
    world(store, cfg, tmp_path)
    ding.invalid_users.add("ding-E1")
    fire(store, cfg, [(OVERDUE, "C001", "超期", "E1")])
    assert deliver(store, cfg, DingTalkNotifier(conf(ding))).failed == 1
    assert "钉钉用户 ID 无效" in store.outbox(recipient="E1")[0]["last_error"]
    deliver(store, cfg, DingTalkNotifier(conf(ding)))
    assert "经钉钉发给 张三（E1）" in ding.texts("ding-S1")[0]


def test_long_digests_split_under_the_configured_length(ding, store, cfg, tmp_path):
    world(store, cfg, tmp_path)
    fire(store, cfg, [(OVERDUE, f"C{i:03}", f"办件 C{i:03}：" + "超期说明" * 200, "E1") for i in range(1, 8)])
    deliver(store, cfg, DingTalkNotifier(conf(ding, max_length=2000)))
    texts = ding.texts("ding-E1")
    assert len(texts) > 1 and all(len(t) <= 2000 for t in texts)
    assert sum(t.count("依据 DB33/T 2036.7") for t in texts) == 7


def test_missing_credentials_are_a_permanent_error(monkeypatch, ding):
    monkeypatch.delenv("GOVWATCH_DINGTALK_APP_SECRET")
    notifier = DingTalkNotifier(conf(ding))
    with pytest.raises(PermanentError, match="AppSecret"):
        asyncio.run(notifier.send_markdown(["u"], "t", "x"))


def test_the_formatter_escapes_markdown_and_html():
    from checker.notify import Entry
    e = Entry("new", "red", 7, "新发现问题 #7", "标题", "<font color=red>x</font> # y", "DB50/T 957.7 §4.2", None,
              None, None, (("确认收到", "ack:7"),))
    text = DingTalkFormatter().digest("张_三", [e])
    assert "&lt;font" in text and "<font" not in text and r"张\_三" in text
    assert dataclasses.replace(e, actions=()).actions == ()
    assert json.dumps(text)                                               # plain str
