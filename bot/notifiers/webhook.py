"""A signed webhook (SMS gateways and any other system): one JSON document per digest.

    POST {url}  body: {"recipient", "channel_ids", "kind", "text", "findings": [...], "outbox_ids"}
    headers     X-Govwatch-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>
                X-Govwatch-Delivery: the outbox ids (a receiver can drop a repeat: delivery is at least once)
    2xx is delivered; anything else (and a network failure) is retried by the outbox.
"""
from __future__ import annotations

import hashlib
import hmac
import json

from checker.notify import Entry, Message, PermanentError, RetryableError, Row
from checker.notify.model import units

from .console import PlainFormatter, entry_text
from .http import HttpChannel

SIGNATURE_HEADER = "X-Govwatch-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookFormatter(PlainFormatter):
    """Plain text (an SMS gateway shows it as it is); at most a page of entries a document."""
    max_length = 20_000


class WebhookNotifier:
    """Reaches every officer (the receiver has their phone and channel ids in the document)."""
    channel = "webhook"
    formatter = WebhookFormatter()

    def __init__(self, conf):
        self.conf = conf
        self.http = HttpChannel(conf.timeout_seconds, conf.per_second)

    def address(self, officer: dict):
        return officer.get("id")

    def document(self, message: Message) -> dict:
        o = message.officer or {}
        return {"recipient": {"id": message.recipient, "name": o.get("name"), "org": o.get("org"),
                              "role": o.get("role"), "phone": o.get("phone")},
                "channel_ids": {"telegram_id": o.get("telegram_id"), "dingtalk_userid": o.get("dingtalk_userid"),
                                "wecom_userid": o.get("wecom_userid"), "phone": o.get("phone")},
                "kind": "digest", "text": message.text, "outbox_ids": message.ids,
                "findings": [self.finding(r, e) for rows, e in units(message.rows) for r in rows]}

    def finding(self, r: Row, e: Entry) -> dict:
        """One finding of the digest: its own fields, and the text and actions of the entry it is shown in."""
        p, fid = r.payload, r.finding_id
        links = [f"{self.conf.link_base.rstrip('/')}/findings/{fid}"] if self.conf.link_base and fid else []
        return {"id": fid, "event": r.kind, "heading": e.heading, "rule": p.get("rule"), "title": p.get("title"),
                "standard": p.get("standard"), "clause": p.get("clause"), "severity": r.severity,
                "subject": p.get("subject"), "org": p.get("org"), "message": p.get("message") or p.get("text"),
                "due_at": p.get("due_at"), "note": p.get("note"), "text": entry_text(e),
                "actions": [data for _, data in e.actions], "links": links}

    async def send(self, message: Message) -> str:
        return await self.post(self.document(message), ",".join(map(str, message.ids)))

    async def post(self, document: dict, delivery: str) -> str:
        secret = self.conf.secret()
        if not secret:
            raise PermanentError(f"未设置 webhook 签名密钥（环境变量 {self.conf.secret_env}）")
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        response = await self.http.request("POST", self.conf.url, content=body, headers={
            "Content-Type": "application/json; charset=utf-8", SIGNATURE_HEADER: sign(secret, body),
            "X-Govwatch-Delivery": delivery})
        if not 200 <= response.status_code < 300:
            raise RetryableError(f"webhook 返回 HTTP {response.status_code}")
        return f"webhook:{response.status_code}:{delivery}"
