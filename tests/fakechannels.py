"""Fake channel servers on 127.0.0.1, standard library (plus `websockets` for DingTalk's Stream
gateway), written from the public API shapes only. Each records every request and can answer
errors, expired tokens, 429 and 5xx on demand.

- `FakeDingTalk`: POST /v1.0/oauth2/accessToken, POST /v1.0/robot/oToMessages/batchSend (header
  x-acs-dingtalk-access-token), the sessionWebhook a robot message carries (POST /robot/sendBySession),
  and the Stream gateway: POST /v1.0/gateway/connections/open → {endpoint, ticket}, then a websocket
  that pushes CALLBACK frames (robot messages, card actions) and records the client's acks.
- `FakeWeCom`: GET /cgi-bin/gettoken, POST /cgi-bin/message/send?access_token=…
- `FakeWebhook`: any POST, recording the body and headers.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

import websockets
from websockets.asyncio.server import serve as ws_serve


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class FakeHTTP:
    """An HTTP server on 127.0.0.1 whose answers come from `route(method, path, query, headers, body)`."""

    def __init__(self):
        self.lock = threading.Condition()
        self.requests: list[dict] = []
        self.failures: list[tuple[int, dict, dict]] = []     # (status, body, headers) for the next sends
        self.server = _Quiet(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def fail(self, n: int, status: int = 500, body: dict | None = None, retry_after: int | None = None) -> None:
        """The next n sends fail with this HTTP status (429 with Retry-After when given)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self.lock:
            self.failures.extend([(status, body or {"code": "ServiceUnavailable", "message": "fake failure"},
                                   headers)] * n)

    def take_failure(self):
        with self.lock:
            return self.failures.pop(0) if self.failures else None

    def record(self, **request) -> None:
        with self.lock:
            self.requests.append(request)
            self.lock.notify_all()

    def route(self, method, path, query, headers, body) -> tuple[int, dict, dict]:
        raise NotImplementedError


def _handler(fake: FakeHTTP):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _serve(self, method):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, extra = fake.route(method, url.path, dict(parse_qsl(url.query)), headers, raw)
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")
    return Handler


def _json(raw: bytes) -> dict:
    try:
        return json.loads(raw.decode("utf-8")) if raw else {}
    except ValueError:
        return {}


class _Tokens:
    """Tokens issued; expire() makes every issued token invalid (the next send answers an auth error)."""

    def __init__(self):
        self.issued: list[str] = []
        self.valid: set[str] = set()

    def issue(self) -> str:
        token = f"tok-{len(self.issued) + 1}-{uuid.uuid4().hex[:6]}"
        self.issued.append(token)
        self.valid.add(token)
        return token

    def expire(self) -> None:
        self.valid.clear()


# -- DingTalk -----------------------------------------------------------------------------------

