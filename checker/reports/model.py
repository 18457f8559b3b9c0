"""Assemble a report's content for one kind, period and scope."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from ..config import Config
from ..errors import GovwatchError
from ..evaluate import surveys as surveys_mod
from ..findings.repo import MessageRepo
from ..evaluate.indicators import percent
from ..periods import Period
from ..rules.model import RuleBook
from . import analysis, data, notes, suggest
from .index import IndexRepo, IndexRow, run_index

if TYPE_CHECKING:
    from . import ReportSpec


class ReportRepo(IndexRepo, surveys_mod.SurveyRepo, MessageRepo, Protocol):
    """What a report (checker.reports: gather, its tables, rankings and the index) reads from the
    store: the org tree and names, findings and their events in a period, cases, evaluations,
    disclosures, the indicator snapshots, and the scans' span (also handed to
    checker.evaluate.indicators.compute)."""
    def org_names(self) -> dict[str, str]: ...
    def officer_names(self) -> dict[str, str]: ...
    def root_orgs(self) -> list[str]: ...
    def child_orgs(self, org: str | None) -> list[dict[str, Any]]: ...
    def orgs_at_level(self, level: str) -> list[dict[str, Any]]: ...
    def get(self, kind: str, key: str | tuple[Any, ...]) -> dict[str, Any] | None: ...
    def findings_opened(self, org: str | None, start: str, end: str) -> list[dict[str, Any]]: ...
    def findings_open_at(self, org: str | None, now: str) -> list[dict[str, Any]]: ...
    def findings_overdue_at(self, org: str | None, now: str) -> list[dict[str, Any]]: ...
    def open_finding_counts(self, org: str | None, now: str) -> list[dict[str, Any]]: ...
    def finding_events_in(self, org: str | None, start: str, end: str,
                          actions: tuple[str, ...]) -> list[dict[str, Any]]: ...
    def overdue_cases_at(self, org: str | None, now: str, after: tuple[str, str] | None = None,
                         limit: int | None = None) -> list[dict[str, Any]]: ...
    def case_counts(self, org: str | None, start: str, end: str) -> dict[str, Any]: ...
    def case_counts_by_org(self, start: str, end: str) -> dict[str, int]: ...
    def poor_evaluations(self, org: str | None, start: str, end: str, max_level: int = 2) -> list[dict[str, Any]]: ...
    def disclosures_in(self, org: str | None, start: str, end: str) -> list[dict[str, Any]]: ...
    def evaluation_count(self, org: str | None, start: str, end: str) -> int: ...
    def complaint_counts(self, org: str | None, start: str, end: str) -> dict[str, Any]: ...
    def scan_span(self, start: str, end: str) -> tuple[str | None, str | None, int]: ...

_MONTHS = {"quarter": 3, "year": 12}


@dataclass(frozen=True)
class OrgFigures:
    """One child org of the scope: its findings, overdue cases and P1–P9 lines (片区情况)."""
    org: str
    name: str
    findings: int
    overdue_cases: int
    lines: tuple[data.IndicatorLine, ...]


@dataclass(frozen=True)
class Masthead:
    """The GB/T 9704-style title block and sign-off: 发文机关、文号、主送、落款、成文日期、抄送 (config reports.*)."""
    issuer: str
    doc_number: str | None
    signature: str
    date: str                 # 成文日期: 2026年11月3日
    recipients: str | None = None
    copy_to: str | None = None
    area: str | None = None   # the top org's name (杭州市) when there is one


def masthead(cfg: Config, store: ReportRepo, period: Period, now: datetime) -> Masthead:
    rc = cfg.reports
    roots = store.root_orgs()
    area = store.org_names().get(roots[0], roots[0]) if len(roots) == 1 else None
    issuer = rc.issuer or area or "政务服务效能监管"
    doc = rc.doc_number.replace("{year}", str(period.start.year)).replace("{seq}", str(_seq(period))) \
        if rc.doc_number else None
    local = now.astimezone(cfg.tz)
    return Masthead(issuer, doc, rc.signature or issuer, f"{local.year}年{local.month}月{local.day}日",
                    rc.recipients, rc.copy_to, area)


def _seq(period: Period) -> int:
    """The period's number in its year: month 1–12, quarter 1–4, ISO week, day of the year, 1 for a year."""
    s = period.start
    return {"month": s.month, "quarter": (s.month - 1) // 3 + 1, "week": s.isocalendar()[1],
            "day": s.timetuple().tm_yday}.get(period.kind, 1)


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    clause: str
    period: Period
    scope: str | None
    scope_name: str
    now: datetime
    last_scan: str | None
    cases: dict[str, Any]
    complaints: dict[str, Any]
    evaluations: int
    findings: tuple[dict[str, Any], ...]
    by_clause: tuple[tuple[tuple[str, str], int], ...]      # ((standard, clause), count), most first
    by_severity: tuple[tuple[str, int], ...]
    by_org: tuple[tuple[str, int], ...]
    overdue_cases: data.OverdueCases
    lines: tuple[data.IndicatorLine, ...]                  # of the scope org
    rectification: data.Rectification
    problems: tuple[str, ...]
    conclusion: str
    suggestions: tuple[suggest.Suggestion, ...]
    names: dict[str, Any]
    orgs: tuple[OrgFigures, ...] = ()
    poor_evaluations: tuple[dict[str, Any], ...] = ()
    surveys: surveys_mod.SurveyTable | None = None
    disclosures: data.Disclosures | None = None       # 政务公开 (DB50/T 957.7 §3.3), monthly and quarterly
    trends: tuple[tuple[str, dict[str, Any]], ...] = ()     # ((month label, {code: value}), …)
    index_rows: tuple[IndexRow, ...] = ()
    index_error: str | None = None
    index_note: str = ""               # the weights used (fixed per evaluation year)
    extras: dict[str, Any] = field(default_factory=dict)
    masthead: Masthead | None = None
    clause_titles: dict[str, str] = field(default_factory=dict)     # "DB33/T 2036.7 §5.2.1.5" → a rule title
    officers: dict[str, str] = field(default_factory=dict)          # 工号 → 姓名
    rankings: tuple[analysis.Ranking, ...] = ()           # of districts, departments
    suggestion_groups: tuple[analysis.SuggestionGroup, ...] = ()   # by clause
    narrative: analysis.Narrative | None = None
    scans_in_period: int = 0
    first_scan: str | None = None
    top_n: int = 20

    def clause_title(self, standard: str, clause: str) -> str:
        return self.clause_titles.get(f"{standard} §{clause}", "")
    notes: tuple[str, ...] = ()       # the readings used where the standards leave a choice (口径说明)


