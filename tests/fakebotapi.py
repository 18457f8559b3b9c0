"""A fake Telegram Bot API, standard library only: the network edge of the bot tests.

`FakeBotAPI` answers Bot API methods (getMe, getUpdates, sendMessage, sendDocument,
answerCallbackQuery, editMessageText, editMessageReplyMarkup, setMyCommands, getFile,
deleteWebhook) and file downloads, records every message per chat, serves queued updates and can
be told to fail the next N sends with 429 (retry_after) or 500, or to be down as a whole
(`set_mode("down")`: connections drop unanswered) or refuse the token (`set_mode("unauthorized")`: 401).
Two ways to reach it:
`FakeRequest` (a python-telegram-bot BaseRequest, in process) and `FakeServer` (HTTP on 127.0.0.1,
for a bot running in another process).
"""
from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlparse

from telegram.request import BaseRequest

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "效能监管助手", "username": "govwatch_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}
TEXT_FIELDS = ("text", "caption", "file_id", "callback_query_id")


class FakeBotAPI:
    """The state of the fake Bot API: messages per chat, queued updates, files, injected failures."""

    def __init__(self):
        self.lock = threading.Condition()
        self.calls: list[tuple[str, dict]] = []
        self.messages: dict[int, list[dict]] = {}
        self.updates: list[dict] = []
        self.files: dict[str, bytes] = {}
        self.failures: list[tuple[int, dict]] = []
        self.fail_methods = ("sendMessage", "sendDocument")
        self.mode: str | None = None       # None: up; "down": connections drop unanswered; "unauthorized": 401
        self._ids = 0

    # -- what tests do --------------------------------------------------------------------

    def fail(self, n: int, status: int = 429, retry_after: int = 1) -> None:
        """The next n sends fail: 429 Too Many Requests (with retry_after) or another HTTP status."""
        body = {"ok": False, "error_code": status, "description": "Too Many Requests" if status == 429
                else "Internal Server Error"}
        if status == 429:
            body["parameters"] = {"retry_after": retry_after}
        with self.lock:
            self.failures.extend([(status, body)] * n)

    def texts(self, chat_id: int) -> list[str]:
        with self.lock:
            return [m.get("text") or m.get("caption") or "" for m in self.messages.get(int(chat_id), [])]

    def called(self, method: str) -> list[dict]:
        with self.lock:
            return [params for m, params in self.calls if m == method]

    def push(self, update: dict) -> dict:
        with self.lock:
            update = {"update_id": self._next(), **update}
            self.updates.append(update)
            self.lock.notify_all()
        return update

    def message(self, user_id: int, text: str | None = None, chat_id: int | None = None, **extra) -> dict:
        """An update: the user sends a message (a /command when text starts with '/'), in their private
        chat, or in the group `chat_id` (a negative id)."""
        chat = _chat(user_id) if chat_id is None else {"id": int(chat_id), "type": "supergroup", "title": "监管群"}
        msg = {"message_id": self._next(), "date": int(time.time()), "chat": chat,
               "from": _user(user_id), **extra}
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"message": msg}

    def photo(self, user_id: int, content: bytes, caption: str | None = None) -> dict:
        file_id = self.add_file(content, "photos/evidence.jpg")
        size = {"file_id": file_id, "file_unique_id": "u" + file_id, "width": 10, "height": 10}
        return self.message(user_id, photo=[size], **({"caption": caption} if caption else {}))

    def document(self, user_id: int, content: bytes, name: str) -> dict:
        file_id = self.add_file(content, f"documents/{name}")
        return self.message(user_id, document={"file_id": file_id, "file_unique_id": "u" + file_id,
                                               "file_name": name})

    def press(self, user_id: int, data: str, message: dict | None = None) -> dict:
        """An update: the user presses an inline button on a message the bot sent."""
        message = message or {"message_id": self._next(), "date": int(time.time()), "chat": _chat(user_id),
                              "from": BOT_USER, "text": "…"}
        return {"callback_query": {"id": str(self._next()), "from": _user(user_id), "chat_instance": "ci",
                                   "data": data, "message": message}}

    def add_file(self, content: bytes, path: str) -> str:
        with self.lock:
            file_id = f"F{self._next()}"
            self.files[file_id] = (path, content)
        return file_id

    # -- the Bot API ------------------------------------------------------------------------

    def set_mode(self, mode: str | None) -> None:
        """The whole API goes down (no answer), comes back (None), or refuses the token ("unauthorized")."""
        with self.lock:
            self.mode = mode
            self.lock.notify_all()

    def handle(self, method: str, params: dict) -> tuple[int, dict]:
        with self.lock:
            self.calls.append((method, params))
            if self.mode == "unauthorized":
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            if method in self.fail_methods and self.failures:
                return self.failures.pop(0)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
            return handler(params)

    def download(self, path: str) -> bytes | None:
        path = unquote(path)
        with self.lock:
            return next((c for p, c in self.files.values() if p == path), None)

    def _ok(self, result) -> tuple[int, dict]:
        return 200, {"ok": True, "result": result}

    def _api_getMe(self, p):
        return self._ok(BOT_USER)

    def _api_deleteWebhook(self, p):
        return self._ok(True)

    def _api_setMyCommands(self, p):
        return self._ok(True)

    def _api_answerCallbackQuery(self, p):
        return self._ok(True)

    def _api_sendMessage(self, p):
        return self._ok(self._record(p, text=p.get("text")))

    def _api_sendDocument(self, p):
        return self._ok(self._record(p, caption=p.get("caption"), document={
            "file_id": f"D{self._next()}", "file_unique_id": "d", "file_name": p.get("_filename", "file")}))

    def _api_editMessageText(self, p):
        return self._ok(self._edit(p, text=p.get("text")))

    def _api_editMessageReplyMarkup(self, p):
        return self._ok(self._edit(p))

    def _api_getFile(self, p):
        path, content = self.files[p["file_id"]]
        return self._ok({"file_id": p["file_id"], "file_unique_id": "u" + p["file_id"],
                         "file_size": len(content), "file_path": path})

    def _api_getUpdates(self, p):
        offset = int(p.get("offset") or 0)
        deadline = time.monotonic() + min(float(p.get("timeout") or 0), 0.5)
        while True:
            ready = [u for u in self.updates if u["update_id"] >= offset]
            if ready or time.monotonic() >= deadline:
                return self._ok(ready[:100])
            self.lock.wait(deadline - time.monotonic())

    def _record(self, p, **content) -> dict:
        chat = int(p["chat_id"])
        msg = {"message_id": self._next(), "date": int(time.time()), "chat": _chat(chat), "from": BOT_USER,
               **{k: v for k, v in content.items() if v is not None}}
        if p.get("reply_markup"):
            msg["reply_markup"] = p["reply_markup"]
        self.messages.setdefault(chat, []).append(msg)
        return msg

    def _edit(self, p, **content) -> dict:
        chat, mid = int(p["chat_id"]), int(p["message_id"])
        msg = next((m for m in self.messages.get(chat, []) if m["message_id"] == mid), None)
        msg = msg if msg is not None else {"message_id": mid, "date": 0, "chat": _chat(chat), "text": "…"}
        msg.update({k: v for k, v in content.items() if v is not None})
        msg["reply_markup"] = p.get("reply_markup") or {"inline_keyboard": []}
        return msg

    def _next(self) -> int:
        self._ids += 1
        return self._ids


