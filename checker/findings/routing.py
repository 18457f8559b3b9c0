"""Who is responsible for a finding: the assignee (责任人) and the supervisor above them.

Order: a config override (`routing.overrides`, the first whose rule and org match; an override's
org matches that org and every org below it), else by the rule's `responsible`:
- handler (default): the case's handler when it names an existing officer, else as `org`;
- org: an officer of the org (role officer, lowest id), else of the nearest ancestor that has one;
- supervisor: the org's supervisor;
- admin: an admin of the org or above, else any admin (govwatch's own findings, e.g. a missing 调休 year).
With nobody found the supervisor is responsible. The supervisor is the org's own supervisor or
the nearest ancestor's, and never the assignee themself when another one exists higher up.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from ..config import Config
from ..rules.model import Rule
from .repo import DirectoryRepo

T = TypeVar("T")


def assign(store: DirectoryRepo, cfg: Config, rule: Rule, org: str | None, handler: str | None) -> tuple[str | None, str | None]:
    """(assignee officer id, supervisor officer id) for a finding of `rule` on `org`."""
    chain = [org, *store.org_ancestors(org)] if org else []
    assignee = (_override(cfg, rule, chain) or _responsible(store, rule, chain, handler)
                or _first(store, chain, "supervisor"))
    return assignee, _supervisor(store, chain, avoid=assignee)


def _override(cfg: Config, rule: Rule, chain: list[str]) -> str | None:
    for o in cfg.routing.overrides:
        if (o.rule is None or o.rule == rule.id) and (o.org is None or o.org in chain):
            return o.assignee
    return None


def _responsible(store: DirectoryRepo, rule: Rule, chain: list[str], handler: str | None) -> str | None:
    how = rule.responsible or "handler"
    if how == "supervisor":
        return _first(store, chain, "supervisor")
    if how == "admin":
        return _first(store, chain, "admin") or next((o["id"] for o in store.officers_with_role("admin")), None)
    if how == "handler" and handler and store.get("officers", str(handler)):
        return str(handler)
    return _first(store, chain, "officer")


def _first(store: DirectoryRepo, chain: list[str], role: str) -> str | None:
    """The lowest-id officer of `role` in the first org of the chain that has one."""
    for code in chain:
        found = store.officers_of(code, role)
        if found:
            return str(found[0]["id"])
    return None


def _supervisor(store: DirectoryRepo, chain: list[str], avoid: str | None) -> str | None:
    """The nearest supervisor along the chain other than `avoid`; `avoid` only if none else."""
    fallback = None
    for code in chain:
        for officer in store.officers_of(code, "supervisor"):
            if officer["id"] != avoid:
                return str(officer["id"])
            fallback = fallback or officer["id"]
    return fallback


class CachedDirectory:
    """A DirectoryRepo whose reads are remembered: one reconcile routes thousands of findings through
    a few hundred orgs and officers, so each org's ancestors and officers are read once, not once a
    finding (on PostgreSQL a round trip each: 4,600 of them, 0.5 s of a 100,000-case full rescan).
    For the span of one reconcile, during which the directory does not change."""

    def __init__(self, store: DirectoryRepo):
        self.store = store
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _once(self, key: tuple[Any, ...], fetch: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = fetch()
        value: T = self._memo[key]
        return value

    def get(self, kind: str, key: str | tuple[str, ...]) -> dict[str, Any] | None:
        return self._once(("get", kind, key), lambda: self.store.get(kind, key))

    def officers_of(self, org: str, role: str | None = None) -> list[dict[str, Any]]:
        return self._once(("officers_of", org, role), lambda: self.store.officers_of(org, role))

    def officers_with_role(self, role: str) -> list[dict[str, Any]]:
        return self._once(("officers_with_role", role), lambda: self.store.officers_with_role(role))

    def org_ancestors(self, code: str) -> list[str]:
        return self._once(("org_ancestors", code), lambda: self.store.org_ancestors(code))

    def org_subtree(self, code: str) -> list[str]:
        return self._once(("org_subtree", code), lambda: self.store.org_subtree(code))

    def officers_by_telegram(self, telegram_id: int) -> list[dict[str, Any]]:
        return self.store.officers_by_telegram(telegram_id)
