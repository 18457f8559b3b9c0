"""What a report says, gathered once into frozen dataclasses (no HTML here).

Sources: findings and their audit trail (DB33/T 2036.7 §8.1–8.4), overdue cases (DB50/T 957.7 §4.2 a),
the P1–P9 indicators (DB33/T 2036.7 §5.2–5.3) through checker.evaluate.indicators, surveys (§5.3.2.1) and
the efficacy index (DB50/T 957.7 §6.3).
"""
from __future__ import annotations

import dataclasses
import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Iterator, Protocol, TypeVar

from ..calendar import WorkCalendar
from ..evaluate import indicators
from ..findings.messages import current_messages
from ..config import Config
from ..periods import Period
from ..rules.model import RuleBook

if TYPE_CHECKING:
    from .model import ReportRepo

class TableRepo(indicators.IndicatorRepo, Protocol):
    """What the P1–P9 table reads and keeps (IndicatorTable): the item-based figures' snapshots of a
    period, and what checker.evaluate.indicators.compute reads (IndicatorRepo), handed the store."""
    def indicator_snapshot(self, period: str) -> dict[tuple[str, str], dict[str, Any]]: ...
    def save_indicator_snapshot(self, period: str, rows: list[dict[str, Any]], taken_at: str) -> int: ...


_R = TypeVar("_R")
_K = TypeVar("_K", bound=Hashable)

CODES = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9")
INDICATOR_NAMES = {
    "P1": "“最多跑一次”事项实现率", "P2": "“综合窗口”承办率", "P3": "集中受理率",
    "P4": "行政许可事项规定时限办理率", "P5": "按时办结率", "P6": "即办事项比率", "P7": "网上办结率",
    "P8": "有效投诉整改完成率", "P9": "现场服务满意率",
}
SEVERITY_NAMES = {"red": "红色（严重）", "yellow": "黄色（一般）", "blue": "蓝色（提示）"}


