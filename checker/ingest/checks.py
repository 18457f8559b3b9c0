"""Checks across the fields of one row, and across rows (an org's parent chain), after each field
has been coerced on its own (checker.ingest.coerce). Every problem is (field, Chinese reason): the
row is rejected with it, and the import goes on."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .coerce import label
from .records import KINDS

# (kind, later field, earlier field): the later one may not come before the earlier one.
ORDER = (
    ("cases", "closed_at", "accepted_at"),
    ("complaints", "rectified_at", "received_at"),
    ("consultations", "answered_at", "received_at"),
)
# The date a record happened: not far after the import (a typo like 2062 for 2026).
HAPPENED = {"cases": "accepted_at", "complaints": "received_at", "evaluations": "evaluated_at",
            "consultations": "received_at"}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _before(a: str, b: str) -> bool:
    """a < b for stored local times (YYYY-MM-DDTHH:MM:SS+HH:MM): as text when the offsets agree."""
    if len(a) == len(b) == 25 and a[19:] == b[19:]:
        return a < b
    return _t(a) < _t(b)


def _name(kind: str, field: str) -> str:
    return label(KINDS[kind].field(field))


class RowChecks:
    """The cross-field checks of one kind, for an import at `now`."""

    def __init__(self, kind: str, now: datetime, max_future_days: int) -> None:
        self.kind = kind
        self.order = [(a, b) for k, a, b in ORDER if k == kind]
        self.happened = HAPPENED.get(kind)
        self.latest = (now + timedelta(days=max_future_days)).isoformat(timespec="seconds")
        self.max_future_days = max_future_days

    def problems(self, v: Mapping[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for later, earlier in self.order:
            if v[later] and v[earlier] and _before(v[later], v[earlier]):
                out.append((later, f"{_name(self.kind, later)} {v[later]} 早于 {_name(self.kind, earlier)} {v[earlier]}"))
        if self.kind == "cases":
            out += _case_problems(v)
        happened = self.happened
        when = v[happened] if happened else None
        if happened and when and _before(self.latest, when):
            out.append((happened, f"{_name(self.kind, happened)} {when} 晚于导入时间超过 "
                                  f"{self.max_future_days} 天（配置 ingest.max_future_days），应是录入错误"))
        return out


def _case_problems(v: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if v["promised_at"] and v["promised_at"][:10] < v["accepted_at"][:10]:
        out.append(("promised_at", f"承诺办结时间(promised_at) {v['promised_at']} 早于受理日期 {v['accepted_at'][:10]}"))
    if v["status"] == "closed" and not v["closed_at"]:
        out.append(("closed_at", "办件状态为已办结(closed)，但没有办结时间(closed_at)"))
    return out


def parent_loop(parents: Mapping[str, str | None], code: str, parent: str | None) -> list[str] | None:
    """The loop an org's new parent would close (code → parent → … → code), or None.

    `parents` maps every known org to its parent; walking is bounded by its size."""
    if parent is None:
        return None
    chain, at = [code, parent], parent
    for _ in range(len(parents) + 1):
        if at == code:
            return chain
        up = parents.get(at)
        if up is None:
            return None
        at = up
        chain.append(at)
    return chain
