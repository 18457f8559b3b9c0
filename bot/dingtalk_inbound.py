"""DingTalk inbound through the official Stream SDK (dingtalk-stream): no public callback address,
which suits government intranets.

The SDK's handlers do the work: `CommandHandler` (a `dingtalk_stream.ChatbotHandler` on the robot
message topic) reads a `ChatbotMessage` (senderStaffId, text) and answers through the message's
sessionWebhook; `CardActionHandler` (a `CallbackHandler` on the card callback topic) reads a
`CardCallbackMessage` whose private params name the action and the finding. Both hand the text to
bot/textbot.py, the same commands as the Telegram bot. `StreamClient` is the SDK's client with the
connection opened at the configured base_url (private deployments have their own gateway) and a
loop that stops when its task is cancelled (the SDK's own `start()` never returns).
"""
from __future__ import annotations

import asyncio
import json
import logging
import platform
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import quote_plus

import dingtalk_stream
import httpx
import websockets
from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, ChatbotHandler, ChatbotMessage
from dingtalk_stream.card_callback import Card_Callback_Router_Topic, CardCallbackMessage

from checker.findings.access import Scope
from checker.store import Store

from . import textbot
from .notifiers.dingtalk import DingTalkNotifier
from .notifiers.markdown import html_to_markdown

log = logging.getLogger(__name__)

REPLY_TITLE = "效能监管助手"


class Inbound:
    """What both handlers share: the store (used on one worker thread, so the event loop never waits
    for SQLite), config, rules, clock, and the outbound notifier for answers without a sessionWebhook."""

    def __init__(self, cfg, store_path: str, rules=None, clock=None, notifier: DingTalkNotifier | None = None):
        self.cfg, self.store_path, self.rules = cfg, store_path, rules
        self.clock = clock or (lambda: datetime.now(cfg.tz))
        self.notifier = notifier or DingTalkNotifier(cfg.channels.dingtalk)
        self._store: Store | None = None
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govwatch-dingtalk-store")
        self.http = httpx.AsyncClient(timeout=cfg.channels.dingtalk.timeout_seconds, trust_env=False)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.store_path)
        return self._store

    def asker(self, user_id: str) -> textbot.Asker:
        officer = self.store.officer_by_channel_id("dingtalk_userid", user_id) if user_id else None
        scope = Scope.for_officer(self.store, officer["id"]) if officer else None
        return textbot.Asker(self.store, self.cfg, scope, user_id, "dingtalk", self.clock(), self.rules)

    def answer_now(self, user_id: str, text: str) -> str:
        """The markdown answer to one text from a DingTalk user (on the store's thread)."""
        return html_to_markdown(textbot.handle(self.asker(user_id), text))

    async def answer(self, user_id: str, text: str) -> str:
        """The answer, computed on the store's worker thread: other messages and the scheduler go on."""
        return await asyncio.get_running_loop().run_in_executor(self.worker, self.answer_now, user_id, text)

    async def reply(self, incoming: ChatbotMessage, markdown: str) -> None:
        """Answer in the conversation (the SDK's reply_markdown body, sent without blocking the loop)."""
        body = {"msgtype": "markdown", "markdown": {"title": REPLY_TITLE, "text": markdown},
                "at": {"atUserIds": [incoming.sender_staff_id]}}
        if incoming.session_webhook:
            try:
                response = await self.http.post(incoming.session_webhook, json=body)
                if response.status_code == 200:
                    return
                log.warning("dingtalk sessionWebhook answered HTTP %s", response.status_code)
            except httpx.HTTPError as exc:
                log.warning("dingtalk sessionWebhook failed: %s", type(exc).__name__)
        await self.tell(incoming.sender_staff_id, markdown)

    async def tell(self, user_id: str, markdown: str) -> None:
        try:
            await self.notifier.send_markdown([user_id], REPLY_TITLE, markdown)
        except Exception as exc:        # an answer that cannot be sent is logged, never raised into the SDK
            log.warning("dingtalk answer to %s not sent: %s", user_id, exc)

    async def close(self) -> None:
        await self.http.aclose()
        await self.notifier.http.close()
        await asyncio.get_running_loop().run_in_executor(self.worker, self._close_store)
        self.worker.shutdown(wait=False)

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class CommandHandler(ChatbotHandler):
    """Robot messages (topic /v1.0/im/bot/messages/get): text commands and 确认 68-style actions."""

    def __init__(self, inbound: Inbound):
        super().__init__()
        self.inbound = inbound

    async def process(self, callback: CallbackMessage):
        incoming = ChatbotMessage.from_dict(callback.data)
        if str(incoming.conversation_type) != "1":
            await self.inbound.reply(incoming, textbot.GROUP_REFUSED)
            return AckMessage.STATUS_OK, "OK"
        if incoming.message_type == "text":
            text = " ".join(t for t in (incoming.get_text_list() or []) if t)
            answer = await self.inbound.answer(incoming.sender_staff_id, text)
        elif incoming.message_type == "richText":
            answer = await self.inbound.answer(incoming.sender_staff_id, " ".join(incoming.get_text_list() or []))
        else:
            answer = "请发送文字。提交整改请回复：整改 编号 整改说明。"
        await self.inbound.reply(incoming, answer)
        return AckMessage.STATUS_OK, "OK"


