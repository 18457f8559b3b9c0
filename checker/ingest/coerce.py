"""Fast row coercion derived from the field specs of checker.ingest.records.

Every field type has one converter: raw value (CSV text, or a JSON value) → stored value, or
`Bad(reason)` with a Chinese reason. `checker.ingest.schema` generates a JSON Schema from the same
specs; tests/test_ingest.py proves both accept and reject the same rows.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, TypeGuard
from zoneinfo import ZoneInfo

from .records import CLEAR_WORDS, KINDS, MAX_TEXT, Field, RecordKind

BOOL_WORDS = {"true": 1, "false": 0, "1": 1, "0": 0, "是": 1, "否": 0, "y": 1, "n": 0}

# Words accepted for a field besides its typed values (e.g. 好差评 levels as words).
WORDS: dict[tuple[str, str], dict[str, object]] = {
    ("evaluations", "level"): {"非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1},
    ("disclosures", "category"): {"主动公开": "proactive", "依申请公开": "request", "依申请": "request"},
}

INT_RE = re.compile(r"^[+-]?[0-9]+(\.0*)?$")
FLOAT_RE = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
DATETIME_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$")
# The common export shape `2026-04-03 09:15:22` (local, no offset): converted without datetime objects.
_PLAIN_RE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]((?:[01][0-9]|2[0-3])):([0-5][0-9]):([0-5][0-9])$")
CHOICES_RE = re.compile(r"^[A-Za-z](;[A-Za-z])*$")
INT64 = 2**63 - 1                 # what an SQLite INTEGER holds
DATE_WINDOW = ("2000-01-01", "2099-12-31")     # config `ingest.date_min` / `ingest.date_max`

Convert = Callable[[object], object]            # raw value → stored value, or Bad


class Clear:
    """A sticky field's explicit clear word (解绑): the stored value is set to NULL."""

    def __repr__(self) -> str:
        return "CLEAR"


CLEAR = Clear()


class Bad(ValueError):
    """A value that cannot be used; the message is the Chinese reason."""


def label(f: Field) -> str:
    """How a field is named to people: 受理时间(accepted_at)."""
    return f"{f.alias[0]}({f.name})" if f.alias else f.name


def _is_number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _bounded(f: Field, n: int | float) -> int | float:
    if f.minimum is not None and n < f.minimum:
        raise Bad(f"{label(f)} 不能小于 {_num(f.minimum)}：{_show(n)}")
    if f.maximum is not None and n > f.maximum:
        raise Bad(f"{label(f)} 不能大于 {_num(f.maximum)}：{_show(n)}")
    if isinstance(n, int) and abs(n) > INT64:
        raise Bad(f"{label(f)} 超出整数范围：{_show(n)}")
    if isinstance(n, float) and not math.isfinite(n):
        raise Bad(f"{label(f)} 应为有限的数值：{n}")
    return n


