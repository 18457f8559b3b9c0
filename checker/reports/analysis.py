"""What a 月通报 / 季度分析 says beyond the tables, computed from the data (DB50/T 957.7 §4.2 c–d, §6.5):
rankings of districts and departments, the narrative (亮点、问题、建议) and the 整改建议 grouped
by clause."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

from collections import Counter
from dataclasses import dataclass

from . import data
from ..periods import Period
from .data import IndicatorTable
from .suggest import Suggestion

if TYPE_CHECKING:
    from .model import ReportRepo

RANK_LEVELS = (("district", "各区县"), ("department", "各部门"))


@dataclass(frozen=True)
class RankRow:
    rank: int
    org: str
    name: str
    accepted: int
    p5: float | None                # 按时办结率
    p5_n: float | None              # its denominator (cases whose outcome is known)
    overdue_cases: int              # 超期未办结 at `now`
    open_findings: int              # not closed at `now`
    overdue_findings: int           # past their rectification deadline
    passed: int                     # P-codes meeting the target
    known: int                      # P-codes with data

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.known if self.known else None


@dataclass(frozen=True)
class Ranking:
    level: str
    title: str
    rows: tuple[RankRow, ...]


def rankings(store: ReportRepo, table: IndicatorTable, period: Period, org: str | None, overdue: data.OverdueCases, open_rows: Sequence[dict[str, Any]], start: str, end: str) -> tuple[Ranking, ...]:
    """District and department rankings of the scope: P1–P9 达标率 first, then P5 按时办结率, then
    fewer overdue cases and fewer open findings."""
    scope = set(store.org_subtree(org)) if org else None
    # Per org once, then summed over each ranked org's subtree (not a pass over every open finding
    # and a count query per ranked org: 61,000 open findings × 29 orgs was 2 s of a 1M bulletin).
    counts = {"accepted": Counter(store.case_counts_by_org(start, end)), "overdue_cases": Counter(dict(overdue.by_org)),
              **_open_findings_by_org(open_rows)}
    out = []
    for level, title in RANK_LEVELS:
        orgs = [o for o in store.orgs_at_level(level) if scope is None or o["code"] in scope]
        if len(orgs) < 2:
            continue
        rows = sorted((_rank_row(store, table, period, o, counts) for o in orgs),
                      key=lambda r: (-(r["passed"] / r["known"] if r["known"] else -1),
                                     -(r["p5"] if r["p5"] is not None else -1), r["overdue_cases"], r["open_findings"], r["org"]))
        out.append(Ranking(level, title, tuple(RankRow(i + 1, **r) for i, r in enumerate(rows))))
    return tuple(out)


def _open_findings_by_org(open_rows: Sequence[dict[str, Any]]) -> dict[str, Counter[str]]:
    """The open findings and those past their rectification deadline, per org (open_rows are counts:
    {org, …, overdue, n}, not findings)."""
    open_findings: Counter[str] = Counter()
    overdue_findings: Counter[str] = Counter()
    for f in open_rows:
        open_findings[f["org"]] += f["n"]
        if f.get("overdue"):
            overdue_findings[f["org"]] += f["n"]
    return {"open_findings": open_findings, "overdue_findings": overdue_findings}


def _rank_row(store: ReportRepo, table: IndicatorTable, period: Period, o: dict[str, Any],
              counts: dict[str, Counter[str]]) -> dict[str, Any]:
    """One ranked org: its own indicator lines, and each per-org count summed over its subtree."""
    sub = set(store.org_subtree(o["code"]))
    lines = {r["code"]: r for r in table.rows(period, o["code"]) if r.get("org") in (o["code"], None)}
    known = [r for r in lines.values() if r.get("passed") is not None]
    p5 = lines.get("P5") or {}
    return dict(org=o["code"], name=o["name"], p5=p5.get("value"), p5_n=p5.get("denominator"),
                passed=sum(bool(r["passed"]) for r in known), known=len(known),
                **{k: sum(c[x] for x in sub) for k, c in counts.items()})


@dataclass(frozen=True)
class SuggestionGroup:
    """The suggestions of one clause and measure: one row for every org it concerns."""
    clause: str
    clause_title: str
    problem: str
    measure: str
    orgs: tuple[str, ...]
    deadline: str                   # the earliest


def group_suggestions(suggestions: Iterable[Suggestion], titles: dict[str, str]) -> tuple[SuggestionGroup, ...]:
    groups: dict[tuple[str, str], list[Suggestion]] = {}
    for s in suggestions:
        groups.setdefault((s.clause, s.measure), []).append(s)
    out = []
    for (clause, measure), items in groups.items():
        orgs = tuple(dict.fromkeys(s.org_name for s in items))
        problem = items[0].problem if len(items) == 1 else _common_problem(items)
        code = problem.split(" ", 1)[0]
        title = data.INDICATOR_NAMES.get(code) or titles.get(clause, "")     # an indicator's own name
        out.append(SuggestionGroup(clause, title, problem, measure, orgs,
                                   min(s.deadline for s in items)))
    out.sort(key=lambda g: (-len(g.orgs), g.deadline, g.clause))
    return tuple(out)


def _common_problem(items: Sequence[Suggestion]) -> str:
    """'P5 按时办结率 为 87.1%，未达到 = 100%' ×5 → 'P5 按时办结率未达到 = 100%（5 个单位）'."""
    first = items[0].problem
    head = first.split(" 为 ")[0] if " 为 " in first else None
    if head and all(s.problem.startswith(head) for s in items):
        tail = first.split("未达到")[-1].strip() if "未达到" in first else ""
        return f"{head}未达到 {tail}（{len(items)} 个单位）" if tail else f"{head}（{len(items)} 个单位）"
    return f"{_strip_count(first)}（{len(items)} 个单位）"


def _strip_count(text: str) -> str:
    """'3 件办件超过…' → '办件超过…' (the count differs per org)."""
    parts = text.split(" ", 1)
    return parts[1] if len(parts) == 2 and parts[0].isdigit() else text


@dataclass(frozen=True)
class Narrative:
    highlights: tuple[str, ...]
    problems: tuple[str, ...]
    advice: tuple[str, ...]


def narrative(lines: Sequence[data.IndicatorLine], rankings_: Sequence[Ranking], overdue: data.OverdueCases, rect: data.Rectification,
              groups: Sequence[SuggestionGroup], findings_count: int, names: dict[str, str]) -> Narrative:
    """亮点、问题、建议 in a few sentences each, from the figures of the report."""
    good = _highlights(lines, rankings_, overdue, rect) or ["本期暂无可归纳的亮点。"]
    bad = (_problems(lines, rankings_, overdue, rect, names)
           or [f"本期未发现需要通报的问题（新发现问题 {findings_count} 项）。"])
    advice = _advice(groups) or ["保持现有工作机制，继续做好日常监督。"]
    return Narrative(tuple(good), tuple(bad), tuple(advice))


def _highlights(lines: Sequence[data.IndicatorLine], rankings_: Sequence[Ranking], overdue: data.OverdueCases,
                rect: data.Rectification) -> list[str]:
    """亮点: the indicators met, those that rose most, each ranking's first, verified rectifications."""
    good: list[str] = []
    passed = [l for l in lines if l.passed and not l.small_sample]
    if passed:
        good.append(f"{'、'.join(l.code + ' ' + l.name for l in passed)}达到目标。")
    better = sorted(((l, c) for l in lines if (c := l.change) is not None and c >= 0.005), key=lambda lc: -lc[1])
    if better:
        good.append("较上期提高：" + "；".join(f"{l.code} {l.name}提高 {c * 100:.1f} 个百分点" for l, c in better[:3]) + "。")
    good += [f"{rk.title}中{top.name}排名第一（指标达标 {top.passed}/{top.known} 项"
             f"{'，按时办结率 ' + _pct(top.p5) if top.p5 is not None else ''}）。"
             for rk in rankings_ if (top := rk.rows[0]).known]
    if rect.verified:
        good.append(f"本期复查通过 {rect.verified} 项整改。")
    if not overdue:
        good.append("截至数据时间没有超期未办结的办件。")
    return good


