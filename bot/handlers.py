"""Bot commands and buttons: each parses its input, calls one checker function and answers in Chinese.

Roles (checker.findings.access.Scope): an officer sees the findings assigned to them; a supervisor those of
their org and every org below; an admin everything and also the admin commands.
"""
from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path

from checker import findings as fnd
from checker import notify
from checker.errors import Forbidden, InputError, NotFound
from checker.evaluate.indicators import compute as compute_indicators
from checker.evaluate.scan import check_record
from checker.findings import review
from checker.findings.casework import escalated, overdue_cases
from checker.notify import binding
from checker.periods import Period
from checker.reports import build_report
from checker.reports.pdf import PdfUnavailable

from . import views
from .commands import COMMANDS, HINT, ROLE_NAMES, UNKNOWN_USER, menu_for
from .notifiers.telegram import TelegramFormatter, esc, keyboard

REPORT_KINDS = ("daily", "weekly", "monthly", "quarterly", "annual")


# -- greeting and binding --------------------------------------------------------------------

async def start(g):
    """Greet the user: who they are bound as, or how to bind."""
    if g.scope is None:
        return await g.reply("您好，这里是效能监管助手（DB33/T 2036.7、DB50/T 957.7）。\n" + UNKNOWN_USER)
    await g.reply(f"您好，{esc(g.scope.name)}（{esc(g.scope.officer_id)}，{ROLE_NAMES[g.scope.role]}）。\n"
                  + views.help_text(g.scope.role, COMMANDS))


async def help_(g):
    """List the commands the user may use."""
    if g.scope is None:
        return await g.reply(UNKNOWN_USER)
    await g.reply(views.help_text(g.scope.role, COMMANDS))


async def bind(g):
    """Bind this Telegram user to the officer a one-time code was issued for."""
    if len(g.args) != 1:
        raise InputError("用法：/bind 绑定码（绑定码由本单位管理员提供）")
    await _bind(g, g.args[0])


async def _bind(g, code: str):
    """Spend the code, publish the role's command menu in this chat; the open backlog follows once."""
    if g.scope is not None:
        return await g.reply(f"您已绑定为 {esc(g.scope.name)}（{esc(g.scope.officer_id)}），无需再次绑定。")
    officer = await g.call(binding.bind, g.store, code, g.user_id, g.now)
    await publish_menu(g.context.bot, g.user_id, officer["role"])
    await g.reply(f"绑定成功：{esc(officer['name'])}（{esc(officer['id'])}，{ROLE_NAMES[officer['role']]}）。"
                  "今后的监管提醒会发到这里，您名下未办结的问题随后发来。发送 /help 查看命令。")


async def publish_menu(bot, chat_id: int, role: str | None) -> None:
    """The command menu of this chat: its role's commands only (set_my_commands with a chat scope)."""
    from telegram import BotCommand, BotCommandScopeChat
    await bot.set_my_commands([BotCommand(n, d) for n, d in menu_for(role)], scope=BotCommandScopeChat(chat_id))


BIND_CODE = re.compile(r"^[0-9A-Fa-f]{8}$")


async def text(g):
    """Free text outside a conversation: a stranger's bind code binds; anything else gets a short hint."""
    said = (g.update.effective_message.text or "").strip()
    if g.scope is None:
        if BIND_CODE.match(said):
            return await _bind(g, said)
        return await g.reply(UNKNOWN_USER)
    await g.reply(HINT)


# -- queries ---------------------------------------------------------------------------------

async def status(g):
    """Counts of findings by status and severity in the caller's scope."""
    rows = await g.call(fnd.list_findings, g.store, scope=g.scope, now=g.now)
    await g.reply(views.status_table(rows, g.scope))


async def findings(g):
    """The caller's findings of a status (default: active), one page at a time."""
    wanted = fnd.status_of(g.args[0]) if g.args else "active"
    await _page(g, "findings", wanted, 0)


