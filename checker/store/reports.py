"""SQL of the periodic reports, the survey tabulation and the efficacy index inputs.

Scope: `org=None` means every org; an org code means that org and every org below it.
Period bounds are ISO date strings (start inclusive, end exclusive), compared as strings with the
stored local-time ISO datetimes, as docs/ARCHITECTURE.md fixes.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from ..ingest import derived
from ..ingest.records import OPEN_CASE_STATUSES
from .base import StoreBase
from .findings import org_out

_SUBTREE = ("(WITH RECURSIVE sub(code) AS (SELECT ? UNION SELECT o.code FROM orgs o "
            "JOIN sub ON o.parent = sub.code) SELECT code FROM sub)")
_DONE_FINDING = "('verified', 'resolved')"
# Past its rectification deadline at `now` (the one placeholder): a due_at set and before it, compared
# as strings like everything here.
_OVERDUE_FINDING = "(due_at IS NOT NULL AND due_at != '' AND due_at < ?)"


def _indicator_snapshots(conn: sqlite3.Connection) -> None:
    # The item-based P1–P4, P6 as they stood for a period (items change; their history is not kept):
    # written the first time a report covers the period, read by later reports as 上期 / 本期.
    conn.execute("""CREATE TABLE indicator_snapshots (period TEXT NOT NULL, org TEXT NOT NULL,
        rule TEXT NOT NULL, code TEXT, numerator REAL, denominator REAL, value REAL, passed INTEGER,
        taken_at TEXT NOT NULL, PRIMARY KEY (period, org, rule))""")


def _overdue_sql(page: str, where: str, tail: str) -> str:
    """ReportStore.overdue_cases_at's statement: an ordered (and limited) read per open status, merged."""
    each = [f"""SELECT * FROM (SELECT c.case_no, c.item_code, c.org, c.handler, c.accepted_at, c.due_at, c.status
            FROM cases c WHERE c.status = ? AND c.due_at IS NOT NULL AND c.due_at < ? {page} AND {where}
            ORDER BY c.due_at, c.case_no {tail}) AS s{n}""" for n in range(len(OPEN_CASE_STATUSES))]
    return f"""SELECT s.case_no, s.item_code, i.name AS item_name, s.org, s.handler, s.accepted_at, s.due_at, s.status
        FROM ({" UNION ALL ".join(each)}) AS s LEFT JOIN items i ON i.code = s.item_code
        ORDER BY s.due_at, s.case_no {tail}"""


