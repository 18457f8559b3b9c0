"""The bot's commands as text in, text out, for channels without Telegram's handlers (DingTalk):
the same checker calls and the same views as bot/handlers.py, one function per command.

A message is a command (/status, status, 状态 …) or an action on a finding by its number:
`确认 68`, `整改 68 已补办并归档`, `通过 68`, `退回 68 照片不清晰` (the words of the buttons work too:
确认收到、提交整改、复查通过). Answers are Telegram-style HTML from bot/views.py; each channel
converts them to its markup (bot/notifiers/dingtalk.html_to_markdown).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from checker import findings as fnd
from checker.errors import Forbidden, GovwatchError, InputError, NotFound
from checker.evaluate.scan import check_record
from checker.findings import review
from checker.findings.access import Scope
from checker.findings.casework import overdue_cases
from checker.notify import binding

from . import views
from .commands import ROLE_NAMES
from .notifiers.telegram import esc

UNKNOWN = ("您还没有绑定效能监管助手。请向本单位管理员索取绑定码，然后发送“绑定 绑定码”；"
           "或请管理员在人员表中填写您的钉钉ID。")
GROUP_REFUSED = "为保护监管数据，效能监管助手只在单聊中使用，请直接与机器人单聊。"

# text command words → command name (the slash is optional; Chinese words are accepted)
WORDS = {"start": "help", "help": "help", "帮助": "help", "bind": "bind", "绑定": "bind", "status": "status",
         "状态": "status", "统计": "status", "findings": "findings", "问题": "findings", "清单": "findings",
         "overdue": "overdue", "超期": "overdue", "超期办件": "overdue", "overdue_fixes": "overdue_fixes",
         "超期问题": "overdue_fixes", "case": "case", "办件": "case", "rules": "rules", "规则": "rules"}
# action words → (verb, finding action)
ACTION_VERBS = {"确认": "ack", "确认收到": "ack", "ack": "ack", "整改": "rect", "提交整改": "rect", "rect": "rect",
                "通过": "vp", "复查通过": "vp", "vp": "vp", "仍然通过": "vpc", "退回": "vf", "vf": "vf",
                "历史": "hist", "history": "hist", "证据": "ev", "evidence": "ev"}
TEXT_HELP = ("对提醒中的问题可直接回复：确认 编号｜整改 编号 整改说明｜通过 编号（监管人员）｜退回 编号 理由（监管人员）。"
             "命令：/status、/findings [状态]、/overdue（超期办件）、/overdue_fixes（超期未整改问题）、/case 办件编号、"
             "/rules、/help。")


@dataclass
class Asker:
    """Who is asking on a channel: their scope (None for strangers), the store, config, clock."""
    store: object
    cfg: object
    scope: Scope | None
    user_id: str
    channel: str
    now: datetime
    rules: object | None = None          # checker.rules.holder.RulesHolder

    @property
    def audit(self) -> dict:
        return {f"{self.channel}_userid": self.user_id, "via": self.channel}


def handle(a: Asker, text: str) -> str:
    """Answer one text message (HTML)."""
    words = (text or "").strip().split()
    if not words:
        return _hint(a)
    head = words[0].lstrip("/").lstrip("／").lower()
    head, args = _split_glued(head, words[1:])
    try:
        if head in ACTION_VERBS:
            return _act(a, ACTION_VERBS[head], args)
        name = WORDS.get(head)
        if name == "bind":
            return _bind(a, args)
        if a.scope is None:
            return UNKNOWN
        if name is None:
            return _hint(a)
        return COMMAND_FUNCS[name](a, args)
    except GovwatchError as exc:
        return esc(str(exc))


def _split_glued(head: str, rest: list[str]) -> tuple[str, list[str]]:
    """`确认68` and `确认#68` are `确认 68`."""
    m = re.match(r"^(\D+?)#?(\d+)$", head)
    if m and m.group(1) in ACTION_VERBS:
        return m.group(1), [m.group(2), *rest]
    return head, rest


def _hint(a: Asker) -> str:
    return UNKNOWN if a.scope is None else TEXT_HELP


def _finding_ids(args: list[str]) -> list[int]:
    """68, #68 or 68,69 (the findings of one subject, as a merged entry's link sends them)."""
    parts = [p.strip().lstrip("#") for p in (args[0].replace("，", ",").split(",") if args else [])]
    if not parts or not all(p.isdigit() for p in parts):
        raise InputError("请在动作后写问题编号，例如：确认 68")
    return [int(p) for p in parts]