class FakeDingTalk(FakeHTTP):
    APP_KEY, APP_SECRET, ROBOT = "ding-app-key", "ding-app-secret", "ding-robot"

    def __init__(self):
        super().__init__()
        self.tokens = _Tokens()
        self.messages: dict[str, list[dict]] = {}           # userId → [{"title", "text"}]
        self.replies: dict[str, list[dict]] = {}            # sessionWebhook answers by the user asked
        self.invalid_users: set[str] = set()
        self.sessions: dict[str, str] = {}                  # session → user
        self.acks: list[dict] = []
        self._ws_clients: set = set()
        self.connections = 0                                # websocket connections ever opened
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws_port: int | None = None
        self._ws_ready = threading.Event()
        self._ws_thread = threading.Thread(target=self._run_ws, daemon=True)

    def __enter__(self):
        super().__enter__()
        self._ws_thread.start()
        self._ws_ready.wait(10)
        return self

    def __exit__(self, *exc):
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._ws_thread.join(5)
        super().__exit__(*exc)

    # what tests read
    def texts(self, user: str) -> list[str]:
        with self.lock:
            return [m["text"] for m in self.messages.get(user, [])]

    def reply_texts(self, user: str) -> list[str]:
        with self.lock:
            return [r["markdown"]["text"] for r in self.replies.get(user, [])]

    @property
    def connected(self) -> bool:
        return bool(self._ws_clients)

    # the open API
    def route(self, method, path, query, headers, raw):
        body = _json(raw)
        self.record(method=method, path=path, query=query, headers=headers, body=body)
        if path == "/v1.0/oauth2/accessToken":
            if (body.get("appKey"), body.get("appSecret")) != (self.APP_KEY, self.APP_SECRET):
                return 400, {"code": "invalidClientIdOrSecret", "message": "无效的appKey或appSecret"}, {}
            return 200, {"accessToken": self.tokens.issue(), "expireIn": 7200}, {}
        if path == "/v1.0/robot/oToMessages/batchSend":
            failure = self.take_failure()
            if failure:
                return failure
            if headers.get("x-acs-dingtalk-access-token") not in self.tokens.valid:
                return 401, {"code": "InvalidAuthentication", "message": "不合法的access_token"}, {}
            if body.get("robotCode") != self.ROBOT or body.get("msgKey") != "sampleMarkdown":
                return 400, {"code": "param.invalid", "message": "robotCode or msgKey"}, {}
            param = json.loads(body["msgParam"])                  # msgParam is a JSON string
            invalid = [u for u in body.get("userIds", []) if u in self.invalid_users]
            with self.lock:
                for user in body.get("userIds", []):
                    if user not in invalid:
                        self.messages.setdefault(user, []).append(param)
                self.lock.notify_all()
            return 200, {"processQueryKey": uuid.uuid4().hex, "invalidStaffIdList": invalid,
                         "flowControlledStaffIdList": []}, {}
        if path == "/robot/sendBySession":
            user = self.sessions.get(query.get("session", ""))
            if user is None:
                return 400, {"errcode": 300001, "errmsg": "session 不存在"}, {}
            with self.lock:
                self.replies.setdefault(user, []).append(body)
                self.lock.notify_all()
            return 200, {"errcode": 0, "errmsg": "ok"}, {}
        if path == "/v1.0/gateway/connections/open":
            if (body.get("clientId"), body.get("clientSecret")) != (self.APP_KEY, self.APP_SECRET):
                return 401, {"code": "Unauthorized", "message": "clientId or clientSecret"}, {}
            return 200, {"endpoint": f"ws://127.0.0.1:{self._ws_port}/connect", "ticket": uuid.uuid4().hex}, {}
        return 404, {"code": "NotFound", "message": path}, {}

    # the Stream gateway
    def _run_ws(self):
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._ws_main())

    async def _ws_main(self):
        self._stop = asyncio.Event()
        async with ws_serve(self._ws_connection, "127.0.0.1", 0) as server:
            self._ws_port = next(iter(server.sockets)).getsockname()[1]
            self._ws_ready.set()
            await self._stop.wait()

    async def _ws_connection(self, ws):
        self._ws_clients.add(ws)
        self.connections += 1
        try:
            async for raw in ws:
                with self.lock:
                    self.acks.append(json.loads(raw))
                    self.lock.notify_all()
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            self._ws_clients.discard(ws)

    def push(self, topic: str, data: dict) -> str:
        """Send a CALLBACK frame to the connected client(s); the message id (its ack carries it)."""
        message_id = uuid.uuid4().hex
        frame = {"specVersion": "1.0", "type": "CALLBACK",
                 "headers": {"appId": "fake-app", "connectionId": "c1", "contentType": "application/json",
                             "messageId": message_id, "time": str(int(time.time() * 1000)), "topic": topic},
                 "data": json.dumps(data, ensure_ascii=False)}
        text = json.dumps(frame, ensure_ascii=False)

        async def send_all():
            for ws in list(self._ws_clients):
                try:
                    await ws.send(text)
                except websockets.exceptions.ConnectionClosed:
                    self._ws_clients.discard(ws)
        asyncio.run_coroutine_threadsafe(send_all(), self._loop).result(5)
        return message_id

    def say(self, user: str, text: str, conversation_type: str = "1") -> str:
        """The user sends a text to the robot (a ChatbotMessage on /v1.0/im/bot/messages/get)."""
        session = uuid.uuid4().hex
        self.sessions[session] = user
        return self.push("/v1.0/im/bot/messages/get", {
            "conversationId": f"cid-{user}", "chatbotCorpId": "corp", "chatbotUserId": "bot", "msgId": uuid.uuid4().hex,
            "senderNick": user, "isAdmin": False, "senderStaffId": user, "sessionWebhookExpiredTime": 9999999999999,
            "createAt": int(time.time() * 1000), "senderCorpId": "corp", "conversationType": conversation_type,
            "senderId": f"$:LWCP_v1:${user}", "sessionWebhook": f"{self.base_url}/robot/sendBySession?session={session}",
            "robotCode": self.ROBOT, "msgtype": "text", "text": {"content": text}})

    def press_card(self, user: str, action: str, finding: int, note: str | None = None) -> str:
        """The user presses an interactive card's button (a CardCallbackMessage)."""
        params = {"action": action, "finding": finding, **({"note": note} if note else {})}
        return self.push("/v1.0/card/instances/callback", {
            "extension": "{}", "corpId": "corp", "userId": user, "outTrackId": uuid.uuid4().hex, "type": "actionCallback",
            "content": json.dumps({"cardPrivateData": {"actionIds": [action], "params": params}})})

    def acked(self, message_id: str) -> dict | None:
        with self.lock:
            return next((a for a in self.acks if a.get("headers", {}).get("messageId") == message_id), None)


