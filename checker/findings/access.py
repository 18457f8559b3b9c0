"""Who may see and act on which findings.

- officer (窗口人员): the findings assigned to them, and only those;
- supervisor (监管人员): every finding of their org and the orgs below it, plus any assigned to
  them; they verify (复查) rectifications in that scope, but never their own submission;
- admin: everything.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import NotFound
from .repo import DirectoryRepo

ACTIONS = ("ack", "submit", "verify")


@dataclass(frozen=True)
class Scope:
    officer_id: str
    role: str                            # officer / supervisor / admin
    org: str
    org_codes: frozenset[str] | None     # orgs whose findings are visible; None = all (admin)
    name: str = ""

    @classmethod
    def for_officer(cls, store: DirectoryRepo, officer_id: str) -> "Scope":
        """The scope of an officer id (工号); NotFound when nobody has it."""
        officer = store.get("officers", str(officer_id))
        if officer is None:
            raise NotFound(f"未找到工号为 {officer_id} 的人员")
        return cls._of(store, officer)

    @classmethod
    def for_telegram(cls, store: DirectoryRepo, telegram_id: int) -> "Scope | None":
        """The scope of the officer bound to a Telegram user, or None for strangers."""
        found = store.officers_by_telegram(telegram_id)
        return cls._of(store, found[0]) if found else None

    @classmethod
    def _of(cls, store: DirectoryRepo, officer: dict[str, Any]) -> "Scope":
        role = officer["role"]
        orgs = None if role == "admin" else frozenset(store.org_subtree(officer["org"]))
        if role == "officer":
            orgs = frozenset()
        return cls(officer["id"], role, officer["org"], orgs, officer.get("name") or "")

    @property
    def sees_all(self) -> bool:
        return self.org_codes is None

    def covers_org(self, org: str | None) -> bool:
        """True when the org is within this scope's orgs (admins cover every org)."""
        return self.org_codes is None or (org is not None and org in self.org_codes)

    def can_see(self, finding: dict[str, Any]) -> bool:
        return finding.get("assignee") == self.officer_id or self.covers_org(finding.get("org"))

    def can_act(self, finding: dict[str, Any], action: str) -> bool:
        """ack / submit: whoever can see it; verify: a supervisor or admin covering its org."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        if action == "verify":
            return self.role in ("supervisor", "admin") and self.covers_org(finding.get("org"))
        return self.can_see(finding)

    def query_filter(self) -> dict[str, Any]:
        """Keyword arguments of store.query_findings that restrict a listing to this scope."""
        if self.sees_all:
            return {}
        if self.role == "officer":
            return {"assignee": self.officer_id}
        return {"assignee": self.officer_id, "scope_orgs": self.org_codes}