def pct_text(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def indicator_rows(store: TableRepo, cfg: Config, rulebook: RuleBook | None, period: Period, org: str | None, now: datetime) -> list[dict[str, Any]]:
    """P1–P9 rows of checker.evaluate.indicators.compute (DESIGN.md shape) as plain dicts; [] without rules."""
    if rulebook is None:
        return []
    rows = indicators.compute(store, cfg, rulebook, period, org=org, now=now)
    return [r if isinstance(r, dict) else _as_dict(r) for r in rows]


MIN_SAMPLE = 30      # a record-based rate over fewer records is flagged 样本不足 and not compared


class IndicatorTable:
    """P1–P9 of every org for a period, computed once per period (one roll-up covers all orgs) and
    looked up by org: a report needs its scope and each child org, this period and the previous.

    Item-based indicators (P1–P4, P6: no period field, computed from the item list as it stands) are
    snapshotted per period: the first report that covers a period saves them, and every later
    report reads the saved figures, so 上期 is what the items were then. A period with no snapshot
    has no item-based figures to compare with (its rows say so: value None, `no_snapshot`)."""

    def __init__(self, store: TableRepo, cfg: Config, rulebook: RuleBook | None, now: datetime):
        self.store, self.cfg, self.rulebook, self.now = store, cfg, rulebook, now
        self._periods: dict[tuple[str, bool], dict[str, list[dict[str, Any]]]] = {}
        self.item_rules = {r.id for r in (rulebook.of_kind("indicator") if rulebook is not None else ())
                           if getattr(r, "source", None) == "items"}

    def rows(self, period: Period, org: str | None, *, snapshot: bool = True) -> list[dict[str, Any]]:
        """`snapshot`: save the item-based figures as this period's when it has none yet (the report's
        own period); False: only read a saved snapshot (the previous period)."""
        key = (period.code, snapshot)
        by_org = self._periods.get(key)
        if by_org is None:
            by_org = self._periods[key] = self._compute(period, snapshot)
        if org is None:
            return [r for rows in by_org.values() for r in rows]
        if org not in by_org:                       # an org with no figures: its rows say so (no data)
            by_org[org] = self._apply(period, indicator_rows(self.store, self.cfg, self.rulebook, period, org,
                                                             self.now), snapshot, save=False)
        return by_org[org]

    def _compute(self, period: Period, snapshot: bool) -> dict[str, list[dict[str, Any]]]:
        rows = self._apply(period, indicator_rows(self.store, self.cfg, self.rulebook, period, None, self.now),
                           snapshot, save=True)
        by_org: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_org.setdefault(r["org"], []).append(r)
        return by_org

    def _apply(self, period: Period, rows: list[dict[str, Any]], snapshot: bool, save: bool) -> list[dict[str, Any]]:
        if not self.item_rules:
            return rows
        saved = self.store.indicator_snapshot(period.code)
        if snapshot and save and period.start <= self.now.date():
            items = [r for r in rows if r["rule"] in self.item_rules and (r["org"], r["rule"]) not in saved]
            if items:
                self.store.save_indicator_snapshot(period.code, items, iso(self.now))
                saved = self.store.indicator_snapshot(period.code)
        out = []
        for r in rows:
            if r["rule"] in self.item_rules:
                snap = saved.get((r["org"], r["rule"]))
                if snap is not None:
                    passed = None if snap["passed"] is None else bool(snap["passed"])
                    r = {**r, "numerator": snap["numerator"], "denominator": snap["denominator"],
                         "value": snap["value"], "passed": passed, "snapshot_at": snap["taken_at"]}
                elif not snapshot:
                    r = {**r, "value": None, "passed": None, "no_snapshot": True}
            out.append(r)
        return out


def _as_dict(row: object) -> dict[str, Any]:
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    return {k: getattr(row, k) for k in ("code", "rule", "clause", "org", "period", "numerator",
                                         "denominator", "value", "target", "passed")}


@dataclass(frozen=True)
class IndicatorLine:
    code: str
    name: str
    clause: str
    numerator: float | None
    denominator: float | None
    value: float | None
    target: str
    passed: bool | None
    previous: float | None
    item_based: bool = False           # from the item list (P1–P4, P6), not from records of the period
    previous_small: bool = False       # the previous figure rests on fewer than MIN_SAMPLE records
    goal: float | None = None          # the target as a ratio (1.5 for ≥ 150%), for target lines

    @property
    def small_sample(self) -> bool:
        """A record-based rate over fewer than MIN_SAMPLE records (样本不足)."""
        return not self.item_based and self.denominator is not None and 0 < self.denominator < MIN_SAMPLE
    limits: dict[str, Any] | None = None         # the rule's target ({"gte": 0.9}): a value is never shown rounded across it

    @property
    def change(self) -> float | None:
        """Percentage change against the previous period; None without both figures or on a small sample."""
        if self.value is None or self.previous is None or self.small_sample or self.previous_small:
            return None
        return self.value - self.previous


def target_text(target: object) -> str:
    """{gte: 0.9} → '≥ 90%', {eq: 1.0} → '= 100%'."""
    if isinstance(target, dict):
        signs = {"gte": "≥", "gt": ">", "eq": "=", "lte": "≤", "lt": "<"}
        return " ".join(f"{signs.get(k, k)} {v * 100:g}%" for k, v in target.items() if isinstance(v, (int, float)))
    return "" if target is None else str(target)


def indicator_lines(current: list[dict[str, Any]], previous: list[dict[str, Any]], org: str | None,
                    item_rules: set[str] | frozenset[str] = frozenset()) -> tuple[IndicatorLine, ...]:
    """One line per P-code for the scope org (rows of other orgs are ignored)."""
    cur = _by_code(current, org)
    prev = _by_code(previous, org)
    out: list[IndicatorLine] = []
    for code in CODES:
        r = cur.get(code)
        if r is None:
            continue
        p = prev.get(code) or {}
        item = r.get("rule") in item_rules
        out.append(IndicatorLine(code, INDICATOR_NAMES[code], str(r.get("clause") or ""), r.get("numerator"),
                                 r.get("denominator"), r.get("value"), target_text(r.get("target")),
                                 r.get("passed"), p.get("value"), item,
                                 not item and p.get("denominator") is not None and 0 < p["denominator"] < MIN_SAMPLE,
                                 _goal(r.get("target")), r.get("target")))
    return tuple(out)


def _goal(target: object) -> float | None:
    if isinstance(target, dict):
        return next((float(v) for v in target.values() if isinstance(v, (int, float))), None)
    return None


def _by_code(rows: list[dict[str, Any]], org: str | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if org is None or r.get("org") in (org, None):
            out.setdefault(r["code"], r)
    return out


@dataclass(frozen=True)
class OverdueCase:
    case_no: str
    item_name: str
    org: str
    org_name: str
    handler: str | None
    accepted_at: str
    due_at: str
    overdue_wd: int


OVERDUE_PAGE = 5000     # overdue cases read at a time (a report never holds them all: 322,000 at 10M)


@dataclass(frozen=True)
class OverdueCases:
    """超期未办结 at `now` (DB50/T 957.7 §4.2 a), gathered in one pass over pages of OVERDUE_PAGE: what
    the report says of them (how many, how many per org, the longest, the `top` worst), never the whole
    list. Iterating reads them again a page at a time, oldest deadline first (the workbook's full sheet)."""
    total: int
    by_org: tuple[tuple[str, int], ...]         # (org, n) in the order an org first appears
    longest: OverdueCase | None                 # the first with the most working days over
    worst: tuple[OverdueCase, ...]              # by working days over (most first), deadline, case_no
    pages: Callable[[], Iterator[OverdueCase]] | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[OverdueCase]:
        return self.pages() if self.pages is not None else iter(())


def overdue_cases(store: ReportRepo, cfg: Config, org: str | None, now: datetime, names: dict[str, Any],
                  top: int = 20) -> OverdueCases:
    cal = WorkCalendar.from_config(cfg.calendar, cfg.tz)
    at = iso(now)

    def pages() -> Iterator[OverdueCase]:
        after: tuple[str, str] | None = None
        while True:
            rows = store.overdue_cases_at(org, at, after=after, limit=OVERDUE_PAGE)
            for r in rows:
                due = datetime.fromisoformat(r["due_at"])
                yield OverdueCase(r["case_no"], r["item_name"] or r["item_code"], r["org"],
                                  names.get(r["org"], r["org"]), r["handler"], r["accepted_at"], r["due_at"],
                                  -cal.working_days_left(due, now))
            if len(rows) < OVERDUE_PAGE:
                return
            after = (rows[-1]["due_at"], rows[-1]["case_no"])

    total, by_org, longest = 0, Counter[str](), None

    def counting(cases: Iterator[OverdueCase]) -> Iterator[tuple[int, str, str, OverdueCase]]:
        nonlocal total, longest
        for c in cases:
            total += 1
            by_org[c.org] += 1
            if longest is None or c.overdue_wd > longest.overdue_wd:
                longest = c
            yield (-c.overdue_wd, c.due_at, c.case_no, c)

    kept = heapq.nsmallest(top, counting(pages()), key=lambda t: t[:3])     # sorted(…)[:top], one pass
    return OverdueCases(total, tuple(by_org.items()), longest, tuple(t[3] for t in kept), pages)


@dataclass(frozen=True)
class Rectification:
    """整改 status of the scope at `now`, with the period's 复查 results (DB33/T 2036.7 §8.3, §8.4)."""
    by_status: dict[str, int]          # open acknowledged submitted rejected (not yet closed)
    open_total: int
    overdue: tuple[dict[str, Any], ...]          # not closed and past their rectification deadline
    verified: int                      # 复查通过 in the period
    rejected: int                      # 复查未通过 in the period
    rebounds: int                      # reopened as rebounds in the period (seen cleared after 复查, then again)
    rechecks: tuple[dict[str, Any], ...]         # the 复查 events, made public
    open_by_clause: tuple[tuple[tuple[str, str], int], ...] = ()         # ((standard, clause), n) of the findings still open at `now`
    open_rows: tuple[dict[str, Any], ...] = ()   # the findings still open at `now`, counted: {org, standard, clause, overdue, n}
    persisted: int = 0                 # 复查后仍存在: verified, yet the data never showed them cleared


def rectification(store: ReportRepo, org: str | None, period: Period, now: datetime) -> Rectification:
    at = iso(now)
    # The findings still open are counted in SQL (550,000 at 10M); only the overdue ones are read, with
    # their messages as read at `now` (copies: messages read already).
    counts = store.open_finding_counts(org, at)
    overdue = [dict(f) for f in current_messages(store, store.findings_overdue_at(org, at), now)]
    events = store.finding_events_in(org, period.start.isoformat(), period.end.isoformat(),
                                     ("verify_pass", "verify_fail", "rebound", "persist"))
    rechecks = tuple(e for e in events if e["action"] not in ("rebound", "persist"))
    by_status: Counter[str] = Counter()
    by_clause: Counter[tuple[str, str]] = Counter()
    for c in counts:
        by_status[c["status"]] += c["n"]
        by_clause[(c["standard"], c["clause"])] += c["n"]
    return Rectification(
        dict(by_status), sum(c["n"] for c in counts), tuple(overdue),
        sum(e["action"] == "verify_pass" for e in events), sum(e["action"] == "verify_fail" for e in events),
        sum(e["action"] == "rebound" for e in events), rechecks,
        tuple(sorted(by_clause.items(), key=lambda kv: (-kv[1], str(kv[0])))),
        tuple({"org": c["org"], "standard": c["standard"], "clause": c["clause"], "overdue": bool(c["overdue"]),
               "n": c["n"]} for c in counts),
        sum(e["action"] == "persist" for e in events))


def counted(rows: Iterable[_R], key: Callable[[_R], _K]) -> tuple[tuple[_K, int], ...]:
    """[(key value, count)] most frequent first, then by key."""
    c = Counter(key(r) for r in rows)
    return tuple(sorted(c.items(), key=lambda kv: (-kv[1], str(kv[0]))))


@dataclass(frozen=True)
class LateDisclosure:
    id: str
    title: str
    org: str
    category: str               # proactive | request
    formed_at: str
    published_at: str | None    # None: not yet published or answered at `now`
    limit: int                  # working days allowed
    days_over: int              # working days past the limit (to publication, or to `now`)


@dataclass(frozen=True)
class Disclosures:
    """政务公开 in the period (DB50/T 957.7 §3.3): counts by category and how many met the time
    limits of the 政府信息公开条例 (第二十六条 20 working days; 第三十三条 20, extended at most 40)."""
    by_category: dict[str, int]     # proactive / request → records formed or received in the period
    on_time: dict[str, int]         # published or answered within the limit
    late: tuple[LateDisclosure, ...]
    pending: int                    # not yet published or answered, still within the limit
    limits: dict[str, int]


DISCLOSURE_CATEGORIES = {"proactive": "主动公开", "request": "依申请公开"}


def disclosure_limits(rulebook: RuleBook) -> dict[str, int]:
    """The limits as the rule pack's params say (rules/db50/disclosure.yaml), else the 条例's."""
    out = {"publish_days": 20, "answer_days": 20, "answer_days_extended": 40}
    for r in (rulebook.rules if rulebook is not None else ()):
        if getattr(r, "id", "").startswith("db50.disclosure."):
            out.update({k: int(v) for k, v in (getattr(r, "params", None) or {}).items() if k in out})
    return out


def disclosures(store: ReportRepo, cfg: Config, rulebook: RuleBook, org: str | None, period: Period, now: datetime) -> Disclosures:
    cal = WorkCalendar.from_config(cfg.calendar, cfg.tz)
    limits = disclosure_limits(rulebook)
    local_now = now.astimezone(cfg.tz).replace(tzinfo=None) if now.tzinfo else now
    by_cat: Counter[str] = Counter()
    on_time: Counter[str] = Counter()
    late, pending = [], 0
    for r in store.disclosures_in(org, period.start.isoformat(), period.end.isoformat()):
        cat = r["category"]
        by_cat[cat] += 1
        if cat == "proactive":
            limit = limits["publish_days"]
        else:
            limit = limits["answer_days_extended"] if r["extended"] else limits["answer_days"]
        formed = datetime.fromisoformat(str(r["formed_at"])[:19]).date()
        done = datetime.fromisoformat(str(r["published_at"])[:19]).date() if r["published_at"] else None
        used = cal.count(formed, done or local_now.date())
        if used <= limit:
            if done is not None:
                on_time[cat] += 1
            else:
                pending += 1
            continue
        late.append(LateDisclosure(r["id"], r["info_title"], r["org"], cat, str(r["formed_at"]),
                                   str(r["published_at"]) if r["published_at"] else None, limit, used - limit))
    late.sort(key=lambda d: (-d.days_over, d.formed_at, d.id))
    return Disclosures(dict(by_cat), dict(on_time), tuple(late), pending, limits)
