"""A Report's tables as typed sheets for the Excel workbook (the same figures as the HTML page)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from datetime import date

from ..evaluate.surveys import QUESTIONS
from ..statuses import STATUS_NAMES
from .data import CODES, IndicatorLine
from .xlsx import INT, PCT, POINTS, SCORE, Sheet, when

if TYPE_CHECKING:
    from . import ReportSpec
    from .model import Report

PASSED = {True: "达标", False: "未达标", None: "无数据"}


def report_sheets(r: Report, spec: ReportSpec) -> list[Sheet]:
    sheets = [_overview(r), _indicators(r), *_rankings(r), _by_clause(r), _orgs(r), _overdue(r),
              _rectification(r), _rechecks(r), *_suggestions(r)]
    if r.surveys is not None and r.surveys.responses:
        sheets += _surveys(r)
    if "poor" in spec.parts:
        sheets.append(_poor(r))
    if r.index_rows:
        sheets.append(_index(r))
    return [s for s in sheets if s is not None]


def _overview(r: Report) -> Sheet:
    c, k = r.cases or {}, r.complaints or {}
    rows: list[list[Any]] = [["报告", f"{r.scope_name} {r.period.label}{r.title}"], ["依据", r.clause],
            ["报告期间", f"{r.period.start} 至 {r.period.end}（不含）"], ["数据截至", when(r.now.isoformat())],
            ["受理办件", c.get("accepted", 0)], ["办结办件", c.get("concluded", 0)],
            ["超期未办结办件", len(r.overdue_cases)], ["本期新发现问题", len(r.findings)],
            ["投诉", k.get("received", 0)], ["有效投诉", k.get("valid", 0)], ["评价", r.evaluations],
            ["未关闭问题", r.rectification.open_total], ["超期未整改问题", len(r.rectification.overdue)],
            ["评价结论", r.conclusion]]
    if r.narrative is not None:
        rows += [[title, t] for title, items in (("亮点", r.narrative.highlights), ("问题", r.narrative.problems),
                                                ("建议", r.narrative.advice)) for t in items]
    return Sheet("概况", ["项目", "数值"], rows, {1: INT})


def _rankings(r: Report) -> list[Sheet]:
    out = []
    for rk in r.rankings:
        rows = [[x.rank, x.name, x.accepted, x.p5, x.p5_n, x.overdue_cases, x.open_findings, x.overdue_findings,
                 x.passed, x.known] for x in rk.rows]
        out.append(Sheet(f"{rk.title}排名", ["排名", "单位", "受理办件", "按时办结率", "P5 样本数", "超期办件",
                                           "未关闭问题", "超期未整改", "达标指标数", "有数据指标数"], rows,
                         {0: INT, 2: INT, 3: PCT, 4: INT, 5: INT, 6: INT, 7: INT, 8: INT, 9: INT},
                         "排名依次按指标达标比例、P5 按时办结率、超期办件、未关闭问题"))
    return out


def _indicators(r: Report) -> Sheet:
    rows = [[l.code, l.name, l.numerator, l.denominator, l.value, l.target, PASSED[l.passed], l.previous,
             None if l.change is None else round(l.change * 100, 4), _sample(l), f"DB33/T 2036.7 §{l.clause}"]
            for l in r.lines]
    return Sheet("P1-P9指标", ["编号", "指标", "分子", "分母", "本期", "目标", "结果", "上期", "较上期", "说明", "依据"],
                 rows, {2: "0.##", 3: "0.##", 4: PCT, 7: PCT, 8: POINTS})


def _sample(line: IndicatorLine) -> str:
    if line.small_sample:
        return f"样本不足（n={line.denominator:g}），不比较"
    if line.item_based:
        return "按事项清单（各期快照）" + ("；无上期快照" if line.previous is None else "")
    return ""


def _by_clause(r: Report) -> Sheet:
    rows = [(std, cl, n) for (std, cl), n in r.by_clause]
    rows_open = [(std, cl, n) for (std, cl), n in r.rectification.open_by_clause]
    merged = [[std, cl, r.clause_title(std, cl), a, b] for std, cl, a, b in _merge_counts(rows, rows_open)]
    return Sheet("问题按条款", ["标准", "条款", "条款内容（规则）", "本期新发现", "截至数据时间未关闭"], merged,
                 {3: INT, 4: INT})


def _merge_counts(new_rows: Iterable[tuple[str, str, int]], open_rows: Iterable[tuple[str, str, int]]) -> list[list[Any]]:
    keys: dict[tuple[str, str], list[int]] = {}
    for std, cl, n in new_rows:
        keys.setdefault((std, cl), [0, 0])[0] = n
    for std, cl, n in open_rows:
        keys.setdefault((std, cl), [0, 0])[1] = n
    return [[std, cl, a, b] for (std, cl), (a, b) in sorted(keys.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))]


def _orgs(r: Report) -> Sheet | None:
    if not r.orgs:
        return None
    rows: list[list[Any]] = []
    for o in r.orgs:
        by = {l.code: l for l in o.lines}
        known = [l for l in o.lines if l.passed is not None]
        rows.append([o.name, o.findings, o.overdue_cases, *[by[c].value if c in by else None for c in CODES],
                     sum(1 for l in known if l.passed), len(known)])
    fmt = {1: INT, 2: INT, **{3 + i: PCT for i in range(len(CODES))}, 3 + len(CODES): INT, 4 + len(CODES): INT}
    return Sheet("各机构", ["机构", "新发现问题", "超期办件", *CODES, "达标项数", "有数据项数"], rows, fmt)


def _overdue(r: Report) -> Sheet:
    worst = sorted(r.overdue_cases, key=lambda c: (-c.overdue_wd, c.due_at, c.case_no))
    rows = [[c.case_no, c.item_name, c.org_name, r.officers.get(c.handler or "", c.handler or ""), c.handler or "",
             when(c.accepted_at), when(c.due_at), c.overdue_wd] for c in worst]
    return Sheet("超期办件", ["办件编号", "事项", "机构", "经办人", "工号", "受理时间", "承诺办结时间", "超期工作日"],
                 rows, {7: INT})


def _rectification(r: Report) -> Sheet:
    x = r.rectification
    rows = [[f["id"], r.names.get(f["org"], f["org"]), f"{f['standard']} §{f['clause']}",
             r.clause_title(f["standard"], f["clause"]), f["message"], r.officers.get(f["assignee"], f["assignee"] or ""),
             when(f["due_at"]), STATUS_NAMES.get(f["status"], f["status"])] for f in x.overdue]
    return Sheet("超期未整改", ["编号", "机构", "条款", "条款内容（规则）", "问题", "责任人", "整改期限", "状态"], rows,
                 {0: INT})


def _rechecks(r: Report) -> Sheet:
    rows = [[when(v["at"]), v["finding_id"], r.names.get(v["org"], v["org"]), f"{v['standard']} §{v['clause']}",
             "通过" if v["action"] == "verify_pass" else "未通过", v["actor"], v["note"] or ""]
            for v in r.rectification.rechecks]
    return Sheet("复查结果", ["复查时间", "问题编号", "机构", "条款", "结论", "复查人", "复查意见"], rows, {1: INT})


def _suggestions(r: Report) -> list[Sheet]:
    rows = [[g.clause, g.clause_title, g.problem, g.measure, "、".join(g.orgs), len(g.orgs), _day(g.deadline)]
            for g in r.suggestion_groups]
    detail = [[s.org_name, s.problem, s.measure, _day(s.deadline), s.clause] for s in r.suggestions]
    return [Sheet("整改建议", ["依据", "条款内容", "问题", "整改措施", "责任单位", "单位数", "整改期限"], rows, {5: INT}),
            Sheet("整改建议明细", ["责任单位", "问题", "整改措施", "整改期限", "依据"], detail)]


def _day(text: str | None) -> date | str | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return text


def _surveys(r: Report) -> list[Sheet]:
    s = r.surveys
    assert s is not None, "report_sheets asks for survey sheets only when the report has surveys"
    rates = [[x.question, QUESTIONS[x.question].text, x.satisfied, x.answered, x.value]
             for x in s.rates if x.answered]
    dist = [[d.question.code, d.question.text, letter, text, n, n / d.answered if d.answered else None]
            for d in s.distributions if d.answered for letter, text, n in d.counts]
    return [Sheet("问卷满意率", ["题号", "题目", "满意", "作答", "满意率"], rates, {2: INT, 3: INT, 4: PCT}),
            Sheet("问卷选项分布", ["题号", "题目", "选项", "内容", "人数", "占比"], dist, {4: INT, 5: PCT})]


def _poor(r: Report) -> Sheet:
    rows = [[when(p["evaluated_at"]), r.names.get(p["org"], p["org"]), p["case_no"] or "", p["level"],
             p["comment"] or "", "已整改" if p["rectified_at"] else "未整改"] for p in r.poor_evaluations]
    return Sheet("差评", ["评价时间", "机构", "办件", "等级", "评价内容", "整改"], rows, {3: INT})


def _index(r: Report) -> Sheet:
    dims = list(r.index_rows[0].dimensions)
    rows = [[x.rank, x.org_name, x.score, *[x.dimensions[d] for d in dims], x.change] for x in r.index_rows]
    return Sheet("效能指数", ["排名", "机构", "总指数", *dims, "较上期"], rows,
                 {0: INT, **{i: SCORE for i in range(2, len(dims) + 4)}})