# -- WeCom --------------------------------------------------------------------------------------

class FakeWeCom(FakeHTTP):
    CORP_ID, SECRET, AGENT_ID = "ww-corp", "wecom-secret", 1000002

    def __init__(self):
        super().__init__()
        self.tokens = _Tokens()
        self.messages: dict[str, list[str]] = {}
        self.errcodes: list[int] = []
        self.invalid_users: set[str] = set()

    def errcode(self, n: int, code: int) -> None:
        """The next n sends answer this non-zero errcode (HTTP 200, as WeCom does)."""
        with self.lock:
            self.errcodes.extend([code] * n)

    def texts(self, user: str) -> list[str]:
        with self.lock:
            return list(self.messages.get(user, []))

    def route(self, method, path, query, headers, raw):
        body = _json(raw)
        self.record(method=method, path=path, query=query, headers=headers, body=body)
        if path == "/cgi-bin/gettoken":
            if (query.get("corpid"), query.get("corpsecret")) != (self.CORP_ID, self.SECRET):
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}, {}
            return 200, {"errcode": 0, "errmsg": "ok", "access_token": self.tokens.issue(), "expires_in": 7200}, {}
        if path == "/cgi-bin/message/send":
            failure = self.take_failure()
            if failure:
                return failure
            if query.get("access_token") not in self.tokens.valid:
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}, {}
            with self.lock:
                code = self.errcodes.pop(0) if self.errcodes else 0
            if code:
                return 200, {"errcode": code, "errmsg": "fake error"}, {}
            if body.get("msgtype") != "markdown" or body.get("agentid") != self.AGENT_ID:
                return 200, {"errcode": 40008, "errmsg": "invalid message type or agentid"}, {}
            users = [u for u in str(body.get("touser", "")).split("|") if u]
            invalid = [u for u in users if u in self.invalid_users]
            with self.lock:
                for user in users:
                    if user not in invalid:
                        self.messages.setdefault(user, []).append(body["markdown"]["content"])
                self.lock.notify_all()
            return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "msgid": uuid.uuid4().hex}, {}
        return 404, {"errcode": 404, "errmsg": path}, {}


# -- a webhook receiver -------------------------------------------------------------------------

class FakeWebhook(FakeHTTP):
    def __init__(self):
        super().__init__()
        self.received: list[dict] = []          # {"body": raw bytes, "doc": parsed, "headers": …}

    def route(self, method, path, query, headers, raw):
        self.record(method=method, path=path, query=query, headers=headers, body=_json(raw))
        failure = self.take_failure()
        if failure:
            return failure
        with self.lock:
            self.received.append({"body": raw, "doc": _json(raw), "headers": headers})
            self.lock.notify_all()
        return 200, {"ok": True}, {}

    def docs_for(self, officer: str) -> list[dict]:
        with self.lock:
            return [r["doc"] for r in self.received if r["doc"].get("recipient", {}).get("id") == officer]