def _chat(chat_id: int) -> dict:
    return {"id": int(chat_id), "type": "private", "first_name": f"u{chat_id}"}


def _user(user_id: int) -> dict:
    return {"id": int(user_id), "is_bot": False, "first_name": f"u{user_id}", "language_code": "zh-hans"}


def _decode(params: dict) -> dict:
    """Bot API form values are JSON except plain strings: decode what is JSON."""
    out = {}
    for key, value in params.items():
        if key in TEXT_FIELDS or not isinstance(value, str):
            out[key] = value
            continue
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


class FakeRequest(BaseRequest):
    """python-telegram-bot talks to the fake API in process (unit tests)."""

    def __init__(self, api: FakeBotAPI):
        self.api = api

    @property
    def read_timeout(self):
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url, method, request_data=None, read_timeout=None, write_timeout=None,
                         connect_timeout=None, pool_timeout=None):
        if "/file/" in url:
            content = self.api.download(url.split("/file/", 1)[1].split("/", 1)[1])
            return (200, content) if content is not None else (404, b"")
        if self.api.mode == "down":
            from telegram.error import NetworkError
            raise NetworkError("fake Bot API is down")
        params = dict(request_data.parameters) if request_data else {}
        if request_data and request_data.multipart_data:
            params["_filename"] = next(iter(request_data.multipart_data.values()))[0]
        status, body = self.api.handle(url.rsplit("/", 1)[1], params)
        return status, json.dumps(body).encode()


class FakeServer:
    """The fake API over HTTP on 127.0.0.1 (a thread): base_url http://127.0.0.1:PORT/bot."""

    def __init__(self, api: FakeBotAPI | None = None):
        self.api = api or FakeBotAPI()
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler(self.api))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/file/bot"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass          # a client killed mid-request (SIGKILL in the e2e test) is expected


def _handler(api: FakeBotAPI):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            path = urlparse(self.path).path
            if path.startswith("/file/"):
                content = api.download(path.split("/", 3)[3])
                return self._send(200 if content is not None else 404, content or b"", "application/octet-stream")
            self._api(dict(parse_qsl(urlparse(self.path).query)))

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._api(_form(self.headers.get("Content-Type", ""), body))

        def _api(self, params):
            if api.mode == "down":                # the connection drops without an answer
                self.close_connection = True
                return
            status, body = api.handle(urlparse(self.path).path.rsplit("/", 1)[1], _decode(params))
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status, payload, kind):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
    return Handler


def _form(content_type: str, body: bytes) -> dict:
    if content_type.startswith("multipart/form-data"):
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        out = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                out["_filename"] = part.get_filename()
            else:
                out[name] = part.get_content() if part.get_content_maintype() == "text" else \
                    part.get_payload(decode=True).decode()
        return out
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}")
    return dict(parse_qsl(body.decode()))
