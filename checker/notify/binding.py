"""Binding a messenger account to an officer: one-time codes an admin hands out, spent by the user."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..errors import InputError, NotFound
from ..config import Config
from .backlog import BacklogRepo, enqueue_backlog


class BindingRepo(BacklogRepo, Protocol):
    """What binding an officer's messenger account calls on the store (and the backlog it enqueues)."""
    def officer(self, officer_id: str) -> dict[str, Any] | None: ...
    def add_bind_code(self, code: str, officer_id: str, created_at: str, expires_at: str) -> None: ...
    def use_bind_code(self, code: str, telegram_id: int | str, now: str, column: str = "telegram_id") -> str | None: ...


def invite(store: BindingRepo, cfg: Config, officer_id: str, now: datetime) -> dict[str, Any]:
    """A one-time bind code for an officer, valid `telegram.bind_code_hours`."""
    officer = store.officer(officer_id)
    if officer is None:
        raise NotFound(f"未找到工号为 {officer_id} 的人员")
    code = secrets.token_hex(4).upper()
    expires = now + timedelta(hours=cfg.telegram.bind_code_hours)
    store.add_bind_code(code, officer_id, _iso(now), _iso(expires))
    return {"code": code, "officer": officer, "expires_at": _iso(expires)}


ID_COLUMNS = {"telegram": "telegram_id", "dingtalk": "dingtalk_userid"}


def bind(store: BindingRepo, code: str, user_id: int | str, now: datetime, channel: str = "telegram") -> dict[str, Any] | None:
    """Spend a bind code: the messenger user (a Telegram user id, a DingTalk userid) now receives that
    officer's notifications."""
    user_id = int(user_id) if channel == "telegram" else str(user_id)
    officer_id = store.use_bind_code(code.strip().upper(), user_id, _iso(now), column=ID_COLUMNS[channel])
    if officer_id is None:
        raise InputError("绑定码无效、已使用或已过期，请向本单位管理员重新索取。")
    enqueue_backlog(store, officer_id, now)          # the open backlog arrives once, right after binding
    return store.officer(officer_id)


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")