def scope_sql(column: str, org: str | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE fragment restricting `column` to an org's subtree (or nothing when org is None)."""
    if org is None:
        return "1 = 1", ()
    return f"{column} IN {_SUBTREE}", (org,)


class ReportStore(StoreBase):
    """Read-only queries for checker.reports, checker.evaluate.surveys and checker.reports.index."""

    # ------------------------------------------------------------ orgs
    def org_names(self) -> dict[str, str]:
        return {r["code"]: r["name"] for r in self.rows("SELECT code, name FROM orgs")}

    def orgs_for_index(self, levels: tuple[str, ...] = (), codes: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The orgs an index ranks: named codes, else orgs of the given levels, else the children of
        the root orgs (or the roots when there is only one level)."""
        if codes:
            marks = ",".join("?" * len(codes))
            return self.rows(f"SELECT code, name, level FROM orgs WHERE code IN ({marks}) ORDER BY code", codes)
        if levels:
            marks = ",".join("?" * len(levels))
            return self.rows(f"SELECT code, name, level FROM orgs WHERE level IN ({marks}) ORDER BY code", levels)
        found = self.rows("SELECT code, name, level FROM orgs WHERE parent IN "
                          "(SELECT code FROM orgs WHERE parent IS NULL OR parent = '') ORDER BY code")
        return found or self.rows("SELECT code, name, level FROM orgs ORDER BY code")

    def root_orgs(self) -> list[str]:
        """Orgs with no parent (the top of the tree)."""
        return [r["code"] for r in self.rows("SELECT code FROM orgs WHERE parent IS NULL OR parent = '' ORDER BY code")]

    def child_orgs(self, org: str | None) -> list[dict[str, Any]]:
        """Direct children of an org, or the top-level orgs' children when org is None."""
        if org is None:
            return self.orgs_for_index()
        return self.rows("SELECT code, name, level FROM orgs WHERE parent = ? ORDER BY code", (org,))

    # ------------------------------------------------------------ indicator snapshots
    def indicator_snapshot(self, period: str) -> dict[tuple[str, str], dict[str, Any]]:
        """{(org, rule): row} of the item-based indicators saved for a period ({} when none)."""
        return {(r["org"], r["rule"]): r for r in self.rows(
            "SELECT * FROM indicator_snapshots WHERE period = ?", (period,))}

    def save_indicator_snapshot(self, period: str, rows: list[dict[str, Any]], taken_at: str) -> int:
        """Keep the first snapshot of a period (INSERT OR IGNORE); returns the rows written."""
        with self.transaction() as conn:
            cur = conn.executemany(
                "INSERT OR IGNORE INTO indicator_snapshots (period, org, rule, code, numerator, denominator, value, "
                "passed, taken_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(period, r["org"], r["rule"], r["code"], r["numerator"], r["denominator"], r["value"],
                  None if r["passed"] is None else int(bool(r["passed"])), taken_at) for r in rows])
        return int(cur.rowcount)

    def officer_names(self) -> dict[str, str]:
        return {r["id"]: r["name"] for r in self.rows("SELECT id, name FROM officers")}

    # ------------------------------------------------------------ index inputs
    def metric_rows(self, org: str, metric: str) -> list[dict[str, Any]]:
        """Every imported value of one metric for one org: [{period, value}]."""
        return self.rows("SELECT period, value FROM metrics WHERE org = ? AND metric = ? ORDER BY period",
                         (org, metric))

    def overdue_case_counts(self, org: str | None, start: str, end: str, now: str) -> tuple[int, int]:
        """(late, all) cases accepted in the period; late is checker.ingest.derived's `late` (concluded after
        the deadline, or running past it at `now`; a suspended case is not late), the reading of P5.
        Withdrawn cases count nowhere."""
        where, params = scope_sql("org", org)
        late = derived.sql_expression("cases", "late")
        assert late is not None                       # a derived field of cases (checker/ingest/derived.py)
        r = self.rows(f"""SELECT count(*) AS total, coalesce(sum(CASE WHEN {late.replace(":now", "?")} = 1
                THEN 1 ELSE 0 END), 0) AS late
            FROM cases WHERE status != 'withdrawn' AND accepted_at >= ? AND accepted_at < ? AND {where}""",
                     (*[now] * late.count(":now"), start, end, *params))[0]     # an aggregate: one row
        return int(r["late"]), int(r["total"])

    def online_depths(self, org: str | None) -> list[int]:
        """网办深度 (1–4, 0 when unknown) of the in-scope items of an org's subtree."""
        where, params = scope_sql("org", org)
        return [r["d"] for r in self.rows(
            f"SELECT coalesce(online_depth, 0) AS d FROM items WHERE in_scope = 1 AND {where}", params)]

    # ------------------------------------------------------------ findings
    def findings_opened(self, org: str | None, start: str, end: str) -> list[dict[str, Any]]:
        """Findings first opened in the period (by clause, severity, org …)."""
        where, params = scope_sql("org", org)
        return self.rows(f"""SELECT id, rule, clause, standard, kind, subject, {org_out()} AS org, severity, status,
                message, assignee, opened_at, due_at, verified_at, rebound_count
            FROM findings WHERE opened_at >= ? AND opened_at < ? AND {where}
            ORDER BY opened_at, id""", (start, end, *params))

    def findings_open_at(self, org: str | None, now: str) -> list[dict[str, Any]]:
        """Findings not closed at `now` (open, acknowledged, submitted, rejected)."""
        where, params = scope_sql("org", org)
        return self.rows(f"""SELECT id, rule, clause, standard, subject, {org_out()} AS org, severity, status, message,
                assignee, opened_at, due_at, rebound_count
            FROM findings WHERE status NOT IN {_DONE_FINDING} AND opened_at <= ? AND {where}
            ORDER BY due_at IS NULL, due_at, id""", (now, *params))

    def findings_overdue_at(self, org: str | None, now: str) -> list[dict[str, Any]]:
        """Findings not closed at `now` and past their rectification deadline (findings_open_at's rows
        with a `due_at` before `now`, in its order)."""
        where, params = scope_sql("org", org)
        return self.rows(f"""SELECT id, rule, clause, standard, subject, {org_out()} AS org, severity, status, message,
                assignee, opened_at, due_at, rebound_count
            FROM findings WHERE status NOT IN {_DONE_FINDING} AND opened_at <= ? AND {_OVERDUE_FINDING} AND {where}
            ORDER BY due_at IS NULL, due_at, id""", (now, now, *params))

    def open_finding_counts(self, org: str | None, now: str) -> list[dict[str, Any]]:
        """The findings of findings_open_at counted in SQL (a report needs no open finding one by one):
        [{org, standard, clause, status, overdue (1: due before `now`), n}], in a fixed order."""
        where, params = scope_sql("org", org)
        return self.rows(f"""SELECT * FROM (SELECT {org_out()} AS org, standard, clause, status,
                CASE WHEN {_OVERDUE_FINDING} THEN 1 ELSE 0 END AS overdue, count(*) AS n
            FROM findings WHERE status NOT IN {_DONE_FINDING} AND opened_at <= ? AND {where}
            GROUP BY 1, 2, 3, 4, 5) g ORDER BY org IS NULL, org, standard, clause, status, overdue""",
                         (now, now, *params))

    def finding_events_in(self, org: str | None, start: str, end: str, actions: tuple[str, ...]) -> list[dict[str, Any]]:
        """Audit-trail events of some actions in the period, with their finding (复查 results, rebounds)."""
        where, params = scope_sql("f.org", org)
        marks = ",".join("?" * len(actions))
        return self.rows(f"""SELECT e.id, e.finding_id, e.at, e.actor, e.action, e.note,
                f.rule, f.clause, f.standard, f.subject, {org_out("f.org")} AS org, f.severity, f.message, f.due_at
            FROM finding_events e JOIN findings f ON f.id = e.finding_id AND f.org = e.org
            WHERE e.action IN ({marks}) AND e.at >= ? AND e.at < ? AND {where}
            ORDER BY e.at, e.id""", (*actions, start, end, *params))

    # ------------------------------------------------------------ cases, evaluations, surveys
    def overdue_cases_at(self, org: str | None, now: str, after: tuple[str, str] | None = None,
                         limit: int | None = None) -> list[dict[str, Any]]:
        """Open cases past their deadline at `now` (超期未办结), oldest deadline first (then by case_no).
        A page of them: `limit` rows after the (due_at, case_no) `after` (the last row of the previous page).
        Read per open status, each in deadline order by the status index from `after` on and stopped
        at `limit`, then merged: a page reads about its own rows. (With the statuses in one IN list,
        every page read and sorted all the overdue cases after it, PostgreSQL all of them: a bulletin
        paging through 322,000 overdue cases at 10M grew with their square.)"""
        where, params = scope_sql("c.org", org)
        page, page_params = "", ()        # type: tuple[str, tuple[Any, ...]]
        if after is not None:
            page = "AND c.due_at >= ? AND (c.due_at > ? OR (c.due_at = ? AND c.case_no > ?))"
            page_params = (after[0], after[0], *after)
        tail, tail_params = ("LIMIT ?", (limit,)) if limit is not None else ("", ())
        bound = [v for status in OPEN_CASE_STATUSES for v in (status, now, *page_params, *params, *tail_params)]
        return self.rows(_overdue_sql(page, where, tail), (*bound, *tail_params))

    def case_counts(self, org: str | None, start: str, end: str) -> dict[str, Any]:
        """Cases accepted / concluded in the period, by channel."""
        where, params = scope_sql("org", org)
        return self.rows(f"""SELECT count(*) AS accepted,
                coalesce(sum(status IN ('closed', 'rejected') AND closed_at IS NOT NULL), 0) AS concluded,
                coalesce(sum(channel = 'online'), 0) AS online
            FROM cases WHERE status != 'withdrawn' AND accepted_at >= ? AND accepted_at < ? AND {where}""",
                         (start, end, *params))[0]                   # an aggregate: one row

    def case_counts_by_org(self, start: str, end: str) -> dict[str, int]:
        """Cases accepted in the period per org (its own, not its subtree's): case_counts' `accepted`
        of a subtree is the sum over its orgs."""
        return {r["org"]: r["accepted"] for r in self.rows(
            """SELECT org, count(*) AS accepted FROM cases
               WHERE status != 'withdrawn' AND accepted_at >= ? AND accepted_at < ? AND org IS NOT NULL
               GROUP BY org""", (start, end))}

    def poor_evaluations(self, org: str | None, start: str, end: str, max_level: int = 2) -> list[dict[str, Any]]:
        """差评 (level ≤ max_level) in the period, with their comments."""
        where, params = scope_sql("org", org)
        return self.rows(f"""SELECT id, case_no, org, channel, level, evaluated_at, rectified_at, comment
            FROM evaluations WHERE level <= ? AND evaluated_at >= ? AND evaluated_at < ? AND {where}
            ORDER BY evaluated_at, id""", (max_level, start, end, *params))

    def disclosures_in(self, org: str | None, start: str, end: str) -> list[dict[str, Any]]:
        """政务公开 records formed (or requests received) in the period (DB50/T 957.7 §3.3)."""
        where, params = scope_sql("org", org)
        return self.rows(f"""SELECT id, org, info_title, category, formed_at, published_at, extended
            FROM disclosures WHERE formed_at >= ? AND formed_at < ? AND {where}
            ORDER BY formed_at, id""", (start, end, *params))

    def evaluation_count(self, org: str | None, start: str, end: str) -> int:
        where, params = scope_sql("org", org)
        return int(self.scalar(f"SELECT count(*) FROM evaluations WHERE evaluated_at >= ? AND evaluated_at < ? "
                               f"AND {where}", (start, end, *params)))

    def survey_rows(self, org: str | None, start: str, end: str) -> list[dict[str, Any]]:
        where, params = scope_sql("org", org)
        return self.rows(f"SELECT * FROM surveys WHERE date >= ? AND date < ? AND {where} ORDER BY date, id",
                         (start, end, *params))

    def complaint_counts(self, org: str | None, start: str, end: str) -> dict[str, Any]:
        where, params = scope_sql("org", org)
        return self.rows(f"""SELECT count(*) AS received, coalesce(sum(valid = 1), 0) AS valid,
                coalesce(sum(valid = 1 AND rectified_at IS NOT NULL), 0) AS rectified
            FROM complaints WHERE received_at >= ? AND received_at < ? AND {where}""", (start, end, *params))[0]
