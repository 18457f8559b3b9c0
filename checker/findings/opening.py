"""Opening a scan's new record findings set-wise: what a finding of a record rule is made of, as a
description the store turns into one INSERT … SELECT over the fired pairs that open (checker.store.opening),
instead of a Python dict, a rendered message and a JSON text per finding.

The reference for every value is the Python path (checker.evaluate.scan.complete_firings with
checker.findings.messages.render): `OpenSpec` lists, per rule, the facts that path keeps (sorted,
as its JSON is), where each comes from (a column or derived field of the record, a constant of the
rule, the org's name) and the message template cut at its placeholders, constants folded in.
tests/test_open_setwise.py requires the two to give the same findings.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .messages import _template, _text

ORG_NAME = "org_name"


@dataclass(frozen=True)
class Fact:
    """One kept fact: `sql` (a column or derived expression of the record, type `type`), else `const`
    (its JSON text), else the org's name (`name` == ORG_NAME and neither given)."""
    name: str
    sql: str | None = None
    type: str = "str"
    const: str | None = None


@dataclass(frozen=True)
class OpenSpec:
    """A record rule's new findings, as the Python path would make them."""
    rule: str
    clause: str | None
    standard: str | None
    severity: str
    kind: str                                  # the record kind (subject_kind)
    key: str                                   # its key column
    facts: tuple[Fact, ...]                    # sorted by name (the JSON's key order)
    message: tuple[tuple[str, str | None], ...]     # (literal text, the fact after it or None)
    rectify_due: str                           # the due date when the record gives none
    own_due: bool                              # cases: a deadline still ahead is the due date
    handler: bool                              # cases: the handler routes the finding


def fact(name: str, value: Any = None, sql: str | None = None, type_: str = "str") -> Fact:
    """A fact from the record (`sql`), or a constant of the rule (`value`), or the org's name."""
    if sql is not None or name == ORG_NAME:
        return Fact(name, sql, type_)
    return Fact(name, const=json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def message_pieces(template: str, constants: dict[str, Any], facts: set[str]) -> tuple[tuple[str, str | None], ...]:
    """The template as (text, fact) pieces: a placeholder naming a constant is folded into the text
    as `render` would write it, one naming neither a constant nor a fact becomes "—"."""
    out: list[tuple[str, str | None]] = []
    text = ""
    for literal, name in _template(template):
        text += literal
        if name is None:
            continue
        if name in facts:
            out.append((text, name))
            text = ""
        else:
            text += _text(constants.get(name))
    out.append((text, None))
    return tuple(out)
