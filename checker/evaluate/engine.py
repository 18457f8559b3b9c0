"""The durable-rules engine: one Host per process, one ruleset per record rule.

durable-rules consumes an event with the first rule that matches, so each rule gets its own
ruleset, plus a low-priority sink that matches every event we post (so a batch never raises
MessageNotHandled). A Host never frees a ruleset, so names are versioned, `<rule id>@<version>#<n>`,
and a reload registers fresh ones. Events carry unique, increasing ids (durable-rules drops a
repeated id, and its fact identity is a 32-bit hash): our identity is the subject in our store.
Actions only collect matches; an exception inside one is swallowed by durable-rules into the
session state, so every batch is followed by a check of `get_state(...)['exception']`.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from durable import engine as dr

from ..rules import compiler

if TYPE_CHECKING:
    from ..rules.model import RecordRule, RuleBook

Event = dict[str, Any]          # a record's values, as the engine is given them

BATCH = 1000
SID = "0"


class _Host(dr.Host):  # type: ignore[misc]   # durable-rules ships no type information
    """A Host without its background dispatch threads. Measured here: the stock Host's timer thread
    runs pending actions concurrently with a synchronous post_batch and matches go missing (25,000
    expected, ~19,000 collected over 50 batches). We never use durable-rules timers, so every
    action runs inside post_batch, on the caller's thread."""

    def _run(self) -> None:
        return None


class EngineError(RuntimeError):
    """durable-rules failed (an action raised, or a ruleset could not be created)."""


@dataclass(frozen=True)
class Compiled:
    rule_id: str
    ruleset: str             # the versioned ruleset name
    record: str              # the record kind it evaluates


class Engine:
    """The process-wide durable-rules Host and the rulesets of the loaded rule book."""

    _instance: "Engine | None" = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self.host = _Host()
        self._loads = itertools.count(1)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._matches: dict[str, list[int]] = {}
        self.compiled: dict[str, Compiled] = {}
        self.rulebook: RuleBook | None = None

    @classmethod
    def instance(cls) -> "Engine":
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    # -------------------------------------------------------------------- loading

    def load(self, rulebook: RuleBook) -> None:
        """Compile every enabled record rule into a fresh versioned ruleset, then swap (all or nothing)."""
        with self._lock:
            n = next(self._loads)
            versions = {p.short: p.version for p in rulebook.packs}
            built = {r.id: self._build(r, versions.get(r.pack, "0"), n) for r in rulebook.of_kind("record")}
            self.compiled, self.rulebook = built, rulebook

    def ensure(self, rulebook: RuleBook) -> None:
        """Load `rulebook` unless it is the one loaded."""
        if self.rulebook is not rulebook:
            self.load(rulebook)

    def _build(self, rule: RecordRule, version: str, n: int) -> Compiled:
        name = f"{rule.id}@{version}#{n}"
        definition = compiler.ruleset(rule)
        definition["fire"]["run"] = self._collector(name)
        definition["sink"]["run"] = _ignore
        for rule_name in ("fire", "sink"):       # one action call per up to BATCH matches, not per event:
            definition[rule_name]["cap"] = BATCH  # 4.5x faster posts (bench/: the action round trip dominated)
        try:
            self.host.register_rulesets({name: definition})
        except Exception as exc:          # the C engine refuses a definition
            raise EngineError(f"规则 {rule.id} 无法编译为 durable-rules 规则集：{exc}") from exc
        return Compiled(rule.id, name, rule.record)

    def _collector(self, name: str) -> Callable[[Any], None]:
        matches = self._matches.setdefault(name, [])

        def collect(c: Any) -> None:           # a durable-rules action context
            found = c.m if isinstance(c.m, list) else [c.m]      # with `cap`, a list of matched events
            matches.extend(m["_eid"] for m in found)
        return collect

    # -------------------------------------------------------------------- evaluating

    def evaluate(self, rule_ids: Iterable[str], events: list[Event]) -> list[tuple[str, int]]:
        """Post `events` (dicts of plain values without None) to each rule's ruleset in batches.
        Returns (rule id, index of the matching event) pairs, by rule then index.

        Every ruleset matches one event at a time (no joins, no state), so equal events get equal
        answers: each distinct event is posted once and its matches fan out to the events equal to
        it. Events carry only the fields the conditions read, so a daily scan's tens of thousands
        of records make a few hundred distinct events."""
        distinct, members = _distinct(events)
        out: list[tuple[str, int]] = []
        with self._lock:
            # Tagged once, posted to every rule's ruleset: ids are unique within each ruleset, which is
            # all durable-rules needs (it drops an id it has seen), and `_eid` maps a match back.
            tagged = [{**event, "id": next(self._ids), "_eid": i, compiler.EVENT_MARK: 1}
                      for i, event in enumerate(distinct)]
            for rule_id in rule_ids:
                hits = sorted(i for d in self._run(self.compiled[rule_id], tagged) for i in members[d])
                out += [(rule_id, i) for i in hits]
        return out

    def _run(self, compiled: Compiled, tagged: list[Event]) -> list[int]:
        matches = self._matches[compiled.ruleset]
        matches.clear()
        for start in range(0, len(tagged), BATCH):
            self.host.post_batch(compiled.ruleset, tagged[start:start + BATCH])
            self._raise_swallowed(compiled)
        found = sorted(matches)
        matches.clear()
        return found

    def _raise_swallowed(self, compiled: Compiled) -> None:
        state = self.host.get_state(compiled.ruleset, SID)
        if state and state.get("exception"):
            message = state["exception"]
            self.host.update_state(compiled.ruleset, {"sid": SID, "exception": None})
            raise EngineError(f"规则 {compiled.rule_id} 的动作出错：{message}")


def _ignore(c: Any) -> None:
    return None


def _distinct(events: list[Event]) -> tuple[list[Event], list[list[int]]]:
    """The distinct events, and for each the indexes of the events equal to it. Values are typed in
    the key, so True and 1 (or 1 and 1.0) stay apart as they do in the engine's JSON."""
    index: dict[tuple[tuple[str, type, Any], ...], int] = {}
    distinct: list[Event] = []
    members: list[list[int]] = []
    for i, event in enumerate(events):
        key = tuple((k, type(v), v) for k, v in event.items())
        d = index.get(key)
        if d is None:
            d = index[key] = len(distinct)
            distinct.append(event)
            members.append([])
        members[d].append(i)
    return distinct, members
