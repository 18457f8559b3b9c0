"""Reporting periods: a day, an ISO week, a month, a quarter or a year."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from .errors import InputError

_CN_QUARTER = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_PATTERNS = (
    ("day", re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")),
    ("day", re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")),
    ("week", re.compile(r"^(\d{4})-W(\d{1,2})$", re.I)),
    ("week", re.compile(r"^(\d{4})年第(\d{1,2})周$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$", re.I)),
    ("quarter", re.compile(r"^(\d{4})年第?([1-4一二三四])季度?$")),
    ("month", re.compile(r"^(\d{4})-(\d{1,2})$")),
    ("month", re.compile(r"^(\d{4})年(\d{1,2})月份?$")),
    ("year", re.compile(r"^(\d{4})年?度?$")),
)
@dataclass(frozen=True)
class Period:
    kind: str      # day week month quarter year
    start: date    # first day
    end: date      # first day after the period
    code: str      # canonical: 2026-10, 2026-Q3, 2026, 2026-W41, 2026-10-09 (2026-9 and 2026年9月 → 2026-09)

    @classmethod
    def parse(cls, text: str) -> "Period":
        text = (text or "").strip()
        for kind, pattern in _PATTERNS:
            m = pattern.match(text)
            if m:
                try:
                    return _BUILDERS[kind](*(_CN_QUARTER[g] if g in "一二三四" else int(g) for g in m.groups()))
                except ValueError:
                    break
        raise InputError(f"无法识别的期间 {text!r}：应为 2026-10（或 2026-9、2026年9月）、2026-Q3（2026年第3季度）、"
                         "2026、2026-W41 或 2026-10-09")

    @classmethod
    def containing(cls, kind: str, day: date) -> "Period":
        """The period of a kind that contains a day."""
        if kind == "day":
            return _day(day.year, day.month, day.day)
        if kind == "week":
            y, w, _ = day.isocalendar()
            return _week(y, w)
        if kind == "month":
            return _month(day.year, day.month)
        if kind == "quarter":
            return _quarter(day.year, (day.month - 1) // 3 + 1)
        return _year(day.year)

    def previous(self) -> "Period":
        return Period.containing(self.kind, self.start - timedelta(days=1))

    @property
    def label(self) -> str:
        """Chinese label for people: 2026年10月, 2026年第3季度 …"""
        s = self.start
        return {
            "day": f"{s.year}年{s.month}月{s.day}日",
            "week": f"{s.isocalendar()[0]}年第{s.isocalendar()[1]}周",
            "month": f"{s.year}年{s.month}月",
            "quarter": f"{s.year}年第{(s.month - 1) // 3 + 1}季度",
            "year": f"{s.year}年",
        }[self.kind]


def _day(y: int, m: int, d: int) -> Period:
    s = date(y, m, d)
    return Period("day", s, s + timedelta(days=1), s.isoformat())


def _week(y: int, w: int) -> Period:
    s = date.fromisocalendar(y, w, 1)
    return Period("week", s, s + timedelta(days=7), f"{y}-W{w:02d}")


def _month(y: int, m: int) -> Period:
    s = date(y, m, 1)
    e = date(y + (m == 12), m % 12 + 1, 1)
    return Period("month", s, e, f"{y}-{m:02d}")


def _quarter(y: int, q: int) -> Period:
    s = date(y, 3 * q - 2, 1)
    e = date(y + (q == 4), (3 * q) % 12 + 1, 1)
    return Period("quarter", s, e, f"{y}-Q{q}")


def _year(y: int) -> Period:
    return Period("year", date(y, 1, 1), date(y + 1, 1, 1), f"{y}")


_BUILDERS: dict[str, Callable[..., Period]] = {"day": _day, "week": _week, "month": _month, "quarter": _quarter, "year": _year}
