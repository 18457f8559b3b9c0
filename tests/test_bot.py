"""The real python-telegram-bot Application, driven with Update.de_json; only the Bot API is fake."""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import timedelta

import pytest
from telegram import Update

from bot import app as bot_app
from bot.commands import BOT_COMMANDS, UNKNOWN_USER
from bot.notifiers.telegram import TelegramNotifier
from checker import config as config_mod
from checker import findings as fnd
from checker.notify import binding
from checker import notify
from checker.notify import PermanentError, RetryableError
from checker.reports.pdf import engine

from botworld import DAY, Rule, fire, seed
from fakebotapi import FakeBotAPI, FakeRequest

OFFICER, SUPERVISOR, CITY, ADMIN, OUTSIDER, STRANGER = 1001, 2001, 3001, 4001, 9001, 5555
OVERDUE = Rule("db33.case.overdue")


class Harness:
    """One event loop, one Application; `send`/`press` return what the bot said in that chat."""

    def __init__(self, app, api, store, cfg, loop):
        self.app, self.api, self.store, self.cfg, self.loop = app, api, store, cfg, loop

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def _process(self, update: dict, chat: int) -> list[str]:
        before = len(self.api.texts(chat))
        self.run(self.app.process_update(Update.de_json(self.api.push(update), self.app.bot)))
        return self.api.texts(chat)[before:]

    def send(self, user: int, text: str) -> list[str]:
        return self._process(self.api.message(user, text), user)

    def press(self, user: int, data: str, message: dict | None = None) -> list[str]:
        return self._process(self.api.press(user, data, message), user)

    def upload(self, update: dict, user: int) -> list[str]:
        return self._process(update, user)

    def deliver(self, now=DAY):
        return self.run(notify.deliver_pending(self.store, self.cfg, TelegramNotifier(self.app.bot), now))


def make_bot(tmp_path, monkeypatch, telegram=None) -> "Harness":
    """A started Application on the fake Bot API over the seeded world (telegram: config overrides)."""
    monkeypatch.setenv("GOVWATCH_TELEGRAM_TOKEN", "123456:TEST-TOKEN")
    cfg = config_mod.load(None, database=str(tmp_path / "govwatch.db"), reports={"out_dir": str(tmp_path / "r")},
                          telegram={"rate_limit": {"max_retries": 0}, "page_size": 5, **(telegram or {})})
    api = FakeBotAPI()
    app = bot_app.build_application(cfg, request=FakeRequest(api), clock=lambda: DAY)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(bot_app.start(app))
    store = app.bot_data["store"]
    seed(store, cfg, tmp_path)
    h = Harness(app, api, store, cfg, loop)
    h.ids = fire(store, cfg, [(OVERDUE, "C001", "办件 C001 已超期 <2> 个工作日", "E1"),
                              (OVERDUE, "C900", "宁波办件超期", "E9", "330200")])
    return h


def close_bot(h: "Harness") -> None:
    h.loop.run_until_complete(bot_app.stop(h.app))
    h.loop.close()


@pytest.fixture
def bot(tmp_path, monkeypatch):
    h = make_bot(tmp_path, monkeypatch)
    yield h
    close_bot(h)


def test_post_init_publishes_a_menu_per_role(bot):
    bot.run(bot_app.publish_menus(bot.app))                # as post_init does, now that officers are bound
    calls = bot.api.called("setMyCommands")[1:]
    default = calls[0]
    assert [c["command"] for c in _json(default["commands"])] == ["start", "help"] and "scope" not in default
    menus = {_json(c["scope"])["chat_id"]: {m["command"] for m in _json(c["commands"])} for c in calls[1:]}
    assert {"status", "findings", "case"} <= menus[OFFICER] and not {"silence", "indicators", "bind"} & menus[OFFICER]
    assert {"indicators", "report"} <= menus[SUPERVISOR] and "silence" not in menus[SUPERVISOR]
    assert {"silence", "reload", "report"} <= menus[ADMIN]
    assert set(BOT_COMMANDS_NAMES) >= menus[ADMIN]


BOT_COMMANDS_NAMES = [name for name, _ in BOT_COMMANDS]


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_build_application_needs_the_token(cfg, monkeypatch):
    monkeypatch.delenv("GOVWATCH_TELEGRAM_TOKEN", raising=False)
    with pytest.raises(Exception, match="GOVWATCH_TELEGRAM_TOKEN"):
        bot_app.build_application(cfg)


