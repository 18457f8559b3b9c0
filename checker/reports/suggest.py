"""Problems found, conclusion and rectification suggestions (DB50/T 957.7 §6.5 a–c, DB33/T 2036.7 §8.1):
every suggestion names the responsible org, the measure and a deadline in working days."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from ..calendar import WorkCalendar
from ..config import Config
from ..evaluate.indicators import percent
from .data import IndicatorLine, OverdueCases

DEADLINE_WD = {"red": 3, "yellow": 5, "blue": 10, "indicator": 10}
ADVICE = {
    "P1": "梳理未实现“最多跑一次”的事项，逐项制定流程再造方案",
    "P2": "将更多事项纳入“综合窗口”无差别受理",
    "P3": "推动事项进驻大厅集中受理，落实“两集中两到位”",
    "P4": "压缩行政许可事项承诺时限，提高规定时限办理率",
    "P5": "对超期办件逐件督办，分析超期原因并优化审批流程",
    "P6": "扩大即办件范围，能即办的当场办结",
    "P7": "提升网上办理深度，引导群众和企业网上办理",
    "P8": "对未整改的有效投诉限期整改并回访",
    "P9": "针对差评原因改进窗口服务，开展回访整改",
}


@dataclass(frozen=True)
class Suggestion:
    problem: str
    measure: str
    org: str
    org_name: str
    deadline: str          # YYYY-MM-DD
    clause: str


def deadline(cfg: Config, now: datetime, working_days: int) -> str:
    cal = WorkCalendar.from_config(cfg.calendar, cfg.tz)
    return cal.add(now.astimezone(cfg.tz).date(), working_days).isoformat()


def from_indicators(cfg: Config, now: datetime, org_lines: dict[str, Sequence[IndicatorLine]], names: dict[str, str]) -> list[Suggestion]:
    """One suggestion per org and P-code that missed its target."""
    out: list[Suggestion] = []
    due: str | None = None
    for org, lines in org_lines.items():
        for line in lines:
            if line.passed is False:
                due = due or deadline(cfg, now, DEADLINE_WD["indicator"])      # one calendar, not one per line
                out.append(Suggestion(
                    f"{line.code} {line.name} 为 {percent(line.value, line.limits)}，未达到 {line.target}",
                    ADVICE[line.code], org, names.get(org, org), due,
                    f"DB33/T 2036.7 §{line.clause}" if line.clause else "DB33/T 2036.7 §5.2"))
    return out


def from_overdue_cases(cfg: Config, now: datetime, cases: OverdueCases, names: dict[str, str]) -> list[Suggestion]:
    per_org = Counter(dict(cases.by_org))
    if not per_org:
        return []
    due = deadline(cfg, now, DEADLINE_WD["red"])
    return [Suggestion(f"{n} 件办件超过承诺办结时间未办结", "对超期办件逐件督办，限期办结并说明原因",
                       org, names.get(org, org), due, "DB50/T 957.7 §4.2 a)")
            for org, n in sorted(per_org.items())]


def from_overdue_findings(cfg: Config, now: datetime, findings: Iterable[dict[str, Any]], names: dict[str, str]) -> list[Suggestion]:
    per_org = Counter(f["org"] for f in findings if f["org"])
    if not per_org:
        return []
    due = deadline(cfg, now, DEADLINE_WD["yellow"])
    return [Suggestion(f"{n} 项问题已超过整改期限仍未整改完成", "明确整改责任人，落实整改措施并提交复查",
                       org, names.get(org, org), due, "DB33/T 2036.7 §8.1")
            for org, n in sorted(per_org.items())]


def from_rebounds(cfg: Config, now: datetime, events: Iterable[dict[str, Any]], names: dict[str, str]) -> list[Suggestion]:
    per_org = Counter(e["org"] for e in events if e["action"] == "rebound" and e["org"])
    if not per_org:
        return []
    due = deadline(cfg, now, DEADLINE_WD["yellow"])
    return [Suggestion(f"{n} 项已整改问题发生反弹", "查找反弹原因，建立长效机制防止问题反复",
                       org, names.get(org, org), due, "DB33/T 2036.7 §8.4")
            for org, n in sorted(per_org.items())]


def conclusion(lines: Sequence[IndicatorLine], findings_count: int, open_total: int, overdue_total: int) -> str:
    """The evaluation conclusion (DB50/T 957.7 §6.5 b)."""
    known = [l for l in lines if l.passed is not None]
    passed = sum(1 for l in known if l.passed)
    if not known:
        head = "本期无可计算的 P1–P9 指标数据"
    else:
        head = f"P1–P9 指标 {passed}/{len(known)} 项达标"
    verdict = ("总体运行良好" if passed == len(known) and overdue_total == 0
               else "存在需要整改的问题，应按整改建议限期落实")
    return f"{head}；本期新发现问题 {findings_count} 项，未关闭问题 {open_total} 项，其中超期未整改 {overdue_total} 项。{verdict}。"


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"