async def overdue(g):
    """Open cases past their promised deadline, in the caller's scope or one org of it, longest overdue first."""
    await _page(g, "cases", _org_arg(g), 0)


async def overdue_fixes(g):
    """Active findings past their rectification deadline, in the caller's scope or one org of it."""
    await _page(g, "overdue", _org_arg(g), 0)


async def escalations(g):
    """The escalated findings in the supervisor's scope: responsible officer, working days overdue."""
    await _page(g, "esc", "", 0)


def _org_arg(g) -> str:
    org = g.args[0] if g.args else ""
    if org and not g.scope.covers_org(org):
        raise Forbidden(f"无权查看机构 {org} 的数据")
    return org


async def page(g):
    """Another page of a list (上一页 / 下一页)."""
    _, what, arg, offset = g.update.callback_query.data.split(":", 3)
    await _page(g, what, arg, int(offset), edit=True)


async def digest_page(g):
    """上一页 / 下一页 under a long notification digest: that page, edited into the same message
    (rebuilt from the outbox rows the message carried, so it works after a restart too)."""
    query = g.update.callback_query
    index = int(query.data.split(":", 1)[1])
    ref = f"{query.message.chat.id}:{query.message.message_id}" if query.message else ""
    found = await g.call(notify.page_of_message, g.store, TelegramFormatter(), g.scope.officer_id,
                         g.scope.name or g.scope.officer_id, ref, index, max(1, g.cfg.telegram.page_size))
    await query.answer()
    if found is None:
        return await g.reply("这条通知已无法翻页（已被重新发送）。发送 /findings 查看您的问题清单。")
    text, buttons = found
    await query.edit_message_text(text, parse_mode="HTML", reply_markup=_markup(buttons),
                                  disable_web_page_preview=True)


async def _page(g, what: str, arg: str, offset: int, edit: bool = False):
    size = g.cfg.telegram.page_size
    rows = await g.call(_list, g, what, arg)
    text, buttons = views.page(rows, what, arg, offset, size, g.now)
    if edit:
        await g.update.callback_query.answer()
        return await g.update.callback_query.edit_message_text(text, parse_mode="HTML",
                                                               reply_markup=_markup(buttons))
    await g.reply(text, buttons)


def _list(g, what: str, arg: str) -> list[dict]:
    if what == "cases":
        return overdue_cases(g.store, g.cfg, g.scope, g.now, org=arg or None)
    if what == "esc":
        return escalated(g.store, g.cfg, g.scope, g.now)
    if what == "overdue":
        rows = fnd.list_findings(g.store, status="active", org=arg or None, scope=g.scope, now=g.now)
        return [r for r in rows if r["due_at"] and datetime.fromisoformat(r["due_at"]) < g.now]
    return fnd.list_findings(g.store, status=arg, scope=g.scope, now=g.now)


def _markup(buttons):
    return keyboard(buttons) if buttons else None


async def case(g):
    """One case: its facts, deadline, working days left and its findings."""
    if len(g.args) != 1:
        raise InputError("用法：/case 办件编号")
    record = await g.call(g.store.get, "cases", g.args[0])
    related = [] if record is None else await g.call(fnd.list_findings, g.store, scope=g.scope,
                                                      subject=record["case_no"], now=g.now)
    if record is None or not (g.scope.covers_org(record["org"]) or record.get("handler") == g.scope.officer_id
                              or related):
        # The same answer either way: a stranger to the org must not learn that the case exists.
        raise NotFound(f"未找到办件 {g.args[0]}，或该办件不在您的查看范围内")
    item = await g.call(g.store.get, "items", record["item_code"])
    rulebook = getattr(g.rules, "rulebook", None)
    broken = None if rulebook is None else await g.call(check_record, g.store, g.cfg, rulebook, "cases",
                                                      record["case_no"], g.now)
    await g.reply(views.case_text(record, item, related, g.cfg, g.now, broken))