def gather(store: ReportRepo, cfg: Config, rulebook: RuleBook, spec: ReportSpec, period: Period, org: str | None, now: datetime) -> Report:
    names = store.org_names()
    start, end = period.start.isoformat(), period.end.isoformat()
    findings = tuple(store.findings_opened(org, start, end))
    overdue = data.overdue_cases(store, cfg, org, now, names, cfg.reports.top_n)
    table = data.IndicatorTable(store, cfg, rulebook, now)
    lines = _lines(store, table, period, org)
    rect = data.rectification(store, org, period, now)
    children = _children(store, table, period, org, names, findings, overdue)
    suggestions = _suggestions(cfg, now, org, lines, children, overdue, rect, names, store, period)
    titles = clause_titles(rulebook)
    groups = analysis.group_suggestions(suggestions, titles)
    ranks = analysis.rankings(store, table, period, org, overdue, rect.open_rows, start, end)
    first_scan, last_scan, scans_in_period = store.scan_span(start, end)
    report = Report(
        spec.name, spec.title, spec.clause, period, org, names.get(org, org) if org else "全部机构", now,
        last_scan, store.case_counts(org, start, end),
        store.complaint_counts(org, start, end), store.evaluation_count(org, start, end), findings,
        data.counted(findings, lambda f: (f["standard"], f["clause"])),
        data.counted(findings, lambda f: f["severity"]),
        data.counted(findings, lambda f: f["org"] or ""), overdue, lines, rect,
        tuple(_problems(lines, overdue, rect, findings)),
        suggest.conclusion(lines, len(findings), rect.open_total, len(rect.overdue)),
        tuple(suggestions), names, children,
        extras={"subtrees": {c.org: tuple(store.org_subtree(c.org)) for c in children}},
        masthead=masthead(cfg, store, period, now), clause_titles=titles, officers=store.officer_names(),
        rankings=ranks, suggestion_groups=groups,
        narrative=analysis.narrative(lines, ranks, overdue, rect, groups, len(findings), names),
        scans_in_period=scans_in_period, first_scan=first_scan, top_n=cfg.reports.top_n,
        notes=notes.readings(cfg, rulebook))
    return _extend(report, store, cfg, rulebook, spec, period, org, now)


def clause_titles(rulebook: RuleBook) -> dict[str, str]:
    """'DB33/T 2036.7 §5.2.1.5' → the title of the (first) rule that encodes the clause."""
    out: dict[str, str] = {}
    for rule in (rulebook.rules if rulebook is not None else ()):
        out.setdefault(f"{rule.standard} §{rule.clause}", rule.title)
    return out


def _lines(store: ReportRepo, table: data.IndicatorTable, period: Period,
           org: str | None) -> tuple[data.IndicatorLine, ...]:
    """P1–P9 of the scope: the org's, or with no org the single top org's (all of them when several)."""
    if org is None:
        org = _single_root(store)
    current = table.rows(period, org)
    previous = table.rows(period.previous(), org, snapshot=False)
    return data.indicator_lines(current, previous, org, table.item_rules)


