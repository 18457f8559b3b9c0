"""Finding messages: a rule's template rendered from facts, once when the finding opens and again
whenever it is read, so the figures that move with the clock ("超期 N 个工作日", "还剩 N 个工作日")
are those of the moment of reading. A scan never rewrites a message (DESIGN.md "Findings").

The clock-moving figures are checker.ingest.derived fields marked `clock`; reading computes them with the
same SQL expressions the scan uses, over the facts the finding stored (checker.ingest.derived.read_values).
"""
from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from typing import Any

from ..config import Config
from ..ingest import derived
from ..ingest.records import KINDS
from .repo import MessageRepo

TEMPLATE = "_template"          # the key of a finding's facts that holds its rule's message template
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
RENDER_CHUNK = 5000             # findings whose stored facts are read at a time
PREFETCH_ROWS = 500             # findings whose clock-moving figures one statement computes
# A finding's clock-moving figures, kept per batch of reads by what they are computed from:
# (kind, the fields, the moment, the facts they read) → {field: value}.
CacheKey = tuple[str, tuple[str, ...], str, tuple[Any, ...]]
Cache = dict[CacheKey, dict[str, Any]]
_ISO_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def render(template: str, facts: dict[str, Any]) -> str:
    """Plain {name} substitution (names were checked by the loader); nothing else is interpreted."""
    return "".join([text + _text(facts.get(name)) if name else text for text, name in _template(template)])


@functools.lru_cache(maxsize=1024)
def _template(template: str) -> tuple[tuple[str, str | None], ...]:
    """A template split once into (literal text, the placeholder after it or None) pairs."""
    pieces = _PLACEHOLDER.split(template)           # literal, name, literal, name, …, literal
    return tuple(zip(pieces[::2], [*pieces[1::2], None]))


def placeholders(template: str) -> frozenset[str]:
    return frozenset(_PLACEHOLDER.findall(template))


def _text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        text: str = value
        return text[:16].replace("T", " ") if len(text) >= 16 and text[10] == "T" and _ISO_PREFIX.match(text) else text
    if kind is int:
        return str(value)
    if value is None:
        return "—"
    if kind is bool:
        return "是" if value else "否"
    if kind is float and value.is_integer():
        return str(int(value))
    return str(value)


@functools.lru_cache(maxsize=1024)
def clock_fields(kind: str, template: str) -> tuple[str, ...]:
    return tuple(sorted(n for n in placeholders(template) if (d := derived.get(kind, n)) is not None and d.clock))


def read_message(store: derived.FactsReader, kind: str, stored: str, data: dict[str, Any] | None, opened_at: str | None,
                 now: datetime, cache: Cache | None = None, config_params: dict[str, Any] | None = None) -> str:
    """A finding's message at `now`: its template over its stored facts, the clock-moving figures
    computed again (with `config_params`, checker.derived.params of the config; None: the defaults).
    A finding without a template keeps the message it was written with. `cache`
    (one dict per batch of reads) keeps the figures by what they are computed from: the findings of
    a report share few deadlines, so a batch makes one query per distinct deadline, not per finding."""
    if not data or TEMPLATE not in data or kind not in KINDS:
        return stored
    clock = clock_fields(kind, data[TEMPLATE])
    if not clock:
        return stored
    key, params = _reading(kind, clock, data, opened_at, now, config_params)
    if cache is None:
        return render(data[TEMPLATE], {**data, **derived.read_values(store, kind, data, clock, params)})
    try:
        values, kept = cache.get(key), True
    except TypeError:                  # a fact that is not a plain value: computed, not kept
        values, kept = None, False
    if values is None:
        values = derived.read_values(store, kind, data, clock, params)
        if kept:
            cache[key] = values
    return render(data[TEMPLATE], {**data, **values})


def _reading(kind: str, clock: tuple[str, ...], data: dict[str, Any], opened_at: str | None, now: datetime,
             config_params: dict[str, Any] | None) -> tuple[CacheKey, dict[str, Any]]:
    """(the cache key of a finding's clock-moving figures, the parameters they are computed with)."""
    if opened_at:                      # the store's local offset
        now = now.astimezone(datetime.fromisoformat(opened_at).tzinfo)
    params = {**(config_params or default_params()), "now": now.isoformat(timespec="seconds"),
              "today": now.date().isoformat()}
    return (kind, clock, params["now"], tuple(data.get(c) for c in _needs(kind, clock))), params


def _prefetch(store: derived.FactsReader, found: list[tuple[str, dict[str, Any], str | None]], now: datetime, cache: Cache,
              config_params: dict[str, Any] | None) -> None:
    """Compute into `cache` the clock-moving figures of a batch of findings ((kind, facts, opened_at))
    not yet there: one statement per kind, moment and type of facts (checker.ingest.derived.read_values_many)."""
    groups: dict[tuple[str, tuple[str, ...], str, tuple[str, ...]], dict[CacheKey, dict[str, Any]]] = {}
    params_of: dict[tuple[str, tuple[str, ...], str, tuple[str, ...]], dict[str, Any]] = {}
    for kind, data, opened_at in found:
        if not data or TEMPLATE not in data or kind not in KINDS:
            continue
        clock = clock_fields(kind, data[TEMPLATE])
        if not clock:
            continue
        key, params = _reading(kind, clock, data, opened_at, now, config_params)
        try:
            if key in cache:
                continue
        except TypeError:              # not a plain value: read_message computes it alone
            continue
        assert key is not None
        group = (kind, clock, params["now"], tuple(type(v).__name__ for v in key[3]))
        groups.setdefault(group, {})[key] = data
        params_of[group] = params
    for group, by_key in groups.items():
        keys = list(by_key)
        for start in range(0, len(keys), PREFETCH_ROWS):
            part = keys[start:start + PREFETCH_ROWS]
            for k, values in zip(part, derived.read_values_many(store, group[0], [by_key[k] for k in part],
                                                                group[1], params_of[group])):
                cache[k] = values


@functools.cache
def default_params() -> dict[str, Any]:
    """checker.derived.params of the default config (a store no scan has recorded its config in)."""
    return derived.params(Config())


@functools.lru_cache(maxsize=256)
def _needs(kind: str, clock: tuple[str, ...]) -> tuple[str, ...]:
    """The stored facts the clock-moving fields are computed from (all read_values reads of them)."""
    fields = [derived.get(kind, n) for n in clock]
    return tuple(sorted({c for f in fields if f is not None for c in f.needs}))


def current_messages(store: MessageRepo, rows: list[dict[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """`rows` (findings with an id and a message) with each message as read at `now` (None: as
    written), its figures computed with the config the scan recorded (store.derived_params). Changes
    the rows in place and returns them."""
    ids = [r["id"] for r in rows if r.get("id") is not None]
    if not ids or now is None:
        return rows
    cache: Cache = {}
    by_id: dict[int, list[dict[str, Any]]] = {}
    config_params = store.derived_params()
    for r in rows:
        if r.get("id") is not None:
            by_id.setdefault(r["id"], []).append(r)
    ids = list(by_id)
    for start in range(0, len(ids), RENDER_CHUNK):       # a report reads 60,000 at 1M: memory stays flat
        batch = [(found, json.loads(found["data"])) for found in store.finding_render_facts(ids[start:start + RENDER_CHUNK])]
        _prefetch(store, [(found["subject_kind"], data, found["opened_at"]) for found, data in batch],
                  now, cache, config_params)
        for found, data in batch:
            for row in by_id[found["id"]]:
                row["message"] = read_message(store, found["subject_kind"], row["message"], data,
                                              found["opened_at"], now, cache, config_params)
    return rows
