"""The parsed rule packs: frozen dataclasses made once by the loader.

Conditions are trees of All / Any / Leaf nodes. Each node is also a read-only mapping with the
same shape as the YAML it came from ({"all": [...]}, {"field": "status", "in": [...]}, a param
reference as {"param": NAME}), so code that walks the YAML form keeps working.
"""
from __future__ import annotations

import typing

from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace, dataclass, field
from typing import Literal, overload


@dataclass(frozen=True)
class Param:
    """A reference to a rule parameter: {param: near_days}."""
    name: str


class _Node(Mapping[str, typing.Any]):
    """Read-only mapping view; equal to the plain YAML form it came from."""

    def _view(self) -> dict[str, typing.Any]:
        raise NotImplementedError          # each node kind's YAML form

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and _tree(self) == _tree(other)

    def __hash__(self) -> int:
        return hash(repr(_tree(self)))

    def __getitem__(self, key: str) -> typing.Any:
        return self._view()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._view())

    def __len__(self) -> int:
        return len(self._view())


@dataclass(frozen=True, eq=False)
class Leaf(_Node):
    field: str
    op: str
    value: object           # a constant, a tuple of constants (in / not_in) or a Param
    line: int = 0

    def _view(self) -> dict[str, typing.Any]:
        return {"field": self.field, self.op: _plain(self.value)}


@dataclass(frozen=True, eq=False)
class All(_Node):
    items: tuple[Condition, ...]  # type: ignore[assignment]   # the YAML key; the node is also a Mapping
    line: int = 0

    def _view(self) -> dict[str, typing.Any]:
        return {"all": list(self.items)}


@dataclass(frozen=True, eq=False)
class Any(_Node):
    items: tuple[Condition, ...]  # type: ignore[assignment]   # the YAML key; the node is also a Mapping
    line: int = 0

    def _view(self) -> dict[str, typing.Any]:
        return {"any": list(self.items)}


Condition = Leaf | All | Any


def _tree(node: object) -> typing.Any:
    """A condition as plain dicts and lists."""
    if isinstance(node, Mapping):
        return {k: _tree(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_tree(v) for v in node]
    return node


def _plain(value: object) -> typing.Any:
    if isinstance(value, Param):
        return {"param": value.name}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def leaves(cond: Condition | None) -> list[Leaf]:
    """Every leaf of a condition tree, in order."""
    if cond is None:
        return []
    if isinstance(cond, Leaf):
        return [cond]
    return [leaf for item in cond.items for leaf in leaves(item)]


@dataclass(frozen=True)
class Pack:
    number: str              # "DB33/T 2036.7"
    title: str
    version: str
    short: str               # db33
    path: str                # the pack folder
    clauses: tuple[str, ...] = ()      # clause ids listed in coverage.yaml


SEVERITIES = ("red", "yellow", "blue")
RESPONSIBLE = ("handler", "org", "supervisor")      # who gets the finding (checker.findings.routing)


@dataclass(frozen=True, eq=False)
class Rule:
    """Fields of every kind; the kind-specific fields live on the subclasses below."""
    id: str
    kind: str
    clause: str
    title: str
    severity: str
    responsible: str
    message: str
    standard: str            # the pack's standard number
    pack: str                # the pack's short name
    params: dict[str, typing.Any] = field(default_factory=dict)
    enabled: bool = True
    rectify_days: int | None = None
    file: str = ""
    line: int = 0

    @property
    def citation(self) -> str:
        return f"{self.standard} §{self.clause}"


@dataclass(frozen=True, eq=False)
class RecordRule(Rule):
    record: str = ""
    when: Condition | None = None


@dataclass(frozen=True, eq=False)
class IndicatorRule(Rule):
    code: str = ""
    source: str = ""
    where: Condition | None = None
    numerator: Condition | None = None
    measure: object = "count"                 # "count" or {"sum": FIELD}
    denominator_measure: object = None
    target: dict[str, typing.Any] = field(default_factory=dict)
    period_field: str | None = None


@dataclass(frozen=True)
class Check:
    id: str
    title: str


@dataclass(frozen=True, eq=False)
class ChecklistRule(Rule):
    checks: tuple[Check, ...] = ()
    levels: tuple[str, ...] = ()
    max_age_days: int | None = None
    every_working_day: bool = False           # DB50/T 957.7 §5.1 d): a record each working day
    lookback_working_days: int | None = None

    @property
    def scope(self) -> dict[str, typing.Any]:
        return {"levels": list(self.levels)}


@dataclass(frozen=True, eq=False)
class CadenceRule(Rule):
    activity: str | tuple[str, ...] = ""                # one kind, or a tuple of kinds any of which counts
    every: dict[str, int] = field(default_factory=dict)  # {"months": 3} / {"years": 2} / {"days": 7}: calendar periods
    levels: tuple[str, ...] = ()
    period_anchor_year: int | None = None      # {years: N} periods start in this year (+ k·N); default 2000
    applies_to: str | None = None              # third_party_commissioned: only orgs marked 委托第三方

    @property
    def scope(self) -> dict[str, typing.Any]:
        return {"levels": list(self.levels)}


@dataclass(frozen=True, eq=False)
class RuleBook:
    packs: tuple[Pack, ...]
    rules: tuple[Rule, ...]
    source: str = ""
    declared: frozenset[str] = frozenset()     # every rule id written in the files, loadable or not

    @property
    def version(self) -> str:
        return "+".join(f"{p.short}@{p.version}" for p in self.packs)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @overload
    def of_kind(self, kind: Literal["record"]) -> list[RecordRule]: ...
    @overload
    def of_kind(self, kind: Literal["indicator"]) -> list[IndicatorRule]: ...
    @overload
    def of_kind(self, kind: Literal["checklist"]) -> list[ChecklistRule]: ...
    @overload
    def of_kind(self, kind: Literal["cadence"]) -> list[CadenceRule]: ...
    @overload
    def of_kind(self, kind: str) -> list[Rule]: ...

    def of_kind(self, kind: str) -> list[typing.Any]:
        return [r for r in self.rules if r.kind == kind and r.enabled]

    def only(self, shorts: Collection[str] | None) -> "RuleBook":
        """The book restricted to the packs named (by short name); None keeps every pack."""
        if shorts is None:
            return self
        missing = sorted(set(shorts) - {p.short for p in self.packs})
        if missing:
            raise KeyError(", ".join(missing))
        return replace(self, packs=tuple(p for p in self.packs if p.short in shorts),
                       rules=tuple(r for r in self.rules if r.pack in shorts))