def _children(store: ReportRepo, table: data.IndicatorTable, period: Period, org: str | None, names: dict[str, str], findings: tuple[dict[str, Any], ...], overdue: data.OverdueCases) -> tuple[OrgFigures, ...]:
    out: list[OrgFigures] = []
    for child in store.child_orgs(org):
        sub = set(store.org_subtree(child["code"]))
        lines = _lines(store, table, period, child["code"])
        out.append(OrgFigures(child["code"], child["name"], sum(f["org"] in sub for f in findings),
                              sum(n for o, n in overdue.by_org if o in sub), lines))
    return tuple(out)


def _suggestions(cfg: Config, now: datetime, org: str | None, lines: Sequence[data.IndicatorLine], children: tuple[OrgFigures, ...], overdue: data.OverdueCases, rect: data.Rectification, names: dict[str, str], store: ReportRepo,
                 period: Period) -> list[suggest.Suggestion]:
    per_org: dict[str, Sequence[data.IndicatorLine]] = {c.org: c.lines for c in children} or {org or "": lines}
    events = store.finding_events_in(org, period.start.isoformat(), period.end.isoformat(), ("rebound",))
    return (suggest.from_indicators(cfg, now, per_org, names)
            + suggest.from_overdue_cases(cfg, now, overdue, names)
            + suggest.from_overdue_findings(cfg, now, rect.overdue, names)
            + suggest.from_rebounds(cfg, now, events, names))


def _problems(lines: Sequence[data.IndicatorLine], overdue: data.OverdueCases, rect: data.Rectification, findings: tuple[dict[str, Any], ...]) -> list[str]:
    out = [f"{l.code} {l.name} {percent(l.value, l.limits)}，未达到 {l.target}（DB33/T 2036.7 §{l.clause}）"
           for l in lines if l.passed is False]
    if overdue:
        out.append(f"超期未办结办件 {len(overdue)} 件（DB50/T 957.7 §4.2 a)）")
    if rect.overdue:
        out.append(f"超过整改期限未整改的问题 {len(rect.overdue)} 项（DB33/T 2036.7 §8.1）")
    if rect.rejected:
        out.append(f"复查未通过 {rect.rejected} 项（DB33/T 2036.7 §8.3）")
    if rect.rebounds:
        out.append(f"已整改问题反弹 {rect.rebounds} 项（DB33/T 2036.7 §8.4）")
    if rect.persisted:
        out.append(f"复查通过后扫描仍显示存在的问题 {rect.persisted} 项（复查结论与数据不符，已退回原复查人，DB33/T 2036.7 §8.3）")
    red = sum(1 for f in findings if f["severity"] == "red")
    if red:
        out.append(f"本期新发现红色（严重）问题 {red} 项")
    return out


def _extend(report: Report, store: ReportRepo, cfg: Config, rulebook: RuleBook, spec: ReportSpec, period: Period, org: str | None, now: datetime) -> Report:
    """Kind-specific parts: surveys, 政务公开, monthly trends, 差评, the index ranking."""
    extra: dict[str, Any] = {}
    if "surveys" in spec.parts:
        extra["surveys"] = surveys_mod.tabulate(store, period, org, cfg.indicators.p9_satisfied_level)
    if "poor" in spec.parts:
        extra["poor_evaluations"] = tuple(store.poor_evaluations(org, period.start.isoformat(), period.end.isoformat()))
    if "disclosures" in spec.parts:
        extra["disclosures"] = data.disclosures(store, cfg, rulebook, org, period, now)
    if "trends" in spec.parts:
        extra["trends"] = _trends(store, cfg, rulebook, period, org, now)
    if "index" in spec.parts:
        extra.update(_index(store, cfg, rulebook, period, now))
    return replace(report, **extra)


def _trends(store: ReportRepo, cfg: Config, rulebook: RuleBook, period: Period, org: str | None,
            now: datetime) -> tuple[tuple[str, dict[str, Any]], ...]:
    """P1–P9 month by month; item-based figures only where a month has a snapshot."""
    table = data.IndicatorTable(store, cfg, rulebook, now)
    months: list[tuple[str, dict[str, Any]]] = []
    p = Period.containing("month", period.start)
    while p.start < period.end:
        rows = table.rows(p, org, snapshot=False) if org else table.rows(p, _single_root(store), snapshot=False)
        months.append((f"{p.start.month}月", {c: r.get("value") for c, r in data._by_code(rows, org or _single_root(store)).items()}))
        p = Period.containing("month", p.end)
    return tuple(months)


def _single_root(store: ReportRepo) -> str | None:
    roots = store.root_orgs()
    return roots[0] if len(roots) == 1 else None


def _index(store: ReportRepo, cfg: Config, rulebook: RuleBook, period: Period, now: datetime) -> dict[str, Any]:
    try:
        result = run_index(store, cfg, rulebook, period, now=now)
    except GovwatchError as exc:
        return {"index_error": str(exc)}
    weights = "，".join(f"{k} {v:.3f}" for k, v in result.dimension_weights.items())
    return {"index_rows": tuple(result.rows),
            "index_note": f"权重按评价年度固定：{result.year} 年各期使用同一组权重（基期 {result.base_period} 计算并保存）"
                          + (f"：{weights}" if weights else "") + "。"}


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"