def _show(value: object, width: int = 40) -> str:
    """A value in a reason, cut to a readable length (a 10^30 or a 100 KB text stays one line)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"约 {int(value.bit_length() * 0.30103) + 1} 位的整数"
    text = str(value)
    return text if len(text) <= width else text[:width] + f"…（共 {len(text)} 个字符）"


def _str(f: Field, tz: ZoneInfo, window: tuple[str, str]) -> Convert:
    def conv(v: object) -> object:
        if isinstance(v, str):
            if len(v) > MAX_TEXT:
                raise Bad(f"{label(f)} 过长：{len(v)} 个字符，最多 {MAX_TEXT}")
            return v
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) <= INT64:
            return str(v)
        if isinstance(v, float) and math.isfinite(v) and v.is_integer():
            return str(int(v))
        raise Bad(f"{label(f)} 应为文本：{_show(repr(v))}")
    return conv


def _int(f: Field, tz: ZoneInfo, window: tuple[str, str]) -> Convert:
    def conv(v: object) -> object:
        if isinstance(v, str):
            if len(v) > 40:
                raise Bad(f"{label(f)} 应为整数：{_show(v)!r}")
            if v.isascii() and v.isdigit():
                return _bounded(f, int(v))
            if INT_RE.match(v):
                return _bounded(f, int(v.split(".")[0]))
            raise Bad(f"{label(f)} 应为整数：{v!r}")
        if isinstance(v, int) and not isinstance(v, bool):
            return _bounded(f, v)
        if isinstance(v, float) and math.isfinite(v) and v.is_integer():
            return _bounded(f, int(v))
        raise Bad(f"{label(f)} 应为整数：{_show(repr(v))}")
    return conv


def _float(f: Field, tz: ZoneInfo, window: tuple[str, str]) -> Convert:
    def conv(v: object) -> object:
        if isinstance(v, str):
            if len(v) <= 64 and FLOAT_RE.match(v):
                return _bounded(f, float(v))
            raise Bad(f"{label(f)} 应为数值：{v!r}")
        if _is_number(v):
            try:
                return _bounded(f, float(v))
            except OverflowError:
                raise Bad(f"{label(f)} 超出数值范围：{_show(v)}") from None
        raise Bad(f"{label(f)} 应为数值：{_show(repr(v))}")
    return conv


def _bool(f: Field, tz: ZoneInfo, window: tuple[str, str]) -> Convert:
    def conv(v: object) -> object:
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, str):
            b = BOOL_WORDS.get(v.lower())
            if b is not None:
                return b
        elif _is_number(v) and v in (0, 1):
            return int(v)
        raise Bad(f"{label(f)} 应为 是/否（true/false、1/0、Y/N）：{v!r}")
    return conv


def _in_window(f: Field, day: str, window: tuple[str, str]) -> None:
    """Dates outside the configured window (default 2000–2099) are typos, and a year like 9999
    would overflow the working-day arithmetic: refused at import."""
    if not window[0] <= day <= window[1]:
        raise Bad(f"{label(f)} 的日期 {day} 超出允许范围 {window[0]} 至 {window[1]}（配置 ingest.date_min/date_max）")


def _date(f: Field, tz: ZoneInfo, window: tuple[str, str]) -> Convert:
    def conv(v: object) -> object:
        if isinstance(v, str) and DATE_RE.match(v):
            try:
                day = date.fromisoformat(v).isoformat()
            except ValueError:
                pass
            else:
                _in_window(f, day, window)
                return day
        raise Bad(f"{label(f)} 应为日期 YYYY-MM-DD：{_show(repr(v))}")
    return conv


def _datetime(f: Field, tz: ZoneInfo, window: tuple[str, str]) -> Convert:
    first, last = window
    offsets: dict[str, str | None] = {}     # 'YYYY-MM-DDTHH' → '+08:00' (None: no such day)

    def offset(day: str, hour: str) -> str | None:
        key = f"{day}T{hour}"
        if key not in offsets:
            try:
                dt = datetime.fromisoformat(key + ":00").replace(tzinfo=tz)
                offsets[key] = dt.isoformat()[-6:]
            except ValueError:
                offsets[key] = None
        return offsets[key]

    def conv(v: object) -> object:
        if isinstance(v, str):
            m = _PLAIN_RE.match(v)
            if m:
                day, hour = m.group(1, 2)
                off = offset(day, hour)
                if off:
                    if not first <= day <= last:
                        _in_window(f, day, window)
                    return f"{day}T{hour}:{m.group(3)}:{m.group(4)}{off}"
            elif DATETIME_RE.match(v):
                _in_window(f, v[:10], window)
                local = to_local(v, tz)
                _in_window(f, local[:10], window)
                return local
        raise Bad(f"{label(f)} 应为 ISO 8601 时间（如 2026-10-09 09:00 或 2026-10-09T09:00:00+08:00）：{_show(repr(v))}")
    return conv


@functools.lru_cache(maxsize=16)
def fixed_offset(tz: ZoneInfo, window: tuple[str, str] = DATE_WINDOW) -> str | None:
    """The one UTC offset `_datetime` gives every local time of the window (Asia/Shanghai since 1992:
    '+08:00'), or None when the zone changes offset within it (summer time). Checked at midnight and
    noon of every day: a zone's offset changes last for months."""
    first, last = date.fromisoformat(window[0]), date.fromisoformat(window[1])
    seen: set[str] = set()
    for d in range((last - first).days + 1):
        day = first + timedelta(days=d)
        for hour in (0, 12):
            seen.add(datetime(day.year, day.month, day.day, hour, tzinfo=tz).isoformat()[-6:])
        if len(seen) > 1:
            return None
    return seen.pop() if seen else None


