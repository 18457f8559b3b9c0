"""The JSON Schema of each record kind, generated from the field specs of checker.ingest.records.

It describes a row as a file may hold it (after header aliases are resolved and blank values are
dropped, see `coerce.compact`): typed JSON values or their text forms. Formats `govwatch-date` and
`govwatch-datetime` check that a date or time exists; use `validator(kind)`, which knows them.
"""
from __future__ import annotations

import copy
import functools
import re
from datetime import date, datetime
from typing import Any

import jsonschema

from .coerce import BOOL_WORDS, CHOICES_RE, DATE_RE, DATETIME_RE, FLOAT_RE, WORDS
from .records import CLEAR_WORDS, KINDS, Field, RecordKind

Schema = dict[str, Any]           # a JSON Schema, or one of its parts

FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value))


def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or bool(datetime.fromisoformat(value))


FORMAT_CHECKER.checks("govwatch-date", raises=ValueError)(_is_date)
FORMAT_CHECKER.checks("govwatch-datetime", raises=ValueError)(_is_datetime)


def _ci(word: str) -> str:
    """A regex matching an ASCII word in any letter case."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() and c.isascii() else c for c in word)


def _int_text(f: Field) -> str:
    """Regex of the integer texts within the field's bounds (what the coercer's int() accepts)."""
    lo, hi = f.minimum, f.maximum
    if lo is None and hi is None:
        body = "[+-]?[0-9]+"
    elif hi is None and lo == 0:
        body = r"(\+?[0-9]+|-0+)"
    elif hi is None and lo == 1:
        body = r"\+?0*[1-9][0-9]*"
    elif lo is not None and hi is not None and lo >= 0 and hi - lo <= 100:
        values = sorted((str(n) for n in range(int(lo), int(hi) + 1)), key=len, reverse=True)
        body = rf"(\+?0*({'|'.join(values)})|-0+)" if lo == 0 else rf"\+?0*({'|'.join(values)})"
    elif lo in (0, 1) and hi is not None and float(hi).is_integer():
        upto = _at_most(str(int(hi)))                 # 0 … hi, leading zeros allowed
        body = rf"(\+?0*{upto}|-0+)" if lo == 0 else rf"(?!\+?0+(\.0*)?$)\+?0*{upto}"
    else:
        raise NotImplementedError(f"no text pattern for the bounds of {f.name}")
    return rf"^{body}(\.0*)?$"


def _at_most(limit: str) -> str:
    """Regex of the digit strings (no leading zeros needed) whose value is at most `limit`."""
    shorter = f"[0-9]{{1,{len(limit) - 1}}}|" if len(limit) > 1 else ""
    return f"({shorter}{_same_length_at_most(limit)})"


def _same_length_at_most(limit: str) -> str:
    if len(limit) == 1:
        return f"[0-{limit}]"
    head, rest = int(limit[0]), limit[1:]
    lower = f"[0-{head - 1}][0-9]{{{len(rest)}}}|" if head > 0 else ""
    return f"({lower}{limit[0]}{_same_length_at_most(rest)})"


def _bounds(f: Field) -> Schema:
    out: Schema = {}
    if f.minimum is not None:
        out["minimum"] = f.minimum
    if f.maximum is not None:
        out["maximum"] = f.maximum
    return out


def _text(pattern: str | re.Pattern[str]) -> Schema:
    return {"type": "string", "pattern": pattern.pattern if isinstance(pattern, re.Pattern) else pattern}


def _property(rk: RecordKind, f: Field) -> Schema:
    t = f.type
    forms: list[Schema]
    if t == "str":
        forms = [{"type": "string"}, {"type": "integer"}]
    elif t == "int":
        forms = [{"type": "integer", **_bounds(f)}, _text(_int_text(f))]
        if f.sticky:                # 解绑: an import clears a binding only when it says so
            forms.append(_text(f"^({'|'.join(_ci(w) for w in CLEAR_WORDS)})$"))
    elif t == "float":
        if f.minimum is not None or f.maximum is not None:
            raise NotImplementedError(f"no text pattern for the bounds of {f.name}")
        forms = [{"type": "number"}, _text(FLOAT_RE)]
    elif t == "bool":
        words = "|".join(_ci(w) for w in BOOL_WORDS)
        forms = [{"type": "boolean"}, {"enum": [0, 1]}, _text(f"^({words})$")]
    elif t == "date":
        forms = [{**_text(DATE_RE), "format": "govwatch-date"}]
    elif t == "datetime":
        forms = [{**_text(DATETIME_RE), "format": "govwatch-datetime"}]
    elif t == "enum":
        forms = [{"enum": list(f.values)}]
    else:  # choices
        forms = [_text(CHOICES_RE)]
    accepted = WORDS.get((rk.name, f.name))
    if accepted:
        forms.append({"enum": list(accepted)})
    prop: Schema = forms[0] if len(forms) == 1 else {"anyOf": forms}
    title = f.alias[0] if f.alias else f.name
    return {"title": title, **prop}


@functools.lru_cache(maxsize=None)
def _schema(kind: str) -> Schema:
    rk = KINDS[kind]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"govwatch {kind} ({rk.title})",
        "type": "object",
        "properties": {f.name: _property(rk, f) for f in rk.fields},
        "required": [f.name for f in rk.fields if f.required],
        "additionalProperties": False,
    }


def kind_schema(kind: str) -> Schema:
    """The JSON Schema of one record kind (a fresh copy: callers may change it)."""
    return copy.deepcopy(_schema(kind))


def validator(kind: str) -> jsonschema.Draft202012Validator:
    """A validator of the kind's schema that also checks that dates and times exist."""
    return jsonschema.Draft202012Validator(_schema(kind), format_checker=FORMAT_CHECKER)
