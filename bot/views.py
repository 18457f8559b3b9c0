"""The Chinese text of bot answers (HTML parse mode; every value from data is escaped)."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from checker.calendar import WorkCalendar
from checker.evaluate.indicators import percent
from checker.findings import STATUS_NAMES, STATUSES
from checker.notify import SEVERITY_ICON, SEVERITY_NAME

from .notifiers.telegram import esc

SEVERITIES = ("red", "yellow", "blue")
LIST_TITLES = {"findings": "问题清单", "overdue": "超过整改期限的问题", "cases": "超期办件", "esc": "升级督办的问题"}


def help_text(role: str, commands: dict) -> str:
    """The commands a bound user's role may use (never /bind: they are bound)."""
    lines = ["可用命令："]
    for name, reg in commands.items():
        if name not in ("bind", "start") and (reg.roles in (None, ()) or role in reg.roles):
            lines.append(f"/{name} — {esc(reg.description)}")
    lines.append("提醒消息下方的按钮：确认收到、提交整改；监管人员：复查通过、退回。")
    return "\n".join(lines)


def status_table(rows: list[dict], scope) -> str:
    counts = Counter((r["status"], r["severity"]) for r in rows)
    head = f"<b>问题统计</b>（{esc(scope.name or scope.officer_id)} 的范围，共 {len(rows)} 条）"
    lines = [head, "状态：" + " ".join(f"{SEVERITY_ICON[s]}{SEVERITY_NAME[s]}" for s in SEVERITIES)]
    for status in STATUSES:
        if any(counts[(status, s)] for s in SEVERITIES):
            lines.append(f"{STATUS_NAMES[status]}：" + " ".join(str(counts[(status, s)]) for s in SEVERITIES))
    return "\n".join(lines) if rows else head + "\n目前没有问题。"


def finding_line(r: dict, now: datetime | None = None) -> str:
    due = f"｜期限 {esc(r['due_at'][:10])}" if r.get("due_at") else ""
    return (f"{SEVERITY_ICON.get(r['severity'], '•')} #{r['id']} {STATUS_NAMES.get(r['status'], r['status'])}"
            f"{due}\n{esc(r['message'])}\n依据 {esc(r['standard'])} §{esc(r['clause'])}")


def page(rows: list[dict], what: str, arg: str, offset: int, size: int, now: datetime):
    """One page of a list and its 上一页 / 下一页 buttons."""
    shown = rows[offset:offset + size]
    label = STATUS_NAMES.get(arg, "未关闭" if arg == "active" else arg) if what == "findings" else arg
    head = f"<b>{LIST_TITLES[what]}</b>{'（' + esc(label) + '）' if label else ''}：共 {len(rows)} {'件' if what == 'cases' else '条'}"
    if not rows:
        return head + "，目前没有。", []
    head += f"，第 {offset + 1}–{offset + len(shown)} 条"
    nav = []
    if offset > 0:
        nav.append(("上一页", f"pg:{what}:{arg}:{max(0, offset - size)}"))
    if offset + size < len(rows):
        nav.append(("下一页", f"pg:{what}:{arg}:{offset + size}"))
    line = {"cases": case_line, "esc": escalation_line}.get(what, finding_line)
    return "\n\n".join([head, *(line(r, now) for r in shown)]), [nav]


def escalation_line(r: dict, now: datetime | None = None) -> str:
    """An escalated finding as a supervisor reads it: who is responsible, how long overdue, the clause."""
    return (f"{SEVERITY_ICON.get(r['severity'], '•')} #{r['id']} {STATUS_NAMES.get(r['status'], r['status'])}"
            f"｜责任人 {esc(r['assignee_name'] or '未指定')}｜超期 {r['overdue_days']} 个工作日\n"
            f"{esc(r['subject'])}｜依据 {esc(r['standard'])} §{esc(r['clause'])}")


def case_line(r: dict, now: datetime | None = None) -> str:
    """An overdue case: number, item, handler, deadline and how long past it (DB33/T 2036.7 §5.2.1.5)."""
    handler = f"｜经办 {esc(r.get('handler_name') or r.get('handler'))}" if r.get("handler") else ""
    return (f"🔴 办件 {esc(r['case_no'])} {esc(r.get('item_name') or r['item_code'])}\n"
            f"承诺办结 {esc(r['due_at'][:16].replace('T', ' '))}｜已超期 {r['overdue_days']} 个工作日{handler}\n"
            f"机构 {esc(r['org'])}｜依据 DB33/T 2036.7 §5.2.1.5")