# -- strangers, binding ------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["/status", "/findings", "/overdue", "/case C001", "/rules", "/silence x y 1d z"])
def test_an_unknown_user_gets_an_explanation_and_no_data(bot, text):
    said = bot.send(STRANGER, text)
    assert said == [UNKNOWN_USER]


def test_start_explains_binding_to_a_stranger_and_greets_a_bound_officer(bot):
    said = bot.send(STRANGER, "/start")[0]
    assert "请向本单位管理员索取绑定码" in said and not re.search(r"/[a-z]", said)   # no command names
    greeting = bot.send(OFFICER, "/start")[0]
    assert "张三（E1，窗口人员）" in greeting and "/status" in greeting and "/silence" not in greeting
    assert "/silence" in bot.send(ADMIN, "/help")[0]


def test_bind_with_an_invite_code_once(bot):
    code = binding.invite(bot.store, bot.cfg, "E2", DAY)["code"]
    assert "绑定成功：李四（E2" in bot.send(STRANGER, f"/bind {code}")[0]
    assert "共 0 条" in bot.send(STRANGER, "/status")[0]
    assert "绑定码无效" in bot.send(6666, f"/bind {code}")[0]                     # one time only
    assert bot.send(6666, "/status") == [UNKNOWN_USER]


def test_an_expired_bind_code_is_refused(bot):
    code = binding.invite(bot.store, bot.cfg, "E2", DAY - timedelta(hours=25))["code"]
    assert "已过期" in bot.send(STRANGER, f"/bind {code}")[0]
    assert bot.store.officer("E2")["telegram_id"] is None


# -- queries by role ---------------------------------------------------------------------------

def test_status_counts_in_the_callers_scope(bot):
    assert "共 1 条" in bot.send(OFFICER, "/status")[0]                          # only E1's
    assert "共 1 条" in bot.send(SUPERVISOR, "/status")[0]                       # 上城区 and below
    admin = bot.send(ADMIN, "/status")[0]
    assert "共 2 条" in admin and "待处理：2 0 0" in admin


def test_findings_lists_only_what_the_caller_may_see(bot):
    mine = bot.send(OFFICER, "/findings")[0]
    assert "办件 C001 已超期 &lt;2&gt; 个工作日" in mine and "宁波" not in mine
    assert "依据 DB33/T 2036.7 §5.2.1.5" in mine
    assert "宁波办件超期" in bot.send(OUTSIDER, "/findings open")[0]
    assert "未知的发现状态" in bot.send(OFFICER, "/findings nonsense")[0]


