"""DingTalk (浙政钉 / 渝快政 are built on it): an internal app's robot sends 1:1 markdown messages
through the open API; its actions are links that send "确认 68" back to the robot (Stream mode,
bot/dingtalk_inbound.py).

    token   POST {base}/v1.0/oauth2/accessToken {"appKey", "appSecret"} → {"accessToken", "expireIn"}
    send    POST {base}/v1.0/robot/oToMessages/batchSend, header x-acs-dingtalk-access-token,
            {"robotCode", "userIds": [...], "msgKey": "sampleMarkdown", "msgParam": "{\"title\", \"text\"}"}
            → {"processQueryKey", "invalidStaffIdList", "flowControlledStaffIdList"}
    errors  HTTP 4xx {"code", "message"}: InvalidAuthentication (expired or bad token) fetches a new
            token and sends once more; 429 / Throttling / 5xx / network are retried by the outbox.
"""
from __future__ import annotations

import json
from typing import Sequence
from urllib.parse import quote

from checker.notify import ACTION_WORDS, Entry, Message, PermanentError, RetryableError

from .http import CachedToken, HttpChannel, json_of
from .markdown import md

AUTH_CODES = ("InvalidAuthentication", "invalidAuthentication", "Forbidden.AccessDenied.AccessTokenPermissionDenied")


def action_link(label: str, data: str) -> str:
    """A link that, tapped in DingTalk, sends the text command (确认 68) to the robot."""
    verb, fid = data.split(":", 1)
    command = f"{ACTION_WORDS[verb]} {fid}"
    return f"[{label}](dtmd://dingtalkclient/sendMessage?content={quote(command)})"


class DingTalkFormatter:
    """DingTalk markdown: bold headings, two-space line breaks, actions as links under each entry."""

    def __init__(self, max_length: int = 5000):
        self.max_length = max_length

    def length(self, text: str) -> int:
        return len(text)

    def title(self, entries: Sequence[Entry]) -> str:
        return f"效能监管通知（{len(entries)} 条）"

    def digest(self, name: str, entries: Sequence[Entry]) -> str:
        head = f"#### 效能监管通知｜{md(name)}（{len(entries)} 条）"
        return "\n\n".join([head, *(entry_md(e, self.max_length // 2) for e in entries)])

    def buttons(self, entries: Sequence[Entry]):
        return ()


def entry_md(e: Entry, limit: int) -> str:
    text = e.text if len(e.text) <= limit else e.text[:limit] + "…"
    if not e.basis:
        return f"{e.icon} **{md(e.heading)}**  \n{md(text)}"
    lines = [f"{e.icon} **{md(e.heading)}** {md(e.title)}", md(text), f"依据 {md(e.basis)}"]
    if e.due:
        lines[-1] += f"｜整改期限 {md(e.due)}"
    if e.note:
        lines.append(f"{e.note_label}：{md(e.note)}")
    lines.extend(md(d) for d in e.details)
    if e.actions:
        lines.append(" ".join(action_link(label, data) for label, data in e.actions))
    return "  \n".join(lines)


class DingTalkToken(CachedToken):
    """The DingTalk app's access token (POST /v1.0/oauth2/accessToken)."""

    def __init__(self, http: HttpChannel, url: str, app_key: str | None, app_secret: str | None):
        super().__init__(http)
        self.url, self.app_key, self.app_secret = url, app_key, app_secret

    async def _fetch(self) -> tuple[str, float]:
        if not (self.app_key and self.app_secret):
            raise PermanentError("未配置钉钉应用的 AppKey / AppSecret 环境变量")
        response = await self.http.request("POST", f"{self.url}/v1.0/oauth2/accessToken",
                                           json={"appKey": self.app_key, "appSecret": self.app_secret})
        body = json_of(response)
        if response.status_code != 200 or not body.get("accessToken"):
            raise RetryableError(f"获取钉钉 accessToken 失败：HTTP {response.status_code} {body.get('code', '')}")
        return body["accessToken"], float(body.get("expireIn") or 7200)


class DingTalkNotifier:
    """1:1 robot messages to an officer's DingTalk userid (officers' column dingtalk_userid, 钉钉ID)."""
    channel = "dingtalk"

    def __init__(self, conf):
        self.conf = conf
        self.formatter = DingTalkFormatter(conf.max_length)
        self.http = HttpChannel(conf.timeout_seconds, conf.per_second)
        self.token = DingTalkToken(self.http, conf.url, conf.app_key(), conf.app_secret())

    def address(self, officer: dict):
        return officer.get("dingtalk_userid")

    async def send(self, message: Message) -> str:
        title = self.formatter.title(message.entries) if message.rows else "效能监管助手"
        return await self.send_markdown([str(message.address)], title, message.text)

    async def send_markdown(self, user_ids: list[str], title: str, text: str) -> str:
        body = {"robotCode": self.conf.robot_code, "userIds": user_ids, "msgKey": "sampleMarkdown",
                "msgParam": json.dumps({"title": title, "text": text}, ensure_ascii=False)}
        for attempt in (1, 2):
            token = await self.token.get()
            response = await self.http.request("POST", f"{self.conf.url}/v1.0/robot/oToMessages/batchSend",
                                               json=body, headers={"x-acs-dingtalk-access-token": token})
            answer = json_of(response)
            code = str(answer.get("code") or "")
            if response.status_code in (401, 403) or code in AUTH_CODES:
                self.token.reset()
                if attempt == 1:
                    continue
                raise RetryableError(f"钉钉拒绝了 accessToken：{code or response.status_code}")
            if code.startswith("Throttling"):
                raise RetryableError(f"钉钉限流：{code}", retry_after=1)
            if response.status_code != 200:
                raise RetryableError(f"钉钉返回 HTTP {response.status_code} {code} {answer.get('message', '')}".strip())
            invalid = set(answer.get("invalidStaffIdList") or [])
            if invalid & set(user_ids):
                raise PermanentError(f"钉钉用户 ID 无效：{'、'.join(sorted(invalid))}（请核对人员表的钉钉ID）")
            if set(answer.get("flowControlledStaffIdList") or []) & set(user_ids):
                raise RetryableError("钉钉对该用户限流", retry_after=60)
            return f"dingtalk:{answer.get('processQueryKey') or ''}"
        raise RetryableError("钉钉发送失败")       # not reached
