"""Read-only lookups the stages above the store ask for by name: people, orgs, supervision activity,
escalated findings, overdue cases, silences, demo tallies. With them no SQL runs in checker/ outside
this package but the scan's, the import's and the derived fields' own (docs/ARCHITECTURE.md "Store")."""
from __future__ import annotations

from typing import Any, Iterable

from .base import StoreBase


def _marks(values: list[Any]) -> str:
    return ", ".join("?" * len(values))


class LookupStore(StoreBase):

    # ------------------------------------------------------------ people and orgs
    def officers_by_telegram(self, telegram_id: int) -> list[dict[str, Any]]:
        """The officers bound to a Telegram user (by id)."""
        return self.rows("SELECT * FROM officers WHERE telegram_id = ? ORDER BY id", (int(telegram_id),))

    def officer_ids_with_roles(self, roles: Iterable[str]) -> list[str]:
        roles = list(roles)
        return [r["id"] for r in self.rows(f"SELECT id FROM officers WHERE role IN ({_marks(roles)}) ORDER BY id",
                                           roles)]

    def org_code_prefixes(self) -> list[str]:
        """The distinct first two characters of the org codes (a GB/T 2260 province)."""
        return [r["p"] for r in self.rows("SELECT DISTINCT substr(code, 1, 2) AS p FROM orgs")]

    def orgs_at_level(self, level: str) -> list[dict[str, Any]]:
        """{code, name} of the orgs of one level, by code."""
        return self.rows("SELECT code, name FROM orgs WHERE level = ? ORDER BY code", (level,))

    def org_codes_at_levels(self, levels: Iterable[str], third_party_only: bool = False) -> list[str]:
        """Codes of the orgs of these levels (optionally only those that commission third parties)."""
        levels = list(levels)
        sql = f"SELECT code FROM orgs WHERE level IN ({_marks(levels)})"
        if third_party_only:
            sql += " AND commissions_third_party = 1"
        return [r["code"] for r in self.rows(sql + " ORDER BY code", levels)]

    # ------------------------------------------------------------ supervision activity and inspections
    def supervision_dates(self, kinds: list[str], since: str, until: str) -> list[dict[str, Any]]:
        """{org, date} of the supervisions of these kinds dated in [since, until]."""
        return self.rows(f"SELECT org, date FROM supervisions WHERE kind IN ({_marks(kinds)}) AND date >= ? AND date <= ?",
                         [*kinds, since, until])

    def last_supervision_dates(self, kinds: list[str], until: str) -> dict[str, str]:
        """org → the date of its latest supervision of these kinds up to `until`."""
        return {r["org"]: r["last"] for r in self.rows(
            f"SELECT org, MAX(date) AS last FROM supervisions WHERE kind IN ({_marks(kinds)}) AND date <= ? GROUP BY org",
            [*kinds, until])}

    def first_inspections(self, checks: list[str]) -> dict[tuple[str, str], str]:
        """(org, check) → the date of its first inspection record."""
        return {(r["org"], r["check"]): r["first"] for r in self.rows(
            f'SELECT org, "check", MIN(date) AS first FROM inspections WHERE "check" IN ({_marks(checks)}) '
            'GROUP BY org, "check"', checks)}

    def inspection_days(self, checks: list[str], since: str, before: str) -> set[tuple[str, str, str]]:
        """(org, check, date) of the inspection records dated in [since, before)."""
        return {(r["org"], r["check"], r["date"]) for r in self.rows(
            f'SELECT org, "check", date FROM inspections WHERE "check" IN ({_marks(checks)}) AND date >= ? AND date < ?',
            [*checks, since, before])}

    # ------------------------------------------------------------ casework, silences, the demo
    def overdue_open_cases(self, before: str, handler: str | None = None) -> list[dict[str, Any]]:
        """Accepted or processing cases due before `before`, with the item's and the handler's names."""
        sql = ("SELECT c.case_no, c.item_code, c.org, c.hall, c.handler, c.accepted_at, c.due_at, c.status, "
               "i.name AS item_name, o.name AS handler_name FROM cases c LEFT JOIN items i ON i.code = c.item_code "
               "LEFT JOIN officers o ON o.id = c.handler WHERE c.status IN ('accepted', 'processing') "
               "AND c.due_at IS NOT NULL AND c.due_at < ?")
        params: list[str] = [before]
        if handler is not None:
            sql, params = sql + " AND c.handler = ?", [*params, handler]
        return self.rows(sql, params)

    def latest_open_case_due(self) -> str | None:
        """The latest deadline of the open cases (accepted, processing, suspended), or None."""
        due: str | None = self.scalar("SELECT MAX(due_at) FROM cases WHERE status IN ('accepted', 'processing', 'suspended')")
        return due

    def escalated_finding_ids(self) -> set[int]:
        return {r["id"] for r in self.rows("SELECT id FROM findings WHERE escalation_level >= 1")}

    def all_silences(self) -> list[dict[str, Any]]:
        """Every silence, in force or not, by id."""
        return self.rows("SELECT * FROM silences ORDER BY id")

    def case_status_counts(self) -> dict[str, int]:
        return {r["status"]: r["n"] for r in self.rows("SELECT status, count(*) AS n FROM cases GROUP BY status")}

    def open_findings_by_clause(self) -> list[dict[str, Any]]:
        """{standard, clause, severity, n} of the findings not resolved or verified, most first per standard."""
        return self.rows("""SELECT standard, clause, severity, count(*) AS n FROM findings
                            WHERE status NOT IN ('resolved', 'verified') GROUP BY standard, clause, severity
                            ORDER BY standard, n DESC""")