def _act(a: Asker, verb: str, args: list[str]) -> str:
    if a.scope is None:
        return UNKNOWN
    fids, rest = _finding_ids(args), " ".join(args[1:]).strip()
    fid, me = fids[0], a.scope.officer_id
    shown, typed = "、".join(f"#{f}" for f in fids), ",".join(map(str, fids))
    if verb in ("hist", "ev"):
        return _review(a, verb, fid)
    if verb == "ack":
        for one in fids:
            fnd.acknowledge(a.store, one, me, now=a.now, data=a.audit)
        return f"✅ 已确认收到问题 {shown}。整改完成后请回复：整改 {typed} 整改说明。"
    if verb == "rect":
        if not rest:
            raise InputError(f"请在编号后写整改说明，例如：整改 {typed} 已补办并归档（DB33/T 2036.7 §8.1）")
        for one in fids:
            fnd.submit(a.store, one, me, rest, now=a.now, data=a.audit)
        return f"✅ 问题 {shown} 已提交整改，等待监管人员复查。"
    if a.scope.role not in ("supervisor", "admin"):
        raise Forbidden("此操作仅限监管人员、管理员使用。")
    if verb in ("vp", "vpc"):
        still, said = review.scan_state(a.store, fnd.get_finding(a.store, fid, scope=a.scope, now=a.now))
        if still and verb == "vp":
            return f"⚠️ {esc(said)}。如确认复查通过，请回复：仍然通过 {fid}"
        fnd.verify(a.store, fid, me, passed=True, now=a.now, data=a.audit)
        return f"✅ 问题 #{fid} 复查通过，已关闭（DB33/T 2036.7 §8.3）。"
    if not rest:
        raise InputError(f"请在编号后写退回理由，例如：退回 {fid} 照片不清晰（DB33/T 2036.7 §8.3）")
    fnd.verify(a.store, fid, me, passed=False, note=rest, now=a.now, data=a.audit)
    return f"已退回问题 #{fid}，理由已转告责任人。"


def _review(a: Asker, verb: str, fid: int) -> str:
    finding = fnd.get_finding(a.store, fid, scope=a.scope, now=a.now)
    if verb == "hist":
        return views.history_text(finding, review.history(a.store, fid), review.scan_state(a.store, finding)[1])
    found = review.evidence(a.store, fid)
    if found is None:
        return f"问题 #{fid} 的整改没有附证据文件。"
    return (f"问题 #{fid} 的整改证据：{esc(found[0])}（{found[1].stat().st_size:,} 字节）。"
            "文件本身请在 Telegram 中发送 /evidence 查看，或请管理员从 govwatch 数据目录取得。")


def _bind(a: Asker, args: list[str]) -> str:
    if len(args) != 1:
        raise InputError("用法：绑定 绑定码（绑定码由本单位管理员生成）")
    officer = binding.bind(a.store, args[0], a.user_id, a.now, channel=a.channel)
    return (f"绑定成功：{esc(officer['name'])}（{esc(officer['id'])}，{ROLE_NAMES[officer['role']]}）。"
            "今后的监管提醒会发到这里。发送 /help 查看命令。")


def _help(a: Asker, args) -> str:
    return f"您好，{esc(a.scope.name)}（{esc(a.scope.officer_id)}，{ROLE_NAMES[a.scope.role]}）。\n{TEXT_HELP}"


def _status(a: Asker, args) -> str:
    return views.status_table(fnd.list_findings(a.store, scope=a.scope, now=a.now), a.scope)


def _findings(a: Asker, args) -> str:
    wanted = fnd.status_of(args[0]) if args else "active"
    rows = fnd.list_findings(a.store, status=wanted, scope=a.scope, now=a.now)
    return views.page(rows, "findings", wanted, 0, a.cfg.telegram.page_size, a.now)[0]


def _org(a: Asker, args) -> str | None:
    org = args[0] if args else None
    if org and not a.scope.covers_org(org):
        raise Forbidden(f"无权查看机构 {org} 的数据")
    return org


def _overdue(a: Asker, args) -> str:
    org = _org(a, args)
    rows = overdue_cases(a.store, a.cfg, a.scope, a.now, org=org)
    return views.page(rows, "cases", org or "", 0, a.cfg.telegram.page_size, a.now)[0]


def _overdue_fixes(a: Asker, args) -> str:
    org = _org(a, args)
    rows = [r for r in fnd.list_findings(a.store, status="active", org=org, scope=a.scope, now=a.now)
            if r["due_at"] and datetime.fromisoformat(r["due_at"]) < a.now]
    return views.page(rows, "overdue", org or "", 0, a.cfg.telegram.page_size, a.now)[0]


def _case(a: Asker, args) -> str:
    if len(args) != 1:
        raise InputError("用法：/case 办件编号")
    record = a.store.get("cases", args[0])
    if record is None:
        raise NotFound(f"未找到办件 {args[0]}")
    related = [f for f in fnd.list_findings(a.store, scope=a.scope, now=a.now) if f["subject"] == record["case_no"]]
    if not (a.scope.covers_org(record["org"]) or record.get("handler") == a.scope.officer_id or related):
        raise Forbidden(f"无权查看办件 {args[0]}：它不属于您所在机构")
    rulebook = getattr(a.rules, "rulebook", None)
    broken = None if rulebook is None else check_record(a.store, a.cfg, rulebook, "cases", record["case_no"], a.now)
    return views.case_text(record, a.store.get("items", record["item_code"]), related, a.cfg, a.now, broken)


def _rules(a: Asker, args) -> str:
    return views.rules_text(getattr(a.rules, "rulebook", None))


COMMAND_FUNCS: dict[str, Callable[[Asker, list[str]], str]] = {
    "help": _help, "status": _status, "findings": _findings, "overdue": _overdue, "overdue_fixes": _overdue_fixes,
    "case": _case, "rules": _rules}