def _problems(lines: Sequence[data.IndicatorLine], rankings_: Sequence[Ranking], overdue: data.OverdueCases,
              rect: data.Rectification, names: dict[str, str]) -> list[str]:
    """问题: indicators missed or fallen, the overdue cases, rectifications late or rebounded, each
    ranking's last."""
    bad = [f"{l.code} {l.name} {_pct(l.value)}，未达到目标（{l.target}）{'（样本不足，仅供参考）' if l.small_sample else ''}。"
           for l in sorted((l for l in lines if l.passed is False), key=lambda l: l.code)]
    worse = sorted(((l, c) for l in lines if (c := l.change) is not None and c <= -0.005), key=lambda lc: lc[1])
    if worse:
        bad.append("较上期下降：" + "；".join(f"{l.code} {l.name}下降 {-c * 100:.1f} 个百分点" for l, c in worse[:3]) + "。")
    bad += _overdue_problems(overdue, names)
    if rect.overdue:
        bad.append(f"超过整改期限仍未整改的问题 {len(rect.overdue)} 项（DB33/T 2036.7 §8.1）。")
    if rect.rebounds:
        bad.append(f"已整改问题反弹 {rect.rebounds} 项（DB33/T 2036.7 §8.4）。")
    return bad + [f"{rk.title}中{last.name}排名末位（指标达标 {last.passed}/{last.known} 项，超期办件 {last.overdue_cases} 件）。"
                  for rk in rankings_ if (last := rk.rows[-1]).known and len(rk.rows) > 2]


def _overdue_problems(overdue: data.OverdueCases, names: dict[str, str]) -> list[str]:
    """The overdue open cases in one sentence: how many, the three orgs with most, the longest."""
    if not overdue or overdue.longest is None:
        return []
    by_name: Counter[str] = Counter()             # by name, in the order the orgs first appear
    for o, n in overdue.by_org:
        by_name[names.get(o, o)] += n
    longest = overdue.longest
    return [f"超期未办结办件 {len(overdue)} 件，集中在{'、'.join(f'{n}（{k} 件）' for n, k in by_name.most_common(3))}；"
            f"最长超期 {longest.overdue_wd} 个工作日（{longest.case_no}，{longest.item_name}）。"]


def _advice(groups: Sequence[SuggestionGroup]) -> list[str]:
    """建议: the first three suggestion groups, each with where, the measure, the clause and the deadline."""
    return [f"{_where(g.orgs)}：{g.measure}（{g.clause}{' ' + g.clause_title if g.clause_title else ''}，{g.deadline} 前）。"
            for g in groups[:3]]


def _where(orgs: Sequence[str]) -> str:
    """The first three orgs' names, and how many there are when more."""
    return "、".join(orgs[:3]) + (f"等 {len(orgs)} 个单位" if len(orgs) > 3 else "")


def _pct(v: float | None) -> str:
    return data.pct_text(v)