def test_long_lists_page_with_buttons(bot):
    fire(bot.store, bot.cfg, [(OVERDUE, f"C1{i:02}", f"第{i}件", "E1") for i in range(8)])
    first = bot.send(OFFICER, "/findings")[0]
    assert "共 9 条，第 1–5 条" in first
    sent = bot.api.messages[OFFICER][-1]
    nav = sent["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in nav] == ["下一页"]
    bot.press(OFFICER, nav[0]["callback_data"], sent)
    edited = bot.api.called("editMessageText")[-1]
    assert "第 6–9 条" in edited["text"]
    assert [b["text"] for b in edited["reply_markup"]["inline_keyboard"][0]] == ["上一页"]


def test_overdue_fixes_lists_findings_past_their_deadline(bot):
    assert "共 0 条" in bot.send(SUPERVISOR, "/overdue_fixes")[0]     # due 2026-10-20, today 10-14
    bot.app.bot_data["clock"] = lambda: DAY + timedelta(days=10)
    said = bot.send(SUPERVISOR, "/overdue_fixes 330102001")[0]
    assert "超过整改期限的问题" in said and "共 1 条" in said
    assert "无权查看机构 330200" in bot.send(SUPERVISOR, "/overdue_fixes 330200")[0]


def test_case_shows_deadline_working_days_and_findings(bot):
    bot.store.conn.execute("UPDATE cases SET due_at = '2026-10-16T23:59:59+08:00' WHERE case_no = 'C001'")
    said = bot.send(OFFICER, "/case C001")[0]
    assert "食品经营许可" in said and "剩余 2 个工作日" in said and f"#{bot.ids['C001']}" in said
    # Another org's case and a missing one get the same answer (issue 12: no hint that it exists).
    assert bot.send(OUTSIDER, "/case C001")[0] == "未找到办件 C001，或该办件不在您的查看范围内"
    assert bot.send(OUTSIDER, "/case C777")[0] == "未找到办件 C777，或该办件不在您的查看范围内"
    assert "未找到办件 C404" in bot.send(OFFICER, "/case C404")[0]
    assert "用法：/case" in bot.send(OFFICER, "/case")[0]


def test_case_shows_the_rules_it_breaks_now(bot):
    # checker.evaluate.scan.check_record on the reference engine: the case's record rules that fire at the bot's now
    bot.store.conn.execute("UPDATE cases SET status = 'processing', due_at = '2026-10-16T23:59:59+08:00' "
                           "WHERE case_no = 'C001'")
    assert "当前未违反任何办件规则" in bot.send(OFFICER, "/case C001")[0]
    bot.store.conn.execute("UPDATE cases SET due_at = '2026-10-09T23:59:59+08:00' WHERE case_no = 'C001'")
    said = bot.send(OFFICER, "/case C001")[0]
    assert "当前违反的规则" in said and "超期" in said and "§" in said


def test_in_a_group_the_bot_says_one_line_and_shows_no_data(bot):
    group = -100777
    for text in ("/findings", "/case C001", "/status", "/start"):
        before = len(bot.api.texts(group))
        bot.run(bot.app.process_update(Update.de_json(bot.api.push(bot.api.message(SUPERVISOR, text, chat_id=group)),
                                                      bot.app.bot)))
        said = bot.api.texts(group)[before:]
        assert said == ["为保护监管数据，效能监管助手只在与您的私聊中回答，请私聊机器人使用。"], said
    assert bot.api.texts(SUPERVISOR) == []                              # nothing leaked to the private chat either
    assert "C001" in bot.send(SUPERVISOR, "/findings")[0]              # in private the same user sees the data


def test_officers_cannot_use_supervisor_or_admin_commands(bot):
    assert "仅限监管人员、管理员" in bot.send(OFFICER, "/indicators")[0]
    assert "仅限监管人员、管理员" in bot.send(OFFICER, "/report monthly")[0]
    for text in ("/silence db33.case.overdue 330102 1d 测试", "/unsilence 1", "/reload"):
        assert "仅限管理员" in bot.send(SUPERVISOR, text)[0]


def test_report_sends_the_report_file(bot):
    bot.send(SUPERVISOR, "/report monthly")
    documents = bot.api.called("sendDocument")
    assert documents
    if engine():
        assert documents[-1]["_filename"].endswith(".pdf")                 # an A4 PDF, fit to issue
    assert "用法：/report" in bot.send(SUPERVISOR, "/report hourly")[0]


def test_indicators_and_rules_answer_without_leaking_other_orgs(bot):
    said = bot.send(SUPERVISOR, "/indicators 2026-10")[0]
    assert "P1–P9 指标" in said
    assert "无权查看机构 330200" in bot.send(SUPERVISOR, "/indicators 2026-10 330200")[0]
    assert "无法识别的期间" in bot.send(SUPERVISOR, "/indicators 10月")[0]
    rules = bot.send(OFFICER, "/rules")[0]
    assert "当前规则" in rules


# -- buttons -----------------------------------------------------------------------------------

def _data(event) -> dict:
    return json.loads(event["data"]) if isinstance(event["data"], str) else event["data"]


def alert_for(bot, chat: int) -> dict:
    """Deliver the outbox and return the last text message the chat got (with its buttons; a 复查
    request is followed by its evidence as a document)."""
    bot.deliver()
    return [m for m in bot.api.messages[chat] if "text" in m][-1]


def test_ack_button_acknowledges_with_the_telegram_user_in_the_audit_trail(bot):
    fid = bot.ids["C001"]
    message = alert_for(bot, OFFICER)
    assert "依据 DB33/T 2036.7 §5.2.1.5" in message["text"]
    said = bot.press(OFFICER, f"ack:{fid}", message)
    assert said == [f"✅ 已确认收到问题 #{fid}。整改完成后请点“提交整改”。"]
    assert fnd.get_finding(bot.store, fid)["status"] == "acknowledged"
    event = fnd.history(bot.store, fid)[-1]
    assert event["action"] == "ack" and event["actor"] == "E1"
    assert _data(event)["telegram_id"] == OFFICER
    keyboard = bot.api.called("editMessageReplyMarkup")[-1]["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for row in keyboard for b in row] == [f"rect:{fid}"]
    assert bot.api.called("answerCallbackQuery")


def test_a_user_outside_the_org_cannot_press_anothers_buttons(bot):
    fid = bot.ids["C001"]
    assert "无权处理发现" in bot.press(OUTSIDER, f"ack:{fid}")[0]
    assert bot.press(OUTSIDER, f"rect:{fid}") == [f"E9 无权查看发现 #{fid}"]
    assert fnd.get_finding(bot.store, fid)["status"] == "open"
    assert bot.press(STRANGER, f"ack:{fid}") == [UNKNOWN_USER]


def test_rectify_with_a_photo_then_the_supervisor_verifies(bot):
    fid = bot.ids["C001"]
    assert "整改说明" in bot.press(OFFICER, f"rect:{fid}")[0]
    assert "/skip" in bot.send(OFFICER, "已补办，材料归档")[0]
    photo = b"\x89PNG fake evidence bytes"
    shown = bot.upload(bot.api.photo(OFFICER, photo), OFFICER)[0]
    assert "即将提交问题" in shown and "说明：已补办，材料归档" in shown and "确认提交吗" in shown
    assert fnd.get_finding(bot.store, fid)["status"] == "open"           # nothing yet: it waits for 确认提交
    assert "已提交整改（含证据文件）" in bot.press(OFFICER, f"rc:{fid}")[0]
    finding = fnd.get_finding(bot.store, fid)
    assert finding["status"] == "submitted"
    event = fnd.history(bot.store, fid)[-1]
    assert event["note"] == "已补办，材料归档" and event["evidence_sha256"] == hashlib.sha256(photo).hexdigest()
    request = alert_for(bot, SUPERVISOR)
    assert "整改待复查" in request["text"]
    assert "仅限监管人员、管理员" in bot.press(OFFICER, f"vp:{fid}")[0]
    assert "复查通过" in bot.press(SUPERVISOR, f"vp:{fid}", request)[0]
    assert fnd.get_finding(bot.store, fid)["status"] == "verified"
    assert "整改复查通过" in alert_for(bot, OFFICER)["text"]


def test_rectify_with_a_document_or_skip(bot):
    fid = bot.ids["C001"]
    bot.press(OFFICER, f"rect:{fid}")
    bot.send(OFFICER, "已整改")
    assert "整改报告.pdf" in bot.upload(bot.api.document(OFFICER, b"%PDF-1.4 report", "整改报告.pdf"), OFFICER)[0]
    assert "含证据文件" in bot.press(OFFICER, f"rc:{fid}")[0]
    assert fnd.history(bot.store, fid)[-1]["evidence_path"].endswith(".pdf")


def test_rectify_without_evidence_and_cancel(bot):
    fid = bot.ids["C001"]
    bot.press(OFFICER, f"rect:{fid}")
    assert "已取消" in bot.send(OFFICER, "/cancel")[0]
    assert fnd.get_finding(bot.store, fid)["status"] == "open"
    bot.press(OFFICER, f"rect:{fid}")
    bot.send(OFFICER, "现场已整改")
    assert "证据：无" in bot.send(OFFICER, "/skip")[0]
    assert "已提交整改，等待" in bot.press(OFFICER, f"rc:{fid}")[0]
    assert fnd.get_finding(bot.store, fid)["status"] == "submitted"


def test_reject_asks_a_reason_and_sends_it_back_to_the_officer(bot):
    fid = bot.ids["C001"]
    fnd.submit(bot.store, fid, "E1", "已整改", now=DAY)
    assert "退回" in bot.press(SUPERVISOR, f"vf:{fid}")[0]
    assert "理由已转告责任人" in bot.send(SUPERVISOR, "照片看不清 <重拍>")[0]
    assert fnd.get_finding(bot.store, fid)["status"] == "rejected"
    assert _data(fnd.history(bot.store, fid)[-1])["telegram_id"] == SUPERVISOR
    back = alert_for(bot, OFFICER)
    assert "整改被退回" in back["text"] and "退回原因：照片看不清 &lt;重拍&gt;" in back["text"]
    assert "仅限监管人员、管理员" in bot.press(OFFICER, f"vf:{fid}")[0]


def test_a_supervisor_of_another_city_cannot_verify(bot):
    fid = bot.ids["C900"]
    fnd.submit(bot.store, fid, "E9", "已整改", now=DAY)
    assert "无权复查" in bot.press(SUPERVISOR, f"vp:{fid}")[0]
    assert "无权" in bot.press(SUPERVISOR, f"vf:{fid}")[0]
    assert fnd.get_finding(bot.store, fid)["status"] == "submitted"


# -- admin -------------------------------------------------------------------------------------

def test_admin_silences_and_unsilences(bot):
    said = bot.send(ADMIN, "/silence db33.case.* 330102 3d 系统迁移期间")[0]
    assert "已静默 #1" in said and "2026-10-17" in said
    assert bot.store.active_silences(DAY.isoformat())[0]["created_by"] == "A1"
    fire(bot.store, bot.cfg, [(OVERDUE, "C777", "新超期", "E1")])
    bot.deliver()
    assert all("新超期" not in t for t in bot.api.texts(OFFICER))
    assert "已取消静默 #1" in bot.send(ADMIN, "/unsilence 1")[0]
    assert "未找到生效中的静默 #1" in bot.send(ADMIN, "/unsilence 1")[0]
    assert "无法识别的时长" in bot.send(ADMIN, "/silence db33.case.* 330102 forever 原因")[0]
    assert "未找到机构" in bot.send(ADMIN, "/silence db33.case.* 999999 1d 原因")[0]


def test_reload_refuses_a_bad_pack_and_keeps_the_old_rules(bot, tmp_path):
    import shutil

    from checker.rules.holder import RulesHolder
    rules = tmp_path / "rules"
    shutil.copytree(bot.cfg.rules_path(), rules, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    box = RulesHolder.load(rules)
    bot.app.bot_data["rules"] = box
    good = box.rulebook
    assert good is not None and "没有改动" in bot.send(ADMIN, "/reload")[0]
    first = next(p for p in sorted(rules.rglob("*.yaml")) if "tests" not in p.parts and p.name != "pack.yaml")
    first.write_text(first.read_text(encoding="utf-8") + "\n  - id: [broken\n", encoding="utf-8")
    said = bot.send(ADMIN, "/reload")[0]
    assert "规则有错误，未加载" in said and first.name in said
    assert box.rulebook is good
    assert "当前规则" in bot.send(OFFICER, "/rules")[0]


# -- the Telegram notifier ---------------------------------------------------------------------

@pytest.mark.parametrize("status, error", [(429, RetryableError), (500, RetryableError),
                                           (403, PermanentError), (400, PermanentError)])
def test_telegram_errors_map_to_retry_or_never(bot, status, error):
    bot.api.fail(1, status, retry_after=3)
    with pytest.raises(error) as caught:
        bot.run(TelegramNotifier(bot.app.bot).send_text(OFFICER, "x", []))
    if status == 429:
        assert caught.value.retry_after == 3


def test_an_unbound_officer_cannot_be_sent_to(bot):
    with pytest.raises(PermanentError, match="未绑定"):
        bot.run(TelegramNotifier(bot.app.bot).send_text(None, "x", []))


def test_govwatch_officers_invite_prints_a_code_the_bot_accepts(bot, capsys):
    from govwatch.cli import main
    assert main(["--db", bot.cfg.database, "officers", "invite", "E2", "--json"]) == 0
    code = json.loads(capsys.readouterr().out)["code"]
    assert "绑定成功：李四（E2" in bot.send(STRANGER, f"/bind {code}")[0]
    assert main(["--db", bot.cfg.database, "officers", "invite", "NOBODY"]) == 2
    assert "未找到工号为 NOBODY 的人员" in capsys.readouterr().err


def test_every_menu_command_has_a_handler_and_every_handler_a_menu_entry(bot):
    from telegram.ext import CommandHandler

    from bot.commands import MENU
    registered = {c for group in bot.app.handlers.values() for h in group if isinstance(h, CommandHandler)
                  for c in h.commands}
    menu = {m.name for m in MENU}
    assert menu <= registered                       # conversations add their own (/skip, /cancel)
    assert registered - menu <= {"skip", "cancel", "rectify", "reject"}
