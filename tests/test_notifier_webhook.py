"""The signed webhook: a JSON document per digest, X-Govwatch-Signature = sha256 HMAC of the body,
2xx delivered, anything else retried."""
from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest

from bot.notifiers.webhook import WebhookNotifier
from checker import config as config_mod

from botworld import DAY, Rule, deliver, fire, seed
from fakechannels import FakeWebhook

OVERDUE = Rule("db33.case.overdue")
SECRET = "webhook-secret-测试"


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv("GOVWATCH_WEBHOOK_SECRET", SECRET)
    with FakeWebhook() as fake:
        yield fake


def conf(fake, **kw):
    return config_mod.WebhookConfig(enabled=True, url=f"{fake.base_url}/sms", per_second=1000, **kw)


def test_a_signed_document_per_digest(hook, store, cfg, tmp_path):
    seed(store, cfg, tmp_path)
    store.conn.execute("UPDATE officers SET phone = '13800000001' WHERE id = 'E1'")
    ids = fire(store, cfg, [(OVERDUE, "C001", "办件 C001 已超期", "E1"), (OVERDUE, "C002", "办件 C002 已超期", "E1")])
    assert deliver(store, cfg, WebhookNotifier(conf(hook, link_base="https://gw.example/"))).messages == 1
    got = hook.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), got["body"], hashlib.sha256).hexdigest()
    assert got["headers"]["x-govwatch-signature"] == expected
    doc = got["doc"]
    assert doc["recipient"]["id"] == "E1" and doc["channel_ids"]["phone"] == "13800000001"
    assert doc["channel_ids"]["telegram_id"] == 1001
    first = doc["findings"][0]
    assert first["clause"] == "5.2.1.5" and first["standard"] == "DB33/T 2036.7" and first["severity"]
    assert first["links"] == [f"https://gw.example/findings/{first['id']}"]
    assert {f["id"] for f in doc["findings"]} == set(ids.values())
    assert "依据 DB33/T 2036.7 §5.2.1.5" in first["text"] and first["actions"] == [f"ack:{first['id']}", f"rect:{first['id']}"]
    assert got["headers"]["x-govwatch-delivery"] == ",".join(str(r["id"]) for r in store.outbox())


def test_anything_but_2xx_is_retried(hook, store, cfg, tmp_path):
    seed(store, cfg, tmp_path)
    fire(store, cfg, [(OVERDUE, "C001", "超期", "E1")])
    hook.fail(1, 404)
    assert deliver(store, cfg, WebhookNotifier(conf(hook))).retried == 1
    hook.fail(1, 500)
    assert deliver(store, cfg, WebhookNotifier(conf(hook)), now=DAY + timedelta(hours=1)).retried == 1
    assert deliver(store, cfg, WebhookNotifier(conf(hook)), now=DAY + timedelta(hours=3)).sent == 1
    assert len(hook.docs_for("E1")) == 1
