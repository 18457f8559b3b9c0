"""WeCom / 政务微信 outbound against the fake API: gettoken, markdown send, 40014/42001 refresh the
token and send once more, other errcodes and 5xx retried by the outbox, 4,096 bytes a message."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.notifiers.wecom import WeComNotifier
from checker import config as config_mod

from botworld import DAY, Rule, deliver, fire, seed
from fakechannels import FakeWeCom

OVERDUE = Rule("db33.case.overdue")


@pytest.fixture
def wecom(monkeypatch):
    monkeypatch.setenv("GOVWATCH_WECOM_SECRET", FakeWeCom.SECRET)
    with FakeWeCom() as fake:
        yield fake


def conf(fake, **kw):
    return config_mod.WeComConfig(enabled=True, base_url=fake.base_url, corp_id=FakeWeCom.CORP_ID,
                                   agent_id=FakeWeCom.AGENT_ID, per_second=1000, **kw)


@pytest.fixture
def people(store, cfg, tmp_path):
    seed(store, cfg, tmp_path)
    store.conn.execute("UPDATE officers SET wecom_userid = 'wx-' || id, telegram_id = NULL")
    return store


def test_a_digest_goes_out_as_markdown_to_the_users_id(wecom, people, cfg):
    fire(people, cfg, [(OVERDUE, "C001", "办件 C001 已超期 <b>2</b> 天", "E1")])
    assert deliver(people, cfg, WeComNotifier(conf(wecom))).sent == 1
    send = next(r for r in wecom.requests if r["path"] == "/cgi-bin/message/send")
    assert send["body"]["touser"] == "wx-E1" and send["body"]["msgtype"] == "markdown"
    assert send["body"]["agentid"] == FakeWeCom.AGENT_ID
    text = wecom.texts("wx-E1")[0]
    assert "依据 DB33/T 2036.7 §5.2.1.5" in text and "&lt;b&gt;2&lt;/b&gt;" in text
    assert "钉钉或 Telegram" in text                       # no buttons here: where to act instead
    assert people.outbox()[0]["channel"] == "wecom"


@pytest.mark.parametrize("code", [40014, 42001])
def test_an_expired_or_invalid_token_is_fetched_again_and_the_send_repeated(wecom, people, cfg, code):
    notifier = WeComNotifier(conf(wecom))
    fire(people, cfg, [(OVERDUE, "C001", "超期", "E1")])
    deliver(people, cfg, notifier)
    fire(people, cfg, [(OVERDUE, "C001", "超期", "E1"), (OVERDUE, "C002", "又超期", "E1")], scan_id=2)
    if code == 42001:
        wecom.tokens.expire()
    else:
        wecom.errcode(1, 40014)
    assert deliver(people, cfg, notifier).sent == 1
    assert notifier.token.fetched == 2 and len(wecom.texts("wx-E1")) == 2


def test_other_errcodes_and_5xx_are_retried_with_backoff(wecom, people, cfg):
    fire(people, cfg, [(OVERDUE, "C001", "超期", "E1")])
    wecom.errcode(1, 45009)                                 # 接口调用超过限制
    first = deliver(people, cfg, WeComNotifier(conf(wecom)))
    assert first.retried == 1 and "errcode 45009" in people.outbox()[0]["last_error"]
    wecom.fail(1, 502)
    assert deliver(people, cfg, WeComNotifier(conf(wecom)), now=DAY + timedelta(hours=1)).retried == 1
    assert deliver(people, cfg, WeComNotifier(conf(wecom)), now=DAY + timedelta(hours=3)).sent == 1
    assert len(wecom.texts("wx-E1")) == 1


def test_messages_stay_under_4096_bytes(wecom, people, cfg):
    fire(people, cfg, [(OVERDUE, f"C{i:03}", f"办件 C{i:03}：" + "超期说明" * 150, "E1") for i in range(1, 9)])
    deliver(people, cfg, WeComNotifier(conf(wecom)))
    texts = wecom.texts("wx-E1")
    assert len(texts) > 1 and all(len(t.encode("utf-8")) <= 4096 for t in texts)
    assert sum(t.count("办件 C") for t in texts) == 8


def test_an_invalid_user_is_never_retried(wecom, people, cfg):
    wecom.invalid_users.add("wx-E1")
    fire(people, cfg, [(OVERDUE, "C001", "超期", "E1")])
    assert deliver(people, cfg, WeComNotifier(conf(wecom))).failed == 1


def test_the_access_token_is_masked_wherever_it_would_be_printed(wecom, people, cfg):
    from checker import redact
    fire(people, cfg, [(OVERDUE, "C001", "超期", "E1")])
    deliver(people, cfg, WeComNotifier(conf(wecom)))
    token = wecom.tokens.issued[-1]
    assert redact.text(f"POST /cgi-bin/message/send?access_token={token}") == "POST /cgi-bin/message/send?access_token=***"