class CardActionHandler(CallbackHandler):
    """Interactive card buttons (topic /v1.0/card/instances/callback): params {"action": "ack",
    "finding": 68, "note": …} on the card's private data."""

    def __init__(self, inbound: Inbound):
        super().__init__()
        self.inbound = inbound

    async def process(self, callback: CallbackMessage):
        card = CardCallbackMessage.from_dict(callback.data)
        params = (card.content.get("cardPrivateData") or {}).get("params") or {}
        action, finding = str(params.get("action") or ""), str(params.get("finding") or "")
        text = " ".join(x for x in (action, finding, str(params.get("note") or "")) if x)
        answer = await self.inbound.answer(card.user_id, text)
        await self.inbound.tell(card.user_id, answer)
        return AckMessage.STATUS_OK, {}


class StreamClient(dingtalk_stream.DingTalkStreamClient):
    """The SDK's client (its handler registry, routing and acks) with the gateway at `base_url`."""

    def __init__(self, conf, logger=None):
        super().__init__(dingtalk_stream.Credential(conf.app_key(), conf.app_secret()), logger=logger or log)
        self.base_url = conf.url
        self.connected = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    async def open(self, http: httpx.AsyncClient) -> dict | None:
        """POST /v1.0/gateway/connections/open (the SDK's open_connection body) → endpoint and ticket."""
        topics = [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map]
        body = {"clientId": self.credential.client_id, "clientSecret": self.credential.client_secret,
                "subscriptions": topics, "ua": f"dingtalk-sdk-python/v{dingtalk_stream.version.VERSION_STRING}-govwatch",
                "localIp": ""}
        try:
            response = await http.post(f"{self.base_url}/v1.0/gateway/connections/open", json=body,
                                       headers={"Accept": "application/json",
                                                "User-Agent": f"govwatch Python/{platform.python_version()}"})
        except httpx.HTTPError as exc:
            log.warning("dingtalk stream: opening a connection failed: %s", type(exc).__name__)
            return None
        if response.status_code != 200:
            log.warning("dingtalk stream: opening a connection answered HTTP %s", response.status_code)
            return None
        return response.json()

    async def run(self) -> None:
        """Connect, route every frame through the SDK's handlers, reconnect with back-off; until cancelled."""
        self.pre_start()
        backoff = 1.0
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            while True:
                connection = await self.open(http)
                if not connection:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 60)
                    continue
                uri = f'{connection["endpoint"]}?ticket={quote_plus(connection["ticket"])}'
                try:
                    async with websockets.connect(uri) as ws:
                        self.websocket, backoff = ws, 1.0
                        self.connected.set()
                        log.info("dingtalk stream connected")
                        async for raw in ws:
                            task = asyncio.create_task(self.background_task(json.loads(raw)))
                            self._tasks.add(task)
                            task.add_done_callback(self._tasks.discard)
                except (OSError, websockets.exceptions.WebSocketException) as exc:
                    log.warning("dingtalk stream: connection lost (%s), reconnecting", type(exc).__name__)
                finally:
                    self.connected.clear()
                await asyncio.sleep(backoff)


def stream_client(cfg, store_path: str, rules=None, clock=None) -> tuple[StreamClient, Inbound]:
    """The Stream client with govwatch's handlers on the robot and card topics."""
    inbound = Inbound(cfg, store_path, rules, clock)
    client = StreamClient(cfg.channels.dingtalk)
    client.register_callback_handler(ChatbotMessage.TOPIC, CommandHandler(inbound))
    client.register_callback_handler(Card_Callback_Router_Topic, CardActionHandler(inbound))
    return client, inbound


async def run_stream(cfg, store_path: str, rules=None, clock=None) -> None:
    """`govwatch serve`'s DingTalk inbound task: runs until cancelled, then closes what it opened."""
    client, inbound = stream_client(cfg, store_path, rules, clock)
    try:
        await client.run()
    finally:
        await inbound.close()
