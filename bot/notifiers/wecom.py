"""WeCom / 政务微信: a self-built app sends markdown messages to an officer's userid.

    token   GET {base}/cgi-bin/gettoken?corpid=…&corpsecret=… → {"errcode": 0, "access_token", "expires_in"}
    send    POST {base}/cgi-bin/message/send?access_token=… {"touser": "id1|id2", "msgtype": "markdown",
            "agentid": N, "markdown": {"content": …}} → {"errcode": 0, "invaliduser", "msgid", …}
    errors  errcode 40014 (invalid) / 42001 (expired) fetch a new token and send once more; any other
            non-zero errcode, 429, 5xx are retried by the outbox with back-off; an invalid user never is.
WeCom markdown has no buttons: a message says how to act on a finding elsewhere.
"""
from __future__ import annotations

from typing import Sequence

from checker.notify import Entry, Message, PermanentError, RetryableError

from .http import CachedToken, HttpChannel, json_of
from .markdown import md

TOKEN_ERRORS = (40014, 42001, 40001)
COLOUR = {"red": "warning", "yellow": "comment", "blue": "info"}


class WeComFormatter:
    """WeCom markdown: bold, <font color>, lines; at most `max_bytes` UTF-8 bytes a message."""

    def __init__(self, max_bytes: int = 4096):
        self.max_length = max_bytes

    def length(self, text: str) -> int:
        return len(text.encode("utf-8"))

    def digest(self, name: str, entries: Sequence[Entry]) -> str:
        head = f"**效能监管通知**｜{md(name)}（{len(entries)} 条）"
        tail = ("> 确认收到、提交整改、复查请在效能监管助手的钉钉或 Telegram 机器人中办理，或联系本单位管理员。"
                if any(e.actions for e in entries) else None)
        return "\n\n".join([head, *(entry_md(e, self.max_length // 4) for e in entries), *([tail] if tail else [])])

    def buttons(self, entries: Sequence[Entry]):
        return ()


def entry_md(e: Entry, limit: int) -> str:
    text = e.text if len(e.text.encode("utf-8")) <= limit else e.text[:limit // 3] + "…"
    if not e.basis:
        return f"{e.icon} **{md(e.heading)}**\n{md(text)}"
    colour = COLOUR.get(e.severity or "", "comment")
    lines = [f'{e.icon} <font color="{colour}">**{md(e.heading)}**</font> {md(e.title)}', md(text),
             f'<font color="comment">依据 {md(e.basis)}' + (f"｜整改期限 {md(e.due)}" if e.due else "") + "</font>"]
    if e.note:
        lines.append(f"{e.note_label}：{md(e.note)}")
    lines.extend(md(d) for d in e.details)
    return "\n".join(lines)


class WeComToken(CachedToken):
    """The WeCom / 政务微信 app's access token (GET /cgi-bin/gettoken)."""

    def __init__(self, http: HttpChannel, conf):
        super().__init__(http)
        self.conf = conf

    async def _fetch(self) -> tuple[str, float]:
        secret = self.conf.secret()
        if not secret:
            raise PermanentError(f"未设置企业微信应用 Secret（环境变量 {self.conf.secret_env}）")
        response = await self.http.request("GET", f"{self.conf.url}/cgi-bin/gettoken",
                                           params={"corpid": self.conf.corp_id, "corpsecret": secret})
        body = json_of(response)
        if body.get("errcode") != 0 or not body.get("access_token"):
            raise RetryableError(f"获取企业微信 access_token 失败：errcode {body.get('errcode')} {body.get('errmsg', '')}")
        return body["access_token"], float(body.get("expires_in") or 7200)


class WeComNotifier:
    """Messages to an officer's WeCom userid (officers' column wecom_userid, 企业微信ID)."""
    channel = "wecom"

    def __init__(self, conf):
        self.conf = conf
        self.formatter = WeComFormatter(conf.max_bytes)
        self.http = HttpChannel(conf.timeout_seconds, conf.per_second)
        self.token = WeComToken(self.http, conf)

    def address(self, officer: dict):
        return officer.get("wecom_userid")

    async def send(self, message: Message) -> str:
        return await self.send_markdown([str(message.address)], message.text)

    async def send_markdown(self, user_ids: list[str], content: str) -> str:
        body = {"touser": "|".join(user_ids), "msgtype": "markdown", "agentid": self.conf.agent_id,
                "markdown": {"content": content}}
        for attempt in (1, 2):
            token = await self.token.get()
            response = await self.http.request("POST", f"{self.conf.url}/cgi-bin/message/send",
                                               params={"access_token": token}, json=body)
            answer = json_of(response)
            errcode = answer.get("errcode")
            if errcode in TOKEN_ERRORS:
                self.token.reset()
                if attempt == 1:
                    continue
            if errcode != 0:
                raise RetryableError(f"企业微信 errcode {errcode}：{answer.get('errmsg', '')}".strip())
            invalid = {u for u in str(answer.get("invaliduser") or "").split("|") if u}
            if invalid & set(user_ids):
                raise PermanentError(f"企业微信用户 ID 无效：{'、'.join(sorted(invalid))}（请核对人员表的企业微信ID）")
            return f"wecom:{answer.get('msgid') or ''}"
        raise RetryableError("企业微信发送失败")