def history_text(finding: dict, events: list[dict], scan_state: str) -> str:
    """A finding's history: each step with when, who, and the note; then what the latest scan says."""
    lines = [f"<b>问题 #{finding['id']} 处理经过</b>｜{STATUS_NAMES.get(finding['status'], finding['status'])}",
             f"{esc(finding['message'])}", f"依据 {esc(finding['standard'])} §{esc(finding['clause'])}"]
    for e in events:
        note = f"：{esc(e['note'])}" if e.get("note") else ""
        proof = "（附证据）" if e.get("evidence_path") else ""
        lines.append(f"{esc(e['at'][:16].replace('T', ' '))} {esc(e['action_name'])}｜{esc(e['actor_name'])}{note}{proof}")
    lines.append(esc(scan_state))
    return "\n".join(lines)


def case_text(case: dict, item: dict | None, related: list[dict], cfg, now: datetime, broken=None) -> str:
    """`broken`: the firings of checker.evaluate.scan.check_record, the record rules the case breaks now
    (None: not checked, nothing said)."""
    lines = [f"<b>办件 {esc(case['case_no'])}</b>",
             f"事项：{esc((item or {}).get('name') or case['item_code'])}",
             f"机构：{esc(case['org'])}｜渠道：{esc(case['channel'])}｜状态：{esc(case['status'])}",
             f"受理：{esc(case['accepted_at'][:16])}"]
    if case.get("due_at"):
        cal = WorkCalendar.from_config(cfg.calendar, cfg.tz, hall=case.get("hall"))
        left = cal.working_days_left(datetime.fromisoformat(case["due_at"]), now)
        state = f"剩余 {left} 个工作日" if left >= 0 else f"已超期 {-left} 个工作日"
        lines.append(f"承诺办结：{esc(case['due_at'][:16])}（{state}，依据 DB33/T 2036.7 §5.2.1.5）")
    if case.get("closed_at"):
        lines.append(f"办结：{esc(case['closed_at'][:16])}")
    if broken:
        lines.append(f"当前违反的规则 {len(broken)} 条：")
        lines += [f"• {esc(f.rule.title)}（{esc(f.rule.standard)} §{esc(f.rule.clause)}）：{esc(f.message)}"
                  for f in sorted(broken, key=lambda f: f.rule.id)]
    elif broken is not None:
        lines.append("当前未违反任何办件规则。")
    lines.append(f"相关问题 {len(related)} 条" + ("：" if related else "。"))
    return "\n".join(lines + [finding_line(r) for r in related])


def indicator_table(rows, period, org) -> str:
    lines = [f"<b>P1–P9 指标</b>｜{esc(period.label)}｜{esc(org or '全部机构')}（DB33/T 2036.7 §5.2–5.3）"]
    for r in rows:
        r = r if isinstance(r, dict) else vars(r)
        value = percent(r.get("value"), r.get("target"))         # never rounded onto its target
        mark = "✅" if r.get("passed") else ("❌" if r.get("passed") is False else "…")
        lines.append(f"{mark} {esc(r['code'])} {value}（{r.get('numerator')}/{r.get('denominator')}）"
                     f" 目标 {esc(_target(r.get('target')))}")
    return "\n".join(lines)


def _target(target) -> str:
    if isinstance(target, dict) and not target:
        return "—（只给数值）"
    if isinstance(target, dict):
        op, value = next(iter(target.items()))
        return {"gte": "≥", "eq": "=", "lte": "≤", "gt": ">", "lt": "<"}.get(op, op) + f"{value:.0%}"
    return str(target)


def report_caption(result) -> str:
    """A document caption is at most 1,024 characters (plain text)."""
    text = getattr(result, "text", "") or ""
    return text if len(text) <= 1000 else text[:1000] + "…"


def rules_text(rulebook) -> str:
    if rulebook is None:
        return "规则库尚未加载。"
    lines = [f"<b>当前规则</b>（版本 {esc(getattr(rulebook, 'version', ''))}）"]
    for pack in rulebook.packs:
        count = sum(1 for r in rulebook.rules if getattr(r, "standard", None) == _number(pack))
        lines.append(f"{esc(_number(pack))} {esc(getattr(pack, 'title', ''))}｜版本 "
                     f"{esc(getattr(pack, 'version', ''))}｜{count} 条规则")
    return "\n".join(lines)


def _number(pack) -> str:
    return getattr(pack, "number", None) or getattr(getattr(pack, "standard", None), "number", "") or ""
