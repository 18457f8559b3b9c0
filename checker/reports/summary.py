"""The short Chinese text a bot sends with a report (a few lines, no HTML)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .index import GROUP_NAMES

from .html import headline

if TYPE_CHECKING:
    from .model import Report


def text(report: Report, path: str) -> str:
    r, x = report, report.rectification
    failed = [l.code for l in r.lines if l.passed is False]
    known = [l for l in r.lines if l.passed is not None]
    lines = [
        f"【{headline(r)}】（{r.clause}）",
        f"数据截至 {r.now.isoformat(timespec='minutes')}；受理办件 {(r.cases or {}).get('accepted', 0)} 件，"
        f"超期未办结 {len(r.overdue_cases)} 件。",
        (f"本期新发现问题 {len(r.findings)} 项；" if r.scans_in_period or r.findings
         else "本期内没有运行扫描，新发现问题无从统计；")
        + f"截至数据时间未关闭 {x.open_total} 项，超期未整改 {len(x.overdue)} 项；"
        f"本期复查通过 {x.verified} 项、未通过 {x.rejected} 项，反弹 {x.rebounds} 项，复查后仍存在 {x.persisted} 项。",
    ]
    if known:
        tail = f"，未达标：{'、'.join(failed)}" if failed else ""
        lines.append(f"P1–P9 指标 {len(known) - len(failed)}/{len(known)} 项达标{tail}。")
    if r.surveys is not None and r.surveys.responses:
        rate = r.surveys.rate("a5")
        if rate and rate.value is not None:
            small = "（样本不足 30 份，仅供参考）" if rate.answered < 30 else ""
            lines.append(f"问卷 {r.surveys.responses} 份，办事过程满意率（a5）{rate.value * 100:.1f}%{small}。")
    firsts = [x for x in r.index_rows if x.rank == 1 and x.score is not None]
    if firsts:
        lines.append("效能指数第一名：" + "；".join(f"{GROUP_NAMES.get(x.group, x.group)} {x.org_name} {x.score:.2f} 分"
                                           for x in firsts) + "。")
    elif r.index_rows:
        lines.append("效能指数：各机构数据不全，本期不排名。")
    if r.suggestions:
        lines.append(f"整改建议 {len(r.suggestions)} 条，最早期限 {min(s.deadline for s in r.suggestions)}。")
    lines.append(f"报告：{path}")
    return "\n".join(lines)
