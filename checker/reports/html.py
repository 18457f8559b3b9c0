"""Render a Report as one self-contained HTML page (UTF-8, inline CSS, inline SVG, A4 print rules).

SECTIONS, at the bottom, lists the sections in display order; each returns its HTML or '' to be left out.
Every value taken from the data is escaped with `e()`.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from html import escape
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .. import statuses
from ..evaluate.indicators import percent
from ..evaluate.surveys import QUESTIONS, Distribution, Rate
from . import charts
from .analysis import RankRow
from .data import CODES, DISCLOSURE_CATEGORIES, INDICATOR_NAMES, MIN_SAMPLE, SEVERITY_NAMES, IndicatorLine
from .index import IndexRow

if TYPE_CHECKING:
    from . import ReportSpec
    from .model import Report

NUMERALS = "一二三四五六七八九十"
STATUS_NAMES = statuses.STATUS_NAMES          # the one glossary of bot, CLI and reports

CSS = """
@page { size: A4; margin: 22mm 20mm 24mm 20mm;
        @bottom-center { content: "— " counter(page) " —"; font-family: "Noto Serif CJK SC", serif;
                         font-size: 10pt; color: #333; } }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Noto Serif CJK SC", "Microsoft YaHei",
       "PingFang SC", "WenQuanYi Micro Hei", "SimSun", sans-serif; color: #222; font-size: 10.5pt;
       line-height: 1.55; margin: 0 auto; max-width: 190mm; padding: 8mm 4mm; }
.masthead { text-align: center; margin-bottom: 5mm; }
.issuer { font-family: "Noto Serif CJK SC", "SimSun", serif; font-size: 24pt; font-weight: bold; color: #c00;
          letter-spacing: 3px; margin: 0 0 3mm; }
.docno { font-size: 11pt; margin: 0 0 2mm; }
.redline { border: 0; border-top: 2px solid #c00; margin: 0 0 6mm; }
h1 { font-family: "Noto Serif CJK SC", "SimSun", serif; font-size: 18pt; text-align: center; margin: 0 0 4mm;
     letter-spacing: 1px; }
.to { margin: 0 0 3mm; }
h2 { font-size: 13.5pt; border-left: 5px solid #8b1a1a; padding-left: 8px; margin: 7mm 0 3mm;
     page-break-after: avoid; break-after: avoid; }
h3 { font-size: 11.5pt; margin: 4mm 0 2mm; page-break-after: avoid; break-after: avoid; }
.meta { border-top: 1px solid #8b1a1a; border-bottom: 1px solid #8b1a1a; padding: 2mm 0; margin-bottom: 4mm;
        display: grid; grid-template-columns: 1fr 1fr; gap: 1mm 6mm; font-size: 9.5pt; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 3mm; font-size: 9pt; page-break-inside: auto; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
th, td { border: 1px solid #999; padding: 1mm 1.5mm; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f1e6e6; font-weight: bold; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; }
.nw { white-space: nowrap; }
table.fixed { table-layout: fixed; } table.fixed th { white-space: normal; }
table.orgs { font-size: 7.5pt; table-layout: fixed; }
table.orgs td, table.orgs th { padding: 0.8mm 0.8mm; white-space: normal; overflow-wrap: normal; word-break: keep-all; }
table.orgs td.num { white-space: normal; }
.pass { color: #1e7b34; font-weight: bold; } .fail { color: #b3261e; font-weight: bold; }
.up { color: #1e7b34; } .down { color: #b3261e; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 3mm; margin: 2mm 0 3mm; }
.kpi { border: 1px solid #d9c4c4; border-radius: 2mm; padding: 2mm; text-align: center; }
.kpi b { display: block; font-size: 16pt; color: #8b1a1a; }
.chart { page-break-inside: avoid; break-inside: avoid; margin: 3mm 0; }
.chart svg { max-width: 100%; height: auto; }
.note { color: #555; font-size: 9pt; }
.small { font-size: 8pt; }
.conclusion { background: #faf5f0; border: 1px solid #e0cfc0; padding: 3mm; }
.signoff { text-align: right; margin: 10mm 4mm 6mm auto; width: max-content; max-width: 100%;
           page-break-inside: avoid; break-inside: avoid; }
.signoff div { text-align: center; }
.colophon { border-top: 1px solid #333; border-bottom: 1px solid #333; margin-top: 6mm; font-size: 9.5pt;
            page-break-inside: avoid; break-inside: avoid; }
.colophon div { padding: 1mm 2mm; } .colophon div + div { border-top: 1px solid #999; }
.colophon .right { float: right; }
footer { margin-top: 4mm; font-size: 8pt; color: #666; }
@media print { body { padding: 0; max-width: none; } a { color: inherit; text-decoration: none; } }
@media screen and (max-width: 640px) {
  body { padding: 12px; font-size: 15px; }
  .issuer { font-size: 22px; letter-spacing: 1px; } h1 { font-size: 19px; } h2 { font-size: 17px; }
  .meta { grid-template-columns: 1fr; }
  .kpis { grid-template-columns: repeat(2, 1fr); }
  table, tbody, tr, td { display: block; width: 100%; }
  thead { display: none; }
  tr { border: 1px solid #bbb; border-radius: 6px; margin: 0 0 8px; padding: 4px 8px; }
  td { border: 0; border-bottom: 1px dotted #ddd; padding: 3px 0; display: flex; gap: 10px;
       justify-content: space-between; text-align: right; white-space: normal; }
  td:last-child { border-bottom: 0; }
  td::before { content: attr(data-label); color: #666; text-align: left; flex: 0 0 auto; max-width: 45%; }
  td.num { text-align: right; }
  table.orgs td:first-child { width: 100%; font-weight: bold; }
  .chart { overflow-x: auto; }
  .signoff { margin-right: 0; }
}
"""


def e(value: object) -> str:
    return "" if value is None else escape(str(value), quote=True)


def dt(text: str | None) -> str:
    """'2026-09-01T18:39:00+08:00' → '2026-09-01 18:39' (escaped, kept on one line)."""
    out = e((text or "")[:16].replace("T", " "))
    return f'<span class="nw">{out}</span>' if out else "—"


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def numeral(n: int) -> str:
    """1 → 一, 10 → 十, 11 → 十一, 20 → 二十 (section numbers up to 99)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else "十" if tens == 1 else NUMERALS[tens - 1] + "十"
    return head + (NUMERALS[ones - 1] if ones else "")


def render(report: Report, spec: ReportSpec) -> str:
    parts: list[str] = []
    n = 0
    for title, fn in SECTIONS:
        body = fn(report, spec)
        if body:
            parts.append(f"<section><h2>{numeral(n + 1)}、{e(title)}</h2>\n{body}</section>")
            n += 1
    return _page(report, "\n".join(parts))


def headline(r: Report) -> str:
    """'杭州市2026年第3季度分析报告': the scope (the top org for all orgs), the period, the kind, without
    saying 季度 or 年度 twice."""
    scope = r.scope_name if r.scope else (r.masthead.area if r.masthead and r.masthead.area else "")
    label = r.period.label
    title = r.title
    for word in ("季度", "年度"):
        if title.startswith(word) and label.endswith(word[0] if word == "年度" else word):
            title = title[len(word):] if word == "季度" else title[1:]
    return f"{scope}{label}{title}"


def _page(r: Report, body: str) -> str:
    title = headline(r)
    m = r.masthead
    assert m is not None, "gather sets the masthead"
    scan = f"；最近一次扫描：{dt(r.last_scan)}" if r.last_scan else ""
    docno = f'<p class="docno">{e(m.doc_number)}</p>' if m.doc_number else ""
    to = f'<p class="to">{e(m.recipients)}：</p>' if m.recipients else ""
    copy_to = f"<div>抄送：{e(m.copy_to)}。</div>" if m.copy_to else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><header class="masthead"><p class="issuer">{e(m.issuer)}</p>{docno}</header><hr class="redline">
<h1>{e(title)}</h1>
{to}<div class="meta"><div>报告期间：{e(r.period.label)}（<span class="nw">{e(r.period.start)}</span> 至 <span class="nw">{e(r.period.end - timedelta(days=1))}</span>）</div>
<div>范围：{e(r.scope_name)}{'（含下级机构）' if r.scope else ''}</div>
<div>数据截至：{dt(r.now.isoformat())}{scan}</div><div>依据：{e(r.clause)}</div></div>
{body}
<div class="signoff"><div>{e(m.signature)}</div><div>{e(m.date)}</div></div>
<div class="colophon">{copy_to}<div>{e(m.signature)}<span class="right">{e(m.date)}印发</span></div></div>
<footer>本报告由效能监管助手 govwatch 依据 DB50/T 957.7《“渝快办”工作规范 第7部分：效能监管工作规范》和
DB33/T 2036.7《政务办事“最多跑一次”工作规范 第7部分：监督评价与改进》自动生成，复查验证信息按
DB33/T 2036.7 §8.3 公开。</footer></body></html>
"""


def table(head: list[str], rows: list[list[str]], num_cols: tuple[int, ...] = (), cls: str = "",
          widths: tuple[float, ...] = ()) -> str:
    """A table; cells are already-escaped HTML. Empty rows → a '无' line. Each cell carries its
    column head (data-label) so that a phone shows the rows as labelled cards. `widths` (percent
    per column) fixes the layout of a wide table so that it fits the A4 width."""
    th = "".join(f"<th>{h}</th>" for h in head)
    if widths:
        cls = f"{cls} fixed".strip()
        th = "".join(f'<th style="width:{w:g}%">{h}</th>' for h, w in zip(head, widths))
    labels = [e(_TAG.sub("", h)) for h in head]
    if not rows:
        return (f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody><tr><td colspan="{len(head)}">无</td>'
                f'</tr></tbody></table>')
    body = "".join("<tr>" + "".join(
        f'<td class="num" data-label="{labels[i]}">{c}</td>' if i in num_cols else f'<td data-label="{labels[i]}">{c}</td>'
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


_TAG = re.compile(r"<[^>]+>")


def _org(r: Report, code: str | None) -> str:
    return e(r.names.get(code, code) if code else "（未指定）")


# ------------------------------------------------------------------ sections, in order

def _overview(r: Report, spec: ReportSpec) -> str:
    c, k = r.cases or {}, r.complaints or {}
    kpis = [("受理办件", c.get("accepted", 0)), ("办结办件", c.get("concluded", 0)),
            ("超期未办结（截至数据时间）", len(r.overdue_cases)),
            ("本期新发现问题", len(r.findings)) if r.scans_in_period or r.findings else ("本期新发现问题（本期无扫描）", "—"),
            ("投诉（有效）", f"{k.get('received', 0)}（{k.get('valid', 0)}）"), ("评价", r.evaluations),
            ("未关闭问题（截至数据时间）", r.rectification.open_total), ("超期未整改", len(r.rectification.overdue))]
    cells = "".join(f'<div class="kpi"><b>{e(v)}</b>{e(n)}</div>' for n, v in kpis)
    out = [f'<div class="kpis">{cells}</div>', _new_findings_note(r)]
    if r.narrative is not None:
        for title, items in (("亮点", r.narrative.highlights), ("问题", r.narrative.problems),
                             ("建议", r.narrative.advice)):
            out.append(f"<h3>{title}</h3><ol>" + "".join(f"<li>{e(t)}</li>" for t in items) + "</ol>")
    return "\n".join(x for x in out if x)


def _new_findings_note(r: Report) -> str:
    """Findings count in the period they were found: say so when no scan ran in the period."""
    if r.scans_in_period:
        return ""
    first = f"本期内没有运行扫描（首次扫描于 {dt(r.first_scan)}）" if r.first_scan else "尚未运行扫描"
    return (f'<p class="note">{first}：问题按扫描发现的时间计入，故本期新发现问题为 '
            f'{len(r.findings)} 项；截至数据时间仍未关闭的问题共 {r.rectification.open_total} 项，见“发现的问题”。</p>')


def _indicators(r: Report, spec: ReportSpec) -> str:
    if not r.lines:
        return '<p class="note">本期没有可计算的指标（未加载规则包或无数据）。</p>'
    rows = [[e(l.code), e(l.name), f"{_n(l.numerator)} / {_n(l.denominator)}", _value(l), e(l.target),
             _passed(l.passed), pct(l.previous), _change_of(l)] for l in r.lines]
    return (table(["编号", "指标", "分子 / 分母", "本期", "目标", "结果", "上期", "较上期"], rows, (2, 3, 6, 7))
            + _indicator_notes(r))


def _value(line: IndicatorLine) -> str:
    shown = percent(line.value, line.limits, trim=False)          # never rounded onto its target
    if line.small_sample:
        return f'{shown}<br><span class="small">样本不足（n={_n(line.denominator)}）</span>'
    return shown


def _change_of(line: IndicatorLine) -> str:
    if line.change is not None:
        return _change(line.change)
    if line.value is not None and line.previous is not None and (line.small_sample or line.previous_small):
        return '<span class="small">样本不足，不比较</span>'
    if line.item_based and line.previous is None:
        return '<span class="small">无上期快照</span>'
    return "—"


def _indicator_notes(r: Report) -> str:
    notes = []
    p4 = next((l for l in r.lines if l.code == "P4" and l.value), None)
    if p4 is not None and p4.value:
        notes.append(f"P4 为行政许可事项法定时限之和 ÷ 承诺时限之和（{_n(p4.numerator)} ÷ {_n(p4.denominator)} 个工作日）。"
                     f"本期 {pct(p4.value)}，即承诺时限平均只有法定时限的 {100 / p4.value:.1f}%；目标 ≥ 150% 即"
                     f"承诺时限不超过法定时限的三分之二，超过 100% 越多，压缩越多。")
    if any(l.small_sample or l.previous_small for l in r.lines):
        notes.append(f"标注“样本不足”的比率所依据的记录不足 {MIN_SAMPLE} 条，仅供参考，不计算较上期变化。")
    if any(l.item_based for l in r.lines):
        notes.append("P1–P4、P6 按事项清单计算：每期数值取首次生成该期报告时保存的快照，上期没有快照时不作比较。")
    return "".join(f'<p class="note">{e(n)}</p>' for n in notes)


def _n(v: float | None) -> str:
    if v is None:
        return "—"
    return e(int(v) if float(v).is_integer() else round(v, 2))


def _passed(p: bool | None) -> str:
    if p is None:
        return "无数据"
    return {True: '<span class="pass">达标</span>', False: '<span class="fail">未达标</span>'}.get(p, "无数据")


def _change(d: float | None) -> str:
    if d is None:
        return "—"
    cls = "up" if d > 0 else "down" if d < 0 else ""
    return f'<span class="{cls}">{"+" if d > 0 else ""}{d * 100:.1f} 个百分点</span>'


def _rankings(r: Report, spec: ReportSpec) -> str:
    if not r.rankings:
        return ""
    out = []
    for rk in r.rankings:
        rows = [[str(x.rank), e(x.name), str(x.accepted), _p5(x), str(x.overdue_cases), str(x.open_findings),
                 str(x.overdue_findings), f"{x.passed}/{x.known}" if x.known else "—"] for x in rk.rows]
        out += [f"<h3>{e(rk.title)}（{len(rk.rows)} 个）</h3>",
                table(["排名", "单位", "受理办件", "按时办结率", "超期办件", "未关闭问题", "超期未整改", "指标达标"],
                      rows, (0, 2, 3, 4, 5, 6, 7), widths=(6, 30, 10, 11, 10, 11, 11, 11))]
    out.append('<p class="note">排名依次按 P1–P9 指标达标比例、P5 按时办结率（高者在前）、超期未办结办件、未关闭问题'
               '（少者在前）；办件与问题数截至数据时间，含下级机构。</p>')
    return "\n".join(out)


def _p5(x: RankRow) -> str:
    if x.p5 is None:
        return "—"
    small = x.p5_n is not None and x.p5_n < MIN_SAMPLE
    return pct(x.p5) + ('<br><span class="small">样本不足</span>' if small else "")


def _findings(r: Report, spec: ReportSpec) -> str:
    by_sev = [[e(SEVERITY_NAMES.get(s, s)), str(n)] for s, n in r.by_severity]
    by_org = [[_org(r, o), str(n)] for o, n in r.by_org]
    out = [f"<p>本期新发现问题 {len(r.findings)} 项；截至 {dt(r.now.isoformat())} 仍未关闭的问题 "
           f"{r.rectification.open_total} 项。</p>"]
    if r.findings:
        out += ["<h3>本期新发现问题（按条款）</h3>", _clause_table(r, r.by_clause, "问题数"),
                "<h3>按严重程度</h3>", table(["严重程度", "问题数"], by_sev, (1,)),
                "<h3>按机构</h3>", table(["机构", "问题数"], by_org, (1,))]
    out += [f"<h3>截至 {dt(r.now.isoformat())} 仍未关闭的问题（按条款，共 {r.rectification.open_total} 项）</h3>",
            _clause_table(r, r.rectification.open_by_clause, "问题数")]
    return "\n".join(out)


def _clause_table(r: Report, counted: Iterable[tuple[tuple[str, str], int]], label: str) -> str:
    """One row a clause: the standard, the clause number with its title (the rule's), the count."""
    rows = [[e(std), f'<span class="nw">§{e(cl)}</span> {e(r.clause_title(std, cl))}', str(n)]
            for (std, cl), n in counted]
    return table(["标准", "条款", label], rows, (2,))


def _overdue(r: Report, spec: ReportSpec) -> str:
    worst = r.overdue_cases.worst[: r.top_n]         # sorted by working days over, deadline, case_no
    rows = [[e(c.case_no), e(c.item_name), e(c.org_name), e(_officer(r, c.handler)), dt(c.due_at), str(c.overdue_wd)]
            for c in worst]
    more = (f"下表列出超期最久的 {len(worst)} 件，完整清单见同名 xlsx 文件的“超期办件”表。"
            if len(r.overdue_cases) > len(worst) else "")
    return (f"<p>截至 {dt(r.now.isoformat())}，超过承诺办结时间仍未办结的办件 {len(r.overdue_cases)} 件。{more}</p>"
            + table(["办件编号", "事项", "机构", "经办人", "承诺办结时间", "超期工作日"], rows, (5,)))


def _officer(r: Report, officer_id: str | None) -> str:
    """The officer's name (工号 only when the officer is unknown)."""
    if not officer_id:
        return "—"
    return r.officers.get(officer_id) or officer_id


def _rectification(r: Report, spec: ReportSpec) -> str:
    x = r.rectification
    status = [[e(STATUS_NAMES.get(s, s)), str(n)] for s, n in sorted(x.by_status.items())]
    summary = (f"<p>未关闭问题 {x.open_total} 项，其中超过整改期限 {len(x.overdue)} 项；本期复查通过 {x.verified} 项、"
               f"复查未通过 {x.rejected} 项，已整改问题反弹 {x.rebounds} 项，复查后仍存在 {x.persisted} 项。</p>")
    worst = sorted(x.overdue, key=lambda f: (f["due_at"], f["id"]))[: r.top_n]
    overdue = [[str(f["id"]), _org(r, f["org"]),
                f'<span class="nw">{e(f["standard"])} §{e(f["clause"])}</span> {e(r.clause_title(f["standard"], f["clause"]))}',
                e(_officer(r, f["assignee"])), dt(f["due_at"]), e(STATUS_NAMES.get(f["status"], f["status"]))]
               for f in worst]
    more = f"（列出期限最早的 {len(worst)} 项，共 {len(x.overdue)} 项）" if len(x.overdue) > len(worst) else ""
    rechecks = [[dt(v["at"]), str(v["finding_id"]), _org(r, v["org"]), e(f"{v['standard']} §{v['clause']}"),
                 '<span class="pass">通过</span>' if v["action"] == "verify_pass" else '<span class="fail">未通过</span>',
                 e(_officer(r, v["actor"])), e(v["note"] or "")] for v in x.rechecks]
    return "\n".join([summary, table(["状态", "数量"], status, (1,)),
                      f"<h3>超期未整改问题{more}</h3>",
                      table(["编号", "机构", "条款", "责任人", "整改期限", "状态"], overdue),
                      "<h3>复查验证结果公开（DB33/T 2036.7 §8.3）</h3>",
                      table(["复查时间", "问题编号", "机构", "条款", "结论", "复查人", "复查意见"], rechecks)])


def _orgs(r: Report, spec: ReportSpec) -> str:
    if not r.orgs:
        return ""
    head = ["机构", "新问题", "超期办件", *CODES, "达标"]   # 超期办件 at the data time
    rows = []
    for o in r.orgs:
        by = {l.code: l for l in o.lines}
        cells = [_cell(by.get(c)) for c in CODES]
        known = [l for l in o.lines if l.passed is not None]
        rows.append([e(o.name), str(o.findings), str(o.overdue_cases), *cells,
                     f"{sum(1 for l in known if l.passed)}/{len(known)}"])
    cols = '<colgroup><col style="width:17%"><col style="width:6%"><col style="width:6%">' + \
        '<col style="width:7.5%">' * len(CODES) + '<col style="width:3.5%"></colgroup>'
    return (table(head, rows, tuple(range(1, len(head))), cls="orgs").replace("<thead>", cols + "<thead>", 1)
            + '<p class="note">✓ 达标，✗ 未达标，— 无数据；“达标”为达标项数 / 有数据的指标数。</p>')


def _cell(line: IndicatorLine | None) -> str:
    """A figure with its verdict as a mark (✓ 达标, ✗ 未达标), not as a colour only."""
    if line is None or line.value is None:
        return "—"
    if line.passed is None:
        return pct(line.value)
    figure = f"{line.value * 100:.0f}%" if line.value >= 10 else pct(line.value)
    return f'<span class="{"pass" if line.passed else "fail"}">{figure}{"✓" if line.passed else "✗"}</span>'


def _charts(r: Report, spec: ReportSpec) -> str:
    if "charts" not in spec.parts:
        return ""
    out = []
    if r.trends:
        labels = [m for m, _ in r.trends]
        goals = {l.code: l.goal for l in r.lines}
        panels = [(f"{c} {INDICATOR_NAMES[c]}", [v.get(c) for _, v in r.trends], goals.get(c)) for c in CODES]
        panels = [p for p in panels if any(v is not None for v in p[1])]
        if panels:
            out.append(_chart(charts.small_multiples("P1–P9 指标逐月趋势（虚线为目标值）", labels, panels)))
            out.append('<p class="note">P1–P4、P6 按事项清单计算，只有保存了快照的月份才有数值。</p>')
        else:
            out.append('<p class="note">P1–P9 指标逐月趋势：本期各月均无可计算的指标，图略。</p>')
    out += _org_charts(r)
    out += _heat(r)
    out += _reasons(r)
    return "\n".join(out) or '<p class="note">本期没有可绘图的数据。</p>'


def _chart(svg: str) -> str:
    return f'<div class="chart">{svg}</div>'


def _bars(title: str, items: Sequence[tuple[str, float]], empty: str, **kw: Any) -> str:
    """A bar chart, or a sentence saying there is nothing to draw."""
    if charts.is_empty(items):
        return f'<p class="note">{e(title)}：{e(empty)}，图略。</p>'
    return _chart(charts.bar_chart(title, items, **kw))


def _org_charts(r: Report) -> list[str]:
    if not r.orgs:
        return []
    passed = sorted(((o.name, sum(1 for l in o.lines if l.passed)) for o in r.orgs), key=lambda t: -t[1])
    found = sorted(((o.name, o.findings) for o in r.orgs), key=lambda t: -t[1])
    return [_bars("各机构 P1–P9 达标项数排名", passed, "各机构均无达标的指标"),
            _bars("各机构本期新发现问题数", found, "本期各机构均无新发现问题")]


def _heat(r: Report) -> list[str]:
    """One heat map per standard (a pack's clauses are not mixed with the other's): child orgs × the
    most frequent clauses of the findings still open at the data time, with a clause legend."""
    rows_data = r.rectification.open_rows
    if not rows_data:
        return ['<p class="note">问题分布热力图：截至数据时间没有未关闭的问题，图略。</p>']
    owner = {}
    for o in r.orgs:
        owner.update({c: o.name for c in _subtree(r, o.org)})
    out = []
    for std in sorted({f["standard"] for f in rows_data}):
        mine = [f for f in rows_data if f["standard"] == std]       # counts: {org, standard, clause, n}
        by_clause: dict[str, int] = {}
        values: dict[tuple[str, str], float] = {}
        for f in mine:
            org = owner.get(f["org"], r.names.get(f["org"], f["org"] or "（未指定）"))
            by_clause[f["clause"]] = by_clause.get(f["clause"], 0) + f["n"]
            values[(org, f"§{f['clause']}")] = values.get((org, f"§{f['clause']}"), 0) + f["n"]
        cols = [c for c, _ in sorted(by_clause.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
        totals: dict[str, float] = {}
        for (name, _), v in values.items():
            totals[name] = totals.get(name, 0) + v
        rows = sorted(totals, key=lambda name: (-totals[name], name))[:15]        # ties by name: the same page every time
        svg = charts.heat_map(f"{std} 未关闭问题分布（机构 × 条款，前 {len(cols)} 个条款）", rows,
                              [f"§{c}" for c in cols], values)
        legend = "；".join(f"§{e(c)} {e(r.clause_title(std, c))}" for c in cols)
        out.append(_chart(svg) + f'<p class="note small">{legend}</p>')
    return out


def _subtree(r: Report, code: str | None) -> set[str]:
    return set(r.extras.get("subtrees", {}).get(code, [code]))


def _reasons(r: Report) -> list[str]:
    out = []
    if r.surveys:
        for code in ("a7", "a9"):
            d = next((d for d in r.surveys.distributions if d.question.code == code), None)
            if d and d.answered:
                items = sorted(((t, n) for _, t, n in d.counts if n), key=lambda t: -t[1])
                out.append(_chart(charts.bar_chart(f"差评原因：{QUESTIONS[code].text}（{code}，可多选）", items)))
    comments: dict[str, int] = {}
    for p in r.poor_evaluations:
        key = (p.get("comment") or "（未填写原因）").strip()
        comments[key] = comments.get(key, 0) + 1
    if comments:
        items = sorted(comments.items(), key=lambda t: -t[1])[:12]
        out.append(_chart(charts.bar_chart("差评原因（好差评评价内容）", items)))
    return out


def _surveys(r: Report, spec: ReportSpec) -> str:
    s = r.surveys
    if s is None:
        return ""
    if not s.responses:
        return "<p>本期没有问卷调查数据。</p>"
    channels = "、".join(f"{_CHANNEL.get(c, c)} {n} 份" for c, n in s.by_channel)
    rates = [[e(x.question), e(QUESTIONS[x.question].text), f"{x.satisfied} / {x.answered}", _rate(x)]
             for x in s.rates if x.answered]
    out = [f"<p>本期回收问卷 {s.responses} 份（{e(channels)}）。{e(s.reading)}</p>",
           table(["题号", "题目", "满意 / 作答", "满意率"], rates, (2, 3))]
    out += _rates_by(r, "按机构", [(r.names.get(o, o), rs) for o, rs in s.rates_by_org])
    out += _rates_by(r, "按调查方式", [(_CHANNEL.get(c, c), rs) for c, rs in s.rates_by_channel])
    out.append("<h3>各题选项分布</h3>")
    out += [_distribution(d) for d in s.distributions if d.answered]
    if s.open_answers:
        out.append("<h3>最期待改进的方面（a10）</h3><ul>" + "".join(f"<li>{e(t)}</li>" for t in s.open_answers[:30])
                   + "</ul>")
    return "\n".join(out)


_CHANNEL = {"onsite": "现场拦截", "online": "网上问卷", "phone": "电话调查"}


def _rates_by(r: Report, title: str, groups: Sequence[tuple[str, tuple[Rate, ...]]]) -> list[str]:
    codes = [q for q in ("a5", "a6", "b2", "b3", "b6")
             if any(x.question == q and x.answered for _, rs in groups for x in rs)]
    if not groups or not codes:
        return []
    rows = [[e(name), *[_rate(next((x for x in rs if x.question == q), None), short=True) for q in codes]]
            for name, rs in groups]
    head = "机构" if title == "按机构" else "调查方式"
    return [f"<h3>满意率{e(title)}</h3>", table([head, *codes], rows, tuple(range(1, len(codes) + 1))),
            f'<p class="note">* 作答不足 {MIN_SAMPLE} 份，样本不足，仅供参考。</p>']


def _rate(x: Rate | None, short: bool = False) -> str:
    """A satisfaction rate; under MIN_SAMPLE answers it is flagged 样本不足 (short: a star)."""
    if x is None or x.value is None:
        return "—"
    if x.answered >= MIN_SAMPLE:
        return pct(x.value)
    return f"{pct(x.value)}*" if short else f'{pct(x.value)}<br><span class="small">样本不足（n={x.answered}）</span>'


def _distribution(d: Distribution) -> str:
    kind = "可多选" if d.question.multiple else "单选"
    rows = [[e(letter), e(text), str(n), pct(n / d.answered if d.answered else None)] for letter, text, n in d.counts]
    return (f"<h3>{e(d.question.code)}. {e(d.question.text)}（{kind}，作答 {d.answered} 份）</h3>"
            + table(["选项", "内容", "人数", "占比"], rows, (2, 3)))


def _poor(r: Report, spec: ReportSpec) -> str:
    if "poor" not in spec.parts:
        return ""
    poor = r.poor_evaluations
    open_first = sorted(poor, key=lambda p: (bool(p["rectified_at"]), p["evaluated_at"], p["id"]))[: r.top_n]
    rows = [[dt(p["evaluated_at"]), _org(r, p["org"]), e(p["case_no"] or "—"), str(p["level"]),
             e(p["comment"] or ""), "已整改" if p["rectified_at"] else '<span class="fail">未整改</span>']
            for p in open_first]
    unrectified = sum(1 for p in poor if not p["rectified_at"])
    by_org = sorted(Counter(r.names.get(p["org"], p["org"]) for p in poor).items(), key=lambda kv: (-kv[1], kv[0]))
    more = f"下表列出其中 {len(rows)} 件（未整改的在前），完整清单见 xlsx 文件的“差评”表。" if len(poor) > len(rows) else ""
    out = [f"<p>本期差评（评价等级 1–2）{len(poor)} 件，其中未整改 {unrectified} 件。{more}</p>"]
    if len(by_org) > 1:
        out.append(table(["机构", "差评数"], [[e(o), str(n)] for o, n in by_org[:15]], (1,)))
    out.append(table(["评价时间", "机构", "办件", "等级", "评价内容", "整改"], rows, (3,)))
    return "\n".join(out)


def _disclosures(r: Report, spec: ReportSpec) -> str:
    d = r.disclosures
    if "disclosures" not in spec.parts or d is None:
        return ""
    total = sum(d.by_category.values())
    if not total:
        return "<p>本期没有政务公开记录（主动公开信息或政府信息公开申请）。</p>"
    rows = [[name, str(d.by_category.get(c, 0)), str(d.on_time.get(c, 0)),
             str(sum(1 for x in d.late if x.category == c))] for c, name in DISCLOSURE_CATEGORIES.items()]
    lim = d.limits
    out = [f"<p>本期形成或收到政务公开事项 {total} 件，在《政府信息公开条例》规定时限内公开或答复 "
           f"{sum(d.on_time.values())} 件，超过时限 {len(d.late)} 件，尚在时限内未公开或答复 {d.pending} 件"
           f"（主动公开 {lim['publish_days']} 个工作日，第二十六条；依申请公开 {lim['answer_days']} 个工作日，"
           f"经同意延长的最长 {lim['answer_days_extended']} 个，第三十三条）。</p>",
           table(["类别", "件数", "按时公开或答复", "超过时限"], rows, (1, 2, 3))]
    if d.late:
        shown = d.late[: r.top_n]
        more = f"下表列出超过天数最多的 {len(shown)} 件。" if len(d.late) > len(shown) else ""
        out.append(f"<p>超过时限的政务公开事项：{more}</p>")
        out.append(table(["形成或收到", "机构", "信息名称", "类别", "时限", "公开或答复", "超过（工作日）"],
                         [[dt(x.formed_at), _org(r, x.org), e(x.title), DISCLOSURE_CATEGORIES.get(x.category, x.category),
                           str(x.limit), dt(x.published_at) if x.published_at else '<span class="fail">未公开</span>',
                           str(x.days_over)] for x in shown], (4, 6)))
    return "\n".join(out)


def _index(r: Report, spec: ReportSpec) -> str:
    if "index" not in spec.parts:
        return ""
    if r.index_error:
        return f'<p class="fail">效能指数无法计算：{e(r.index_error)}</p>'
    if not r.index_rows:
        return "<p>没有参与排名的机构。</p>"
    dims = list(r.index_rows[0].dimensions)
    rows = [[_rank_cell(x), e(x.org_name), _score(x.score), *[_score(x.dimensions[d]) for d in dims],
             _delta(x.change)] for x in r.index_rows]
    items = [(f"{x.org_name}", x.score) for x in r.index_rows if x.score is not None]
    rest = (100 - 10 - 22 - 9 - 9) / max(1, len(dims))
    widths = (10, 22, 9, *([rest] * len(dims)), 9)
    return "\n".join([table(["排名（同级）", "机构", "总指数", *dims, "较上期"], rows, tuple(range(2, len(dims) + 4)),
                            widths=widths),
                      '<p class="note">各末级指标先统一标准化到 0–100（功效系数法的 60–100 线性换算为 0–100），再按权重'
                      '线性加权合成（§6.3.2.3）；区县与部门分组排名（§6.3.2.4 横向比较同类机构）；某一维度没有数据的机构'
                      '不计总指数、不排名，列出所缺维度。' + e(r.index_note) + '</p>',
                      _bars("政务服务效能指数排名", items, "没有可排名的指数得分")])


def _rank_cell(x: IndexRow) -> str:
    group = {"district": "区县", "department": "部门"}.get(x.group, x.group)
    if not x.complete:
        return f'<span class="small">{e(group)}：数据不全，不排名（缺 {e("、".join(x.missing_dimensions))}）</span>'
    return f"{e(group)} 第 {x.rank} 名" if x.rank else "—"


def _score(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _delta(v: float | None) -> str:
    return "—" if v is None else f'<span class="{"up" if v >= 0 else "down"}">{v:+.2f}</span>'


def _conclusion(r: Report, spec: ReportSpec) -> str:
    problems = "".join(f"<li>{e(p)}</li>" for p in r.problems) or "<li>本期未发现需要通报的问题。</li>"
    rows = [[f'<span class="nw">{e(g.clause)}</span><br>{e(g.clause_title)}', e(g.problem), e(g.measure),
             _units(g.orgs), dt(g.deadline)] for g in r.suggestion_groups]
    return "\n".join([f'<div class="conclusion"><b>评价结论：</b>{e(r.conclusion)}</div>',
                      f"<h3>存在的问题</h3><ol>{problems}</ol>",
                      f"<h3>整改建议（按条款归并，共 {len(r.suggestions)} 条，明确责任单位、措施与期限）</h3>",
                      table(["依据", "问题", "整改措施", "责任单位", "整改期限"], rows, widths=(22, 21, 23, 23, 11)),
                      '<p class="note">整改期限按工作日计算：红色问题 3 个、黄色 5 个、指标 10 个工作日；同一条款下'
                      '各单位的期限相同时只列最早者。</p>'])


def _units(orgs: Sequence[str]) -> str:
    if len(orgs) <= 6:
        return e("、".join(orgs))
    return e("、".join(orgs[:6])) + f"等 {len(orgs)} 个单位"


def _notes(r: Report, spec: ReportSpec) -> str:
    return "<ol>" + "".join(f"<li>{e(n)}</li>" for n in r.notes) + "</ol>" if r.notes else ""


# The report's numbered sections, in display order (title, renderer).
SECTIONS: list[tuple[str, Callable[[Report, ReportSpec], str]]] = [
    ("总体情况", _overview),
    ("P1–P9 定量评价指标（DB33/T 2036.7 §5.2–5.3）", _indicators),
    ("各区县、各部门排名", _rankings),
    ("发现的问题", _findings),
    ("超期办件督办清单（DB50/T 957.7 §4.2 a）", _overdue),
    ("整改与复查情况（DB33/T 2036.7 §8.1–8.4）", _rectification),
    ("各机构（片区）情况", _orgs),
    ("大数据图表分析（DB50/T 957.7 §4.2 d）", _charts),
    ("满意度调查统计（DB33/T 2036.7 §5.3.2.1，附录 A、B）", _surveys),
    ("差评情况", _poor),
    ("政务公开情况（DB50/T 957.7 §3.3）", _disclosures),
    ("政务服务效能指数排名（DB50/T 957.7 §6.3，附录 A）", _index),
    ("评价结论、存在问题与整改建议（DB50/T 957.7 §6.5）", _conclusion),
    ("口径说明（标准未明确之处本报告采用的读法）", _notes),
]