async def indicators(g):
    """The P1–P9 indicators (DB33/T 2036.7 §5.2–5.3) of a period and org."""
    period = Period.parse(g.args[0]) if g.args else Period.containing("month", g.now.date())
    org = g.args[1] if len(g.args) > 1 else (None if g.scope.sees_all else g.scope.org)
    if org and not g.scope.covers_org(org):
        raise Forbidden(f"无权查看机构 {org} 的指标")
    rows = await g.call(compute_indicators, g.store, g.cfg, g.rules.rulebook, period, org=org, now=g.now)
    await g.reply(views.indicator_table(rows, period, org))


async def report(g):
    """Build a report (the previous complete period) with checker.reports and send it as an A4 PDF (the
    HTML file where no PDF engine is installed)."""
    if len(g.args) != 1 or g.args[0] not in REPORT_KINDS:
        raise InputError("用法：/report daily|weekly|monthly|quarterly|annual")
    org = None if g.scope.sees_all else g.scope.org
    try:
        result = await g.aside(build_report, g.cfg, g.rules.rulebook, g.args[0], None, org, now=g.now,
                               out_dir=g.cfg.reports.out_dir, formats=("html", "pdf"))
    except PdfUnavailable:
        result = await g.aside(build_report, g.cfg, g.rules.rulebook, g.args[0], None, org, now=g.now,
                               out_dir=g.cfg.reports.out_dir)
    path = Path(getattr(result, "pdf_path", None) or result.html_path)
    with open(path, "rb") as fh:
        await g.update.effective_message.reply_document(fh, filename=path.name, caption=views.report_caption(result))


async def rules(g):
    """The rule packs in use and their versions."""
    await g.reply(views.rules_text(g.rules.rulebook))


# -- admin -----------------------------------------------------------------------------------

async def silence(g):
    """Silence a rule (or pattern like db33.case.*) for an org and the orgs below it, for a while."""
    if len(g.args) < 4:
        raise InputError("用法：/silence 规则编号 机构编码 时长(如 3d、12h) 原因")
    rule, org, duration, reason = g.args[0], g.args[1], g.args[2], " ".join(g.args[3:])
    s = await g.call(notify.add_silence, g.store, rule, org, duration, reason, g.scope.officer_id, g.now)
    await g.reply(f"已静默 #{s['id']}：规则 {esc(rule)}，机构 {esc(org)} 及下级，至 {esc(s['ends_at'][:16])}。"
                  f"期间的提醒保留为“已静默”，不会丢失。取消：/unsilence {s['id']}")


async def unsilence(g):
    """End a silence early."""
    if len(g.args) != 1 or not g.args[0].isdigit():
        raise InputError("用法：/unsilence 静默编号")
    await g.call(notify.remove_silence, g.store, int(g.args[0]), g.scope.officer_id, g.now)
    await g.reply(f"已取消静默 #{g.args[0]}。")


async def reload(g):
    """Validate the rule files and swap them in; a bad pack is refused and the old rules stay."""
    outcome = await asyncio.to_thread(g.rules.reload_if_changed)
    if not outcome.changed:
        return await g.reply(f"规则文件没有改动，继续使用版本 {esc(getattr(g.rules.rulebook, 'version', ''))}。")
    if not outcome.loaded:
        problems = "\n".join(esc(p) for p in outcome.problems[:20])
        return await g.reply(f"规则有错误，未加载，仍使用原规则：\n<pre>{problems}</pre>")
    await g.reply(f"规则已重新加载，版本 {esc(outcome.version)}。")


# -- buttons on findings -----------------------------------------------------------------------

async def ack(g):
    """确认收到: the assignee acknowledges a finding (or the findings of one subject: ack:68,69)."""
    data = g.update.callback_query.data
    fids = [int(x) for x in data.split(":", 1)[1].split(",")]
    for fid in fids:
        await g.call(fnd.acknowledge, g.store, fid, g.scope.officer_id, now=g.now, data=g.audit)
    await _drop_button(g, data)
    await g.reply(f"✅ 已确认收到问题 {'、'.join(f'#{f}' for f in fids)}。整改完成后请点“提交整改”。")