def to_local(text: str, tz: ZoneInfo) -> str:
    """ISO 8601 text → local ISO with offset, seconds precision (naive text is local time)."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise Bad(f"不存在的时间：{text!r}") from None
    try:
        dt = dt.replace(tzinfo=tz) if dt.tzinfo is None else dt.astimezone(tz)
        return dt.replace(microsecond=0).isoformat()
    except (OverflowError, ValueError):
        raise Bad(f"时间超出可表示的范围：{text!r}") from None


def _enum(f: Field, tz: ZoneInfo, window: tuple[str, str]) -> Convert:
    allowed = frozenset(f.values)

    def conv(v: object) -> object:
        if isinstance(v, str) and v in allowed:
            return v
        raise Bad(f"{label(f)} 应为 {'/'.join(f.values)} 之一：{_show(repr(v))}")
    return conv


def _choices(f: Field, tz: ZoneInfo, window: tuple[str, str]) -> Convert:
    def conv(v: object) -> object:
        if isinstance(v, str) and CHOICES_RE.match(v):
            return v.upper()
        raise Bad(f"{label(f)} 应为选项字母，多选用 ; 分隔（如 A;C）：{_show(repr(v))}")
    return conv


CONVERTERS: dict[str, Callable[[Field, ZoneInfo, tuple[str, str]], Convert]] = {
    "str": _str, "int": _int, "float": _float, "bool": _bool,
    "date": _date, "datetime": _datetime, "enum": _enum, "choices": _choices,
}


def converter(rk: RecordKind, f: Field, tz: ZoneInfo, window: tuple[str, str] = DATE_WINDOW) -> Convert:
    """The converter of one field, with the field's accepted words (if any) in front."""
    base = CONVERTERS[f.type](f, tz, window)
    found = WORDS.get((rk.name, f.name))
    if f.sticky:
        found = {**(found or {}), **{w: CLEAR for w in CLEAR_WORDS}}
    if not found:
        return base
    words = found

    def conv(v: object) -> object:
        if isinstance(v, str) and (v in words or v.lower() in words):
            return words.get(v, words.get(v.lower()))
        return base(v)
    return conv


def blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


@dataclass(frozen=True)
class Coercer:
    """Converts rows of one kind, given as {field name: raw value} with blanks already dropped."""

    kind: RecordKind
    slots: tuple[tuple[Field, Convert], ...]

    @classmethod
    def of(cls, kind: str, tz: ZoneInfo, window: tuple[str, str] = DATE_WINDOW) -> "Coercer":
        rk = KINDS[kind]
        return cls(rk, tuple((f, converter(rk, f, tz, window)) for f in rk.fields))

    def coerce(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """(values by field, [(field, reason)]); missing fields are None."""
        out: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        for f, conv in self.slots:
            v = row.get(f.name)
            if v is None:
                if f.required:
                    errors.append((f.name, f"缺少必填字段 {label(f)}"))
                out[f.name] = None
                continue
            try:
                out[f.name] = conv(v)
            except Bad as exc:
                errors.append((f.name, str(exc)))
        return out, errors


def compact(row: dict[str, Any]) -> dict[str, Any]:
    """Drop blank values and strip text: what both the coercer and the JSON Schema see."""
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if not blank(v)}
