"""References between records: a case's item, an officer's org … must exist in the store or be
imported in the same run. Only the small tables' keys are kept in memory (orgs, officers, items)."""
from __future__ import annotations

from typing import Any, Protocol

from .coerce import label
from .records import KINDS, Field, RecordKind

REFERENCED = frozenset(f.ref for rk in KINDS.values() for f in rk.fields if f.ref)


class KnownRepo(Protocol):
    """What `Known` reads from the store: the referenced kinds' keys, the org tree, the items' deadline facts."""
    def org_parents(self) -> dict[str, str | None]: ...
    def record_keys(self, kind: str) -> set[Any]: ...
    def item_deadline_facts(self) -> dict[str, tuple[Any, Any, Any]]: ...


class Known:
    """Keys of referenced kinds, loaded from the store once and grown with each good row of a run."""

    def __init__(self, store: KnownRepo):
        self.store = store
        self._keys: dict[str, set[Any]] = {}
        self._items: dict[str, tuple[Any, Any, Any]] | None = None
        self._parents: dict[str, str | None] | None = None

    def parents(self) -> dict[str, str | None]:
        """org code → parent code, stored and imported in this run (the parent-loop check)."""
        if self._parents is None:
            self._parents = self.store.org_parents()
        return self._parents

    def keys(self, kind: str) -> set[Any]:
        if kind not in self._keys:
            self._keys[kind] = self.store.record_keys(kind)
        return self._keys[kind]

    def items(self) -> dict[str, tuple[Any, Any, Any]]:
        """item code → (immediate, promised_days, statutory_days): what a case's deadline needs."""
        if self._items is None:
            self._items = self.store.item_deadline_facts()
        return self._items

    def missing(self, rk: RecordKind, values: dict[str, Any]) -> list[tuple[str, str]]:
        """(field, reason) for each reference naming a record that is neither stored nor imported."""
        out: list[tuple[str, str]] = []
        for f in _ref_fields(rk):
            v = values[f.name]
            if v is not None and f.ref is not None and v not in self.keys(f.ref):
                target = KINDS[f.ref]
                out.append((f.name, f"{label(f)} {v} 不存在：{target.title}表中没有这条记录，本次导入中也没有"))
        return out

    def add(self, rk: RecordKind, values: dict[str, Any]) -> None:
        """Note an imported record, so later rows and files of the run may refer to it."""
        if rk.name in REFERENCED:
            key = tuple(values[k] for k in rk.key)
            self.keys(rk.name).add(key[0] if len(key) == 1 else key)
        if rk.name == "orgs" and self._parents is not None:
            self._parents[values["code"]] = values["parent"]
        if rk.name == "items" and self._items is not None:
            self._items[values["code"]] = (values["immediate"], values["promised_days"], values["statutory_days"])


def _ref_fields(rk: RecordKind) -> tuple[Field, ...]:
    found = _REF_FIELDS.get(rk.name)
    if found is None:
        found = _REF_FIELDS[rk.name] = tuple(f for f in rk.fields if f.ref)
    return found


_REF_FIELDS: dict[str, tuple[Field, ...]] = {}