async def verify_pass(g):
    """复查通过: a supervisor closes a rectified finding; one the latest scan still sees asks to confirm."""
    fid = _finding_id(g)
    finding = await g.call(fnd.get_finding, g.store, fid, now=g.now)
    if not g.scope.can_act(finding, "verify"):
        return await _pass(g, fid)                           # refused by checker.findings, with its reason
    still, said = await g.call(review.scan_state, g.store, finding)
    if still:
        return await g.reply(f"⚠️ {esc(said)}。确认问题 #{fid} 复查通过吗？",
                             [[(f"仍然通过 #{fid}", f"vpc:{fid}"), ("暂不通过", f"vpx:{fid}")]])
    await _pass(g, fid)


async def verify_pass_confirmed(g):
    """仍然通过: pass a finding the latest scan still sees, knowingly."""
    await _pass(g, _finding_id(g))


async def verify_pass_withdrawn(g):
    """暂不通过: nothing changes."""
    await g.reply(f"未做更改，问题 #{_finding_id(g)} 仍待复查。")


async def _pass(g, fid: int) -> None:
    await g.call(fnd.verify, g.store, fid, g.scope.officer_id, passed=True, now=g.now, data=g.audit)
    await _drop_button(g, f"vp:{fid}", f"vf:{fid}", f"vpc:{fid}")
    await g.reply(f"✅ 问题 #{fid} 复查通过，已关闭（DB33/T 2036.7 §8.3）。")


async def history(g):
    """The finding's audit trail, with who did what and when, and what the latest scan says."""
    fid = _number_arg(g, "/history 问题编号")
    await _history(g, fid)


async def history_button(g):
    """历史 #N under a 复查 request."""
    await _history(g, _finding_id(g))


async def _history(g, fid: int) -> None:
    finding = await g.call(fnd.get_finding, g.store, fid, scope=g.scope, now=g.now)
    events = await g.call(review.history, g.store, fid)
    _, said = await g.call(review.scan_state, g.store, finding)
    await g.reply(views.history_text(finding, events, said))


async def evidence(g):
    """Send the evidence of the finding's last rectification (the photo or document itself)."""
    await _evidence(g, _number_arg(g, "/evidence 问题编号"))


async def evidence_button(g):
    """证据 #N under a 复查 request."""
    await _evidence(g, _finding_id(g))


async def _evidence(g, fid: int) -> None:
    await g.call(fnd.get_finding, g.store, fid, scope=g.scope, now=g.now)       # refuses outside the scope
    found = await g.call(review.evidence, g.store, fid)
    if found is None:
        return await g.reply(f"问题 #{fid} 的整改没有附证据文件。")
    if g.update.callback_query is not None:
        await g.update.callback_query.answer()
    name, path = found
    with open(path, "rb") as fh:
        await g.context.bot.send_document(g.update.effective_chat.id, fh, filename=name,
                                          caption=f"问题 #{fid} 的整改证据")


def _number_arg(g, usage: str) -> int:
    if len(g.args) != 1 or not g.args[0].lstrip("#").isdigit():
        raise InputError(f"用法：{usage}")
    return int(g.args[0].lstrip("#"))


def _finding_id(g) -> int:
    return int(g.update.callback_query.data.split(":", 1)[1])


async def _drop_button(g, *datas: str) -> None:
    """Remove buttons already used from the message they sit on."""
    message = g.update.callback_query.message
    markup = getattr(message, "reply_markup", None) if message else None
    if markup is None:
        return
    rows = [[(b.text, b.callback_data) for b in row if b.callback_data not in datas]
            for row in markup.inline_keyboard]
    await g.update.callback_query.edit_message_reply_markup(_markup([r for r in rows if r]))

