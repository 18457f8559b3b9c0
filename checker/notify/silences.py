"""Silences (Alertmanager's silence/): stored windows in which alerts of a rule pattern for an org and
every org below it are kept as `silenced` instead of sent. `Silencer.mutes(row)` is all the
pipeline's silence stage asks."""
from __future__ import annotations

import fnmatch
import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..errors import InputError, NotFound
from .model import ALERT_KINDS, Row

log = logging.getLogger(__name__)


class MuteRepo(Protocol):
    """What `Silencer` reads: the silences in force, the org tree."""
    def active_silences(self, now: str) -> list[dict[str, Any]]: ...
    def org_ancestors(self, code: str) -> list[str]: ...


class SilenceRepo(MuteRepo, Protocol):
    """What silences call on the store: the silences, the org tree, an org's record."""
    def all_silences(self) -> list[dict[str, Any]]: ...
    def add_silence(self, rule: str, org: str, starts_at: str, ends_at: str, reason: str, created_by: str) -> int: ...
    def remove_silence(self, silence_id: int, now: str) -> bool: ...
    def get(self, kind: str, key: str | tuple[Any, ...]) -> dict[str, Any] | None: ...

DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Silencer:
    """The silences active at `now`; `mutes(row)` → the silence that holds the row back, or None."""

    def __init__(self, store: MuteRepo, now_iso: str):
        self.store = store
        self.active = store.active_silences(now_iso)

    def mutes(self, r: Row) -> dict[str, Any] | None:
        if not self.active or r.kind not in ALERT_KINDS:
            return None
        org = r.payload.get("org")
        orgs = {org, *self.store.org_ancestors(org)} if org else set()
        return next((s for s in self.active if fnmatch.fnmatchcase(r.payload.get("rule") or "", s["rule"])
                     and s["org"] in orgs), None)


def add_silence(store: SilenceRepo, rule: str, org: str, duration: str, reason: str, by: str,
                now: datetime) -> dict[str, Any]:
    """Silence alerts of a rule (or a pattern like db33.case.*) for an org and every org below it."""
    if store.get("orgs", org) is None:
        raise NotFound(f"未找到机构 {org}")
    if not reason.strip():
        raise InputError("静默须说明原因")
    ends = now + parse_duration(duration)
    sid = store.add_silence(rule, org, _iso(now), _iso(ends), reason, by)
    return {"id": sid, "rule": rule, "org": org, "ends_at": _iso(ends)}


def remove_silence(store: SilenceRepo, silence_id: int | str, by: str, now: datetime) -> None:
    if not store.remove_silence(int(silence_id), _iso(now)):
        raise NotFound(f"未找到生效中的静默 #{silence_id}")
    log.info("silence %s removed by %s", silence_id, by)


def list_silences(store: SilenceRepo, now: datetime, include_ended: bool = False) -> list[dict[str, Any]]:
    """Silences in force at `now` (with `include_ended`, also the expired and removed ones), each with
    its `state`: 生效中, 未开始, 已到期, 已解除."""
    at = _iso(now)
    rows = store.all_silences() if include_ended else store.active_silences(at)
    for r in rows:
        r["state"] = ("已解除" if r["removed_at"] else "已到期" if r["ends_at"] <= at
                      else "未开始" if r["starts_at"] > at else "生效中")
    return rows


def parse_duration(text: str) -> timedelta:
    """30m, 12h, 3d, 2w → a timedelta (at most a year)."""
    unit, number = text[-1:].lower(), text[:-1]
    if unit not in DURATION_UNITS or not number.isdigit() or int(number) <= 0:
        raise InputError(f"无法识别的时长 {text!r}：应为 30m、12h、3d 或 2w 这样的形式")
    value = timedelta(**{DURATION_UNITS[unit]: int(number)})
    if value > timedelta(days=366):
        raise InputError("静默时长不能超过一年")
    return value


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")
