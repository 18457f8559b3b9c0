"""The bot as its users meet it (issue 14): driven through the fake Bot API as an officer, a
supervisor and a stranger."""
from __future__ import annotations

import asyncio
import json
import re

from checker.notify import binding
from checker import findings as fnd

from botworld import DAY
from test_bot import ADMIN, OFFICER, OUTSIDER, STRANGER, SUPERVISOR, bot, close_bot, make_bot  # noqa: F401  (the fixture)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def sent_to(bot, chat):                                            # noqa: F811
    return bot.api.messages.get(chat, [])


# -- strangers and binding (item 7) -------------------------------------------------------------

def test_a_stranger_is_told_to_ask_their_administrator_without_command_names(bot):   # noqa: F811
    for text in ("/status", "你好", "/start"):
        said = bot.send(STRANGER, text)[0]
        assert "请向本单位管理员索取绑定码" in said and not re.search(r"/[a-z]", said)


def test_a_code_sent_as_plain_text_binds_and_the_backlog_arrives_once(bot):            # noqa: F811
    bot.store.conn.execute("UPDATE findings SET assignee = 'E2' WHERE subject = 'C001'")
    code = binding.invite(bot.store, bot.cfg, "E2", DAY)["code"]
    said = bot.send(STRANGER, code)
    assert "绑定成功：李四（E2" in said[0]
    menu = bot.api.called("setMyCommands")[-1]
    assert _json(menu["scope"])["chat_id"] == STRANGER
    assert "bind" not in {c["command"] for c in _json(menu["commands"])}
    bot.deliver()
    backlog = [m for m in sent_to(bot, STRANGER) if "待办问题" in m["text"]]
    assert len(backlog) == 1 and "办件 C001 已超期" in backlog[0]["text"]
    fid = bot.ids["C001"]
    assert f"确认收到 #{fid}" in json.dumps(backlog[0], ensure_ascii=False)
    bot.deliver()
    assert len([m for m in sent_to(bot, STRANGER) if "待办问题" in m["text"]]) == 1     # once


def test_a_bound_user_gets_a_hint_for_free_text_and_help_without_bind(bot):            # noqa: F811
    assert "/findings" in bot.send(OFFICER, "收到")[0]
    help_text = bot.send(OFFICER, "/help")[0]
    assert "/status" in help_text and "/bind" not in help_text and "/silence" not in help_text
    assert "无需再次绑定" in bot.send(OFFICER, "/bind ABCDEF12")[0]


# -- 提交整改 (item 3) ----------------------------------------------------------------------------

def test_a_photo_with_a_caption_is_note_and_evidence_and_is_confirmed_before_submitting(bot):   # noqa: F811
    fid = bot.ids["C001"]
    assert "/cancel" in bot.press(OFFICER, f"rect:{fid}")[0]
    shown = bot.upload(bot.api.photo(OFFICER, b"\x89PNG", caption="窗口已补充告知单"), OFFICER)[0]
    assert "说明：窗口已补充告知单" in shown and "证据：photo_" in shown
    assert "请点“确认提交”" in bot.send(OFFICER, "收到")[0]                 # a casual reply is not the note
    assert "已提交整改（含证据文件）" in bot.press(OFFICER, f"rc:{fid}")[0]
    event = fnd.history(bot.store, fid)[-1]
    assert event["action"] == "submit" and event["note"] == "窗口已补充告知单"


def test_cancel_at_the_confirmation_changes_nothing(bot):                   # noqa: F811
    fid = bot.ids["C001"]
    bot.press(OFFICER, f"rect:{fid}")
    bot.send(OFFICER, "已整改")
    bot.send(OFFICER, "/skip")
    assert "已取消" in bot.press(OFFICER, f"rx:{fid}")[0]
    assert fnd.get_finding(bot.store, fid)["status"] == "open"
    assert "/findings" in bot.send(OFFICER, "收到")[0]                       # the conversation is over


def test_the_conversation_times_out_and_says_so(tmp_path, monkeypatch):
    quick = make_bot(tmp_path, monkeypatch, telegram={"conversation_timeout_minutes": 0.005})   # 0.3 s
    try:
        fid = quick.ids["C001"]
        quick.run(quick.app.job_queue.start())
        quick.press(OFFICER, f"rect:{fid}")
        quick.run(asyncio.sleep(1.0))
        assert "已超时结束" in quick.api.texts(OFFICER)[-1] and "未做任何更改" in quick.api.texts(OFFICER)[-1]
        assert "/findings" in quick.send(OFFICER, "收到")[-1]               # not taken as a note
        assert fnd.get_finding(quick.store, fid)["status"] == "open"
    finally:
        quick.run(quick.app.job_queue.stop())
        close_bot(quick)


# -- words mean one thing (item 6) ------------------------------------------------------------------

def test_overdue_lists_overdue_cases_for_supervisors_and_the_officers_own(bot):      # noqa: F811
    from datetime import timedelta
    bot.app.bot_data["clock"] = lambda: DAY + timedelta(days=14)           # C001 promised 5 working days after 10-09
    supervisor = bot.send(SUPERVISOR, "/overdue")[0]
    assert "<b>超期办件</b>：共 1 件" in supervisor and "办件 C001 食品经营许可" in supervisor
    assert "已超期" in supervisor and "经办 张三" in supervisor and "§5.2.1.5" in supervisor
    assert "办件 C001" in bot.send(OFFICER, "/overdue")[0]                 # the officer handles it
    assert "共 0 件" in bot.send(OUTSIDER, "/overdue")[0]                  # another city
    assert "无权查看机构 330200" in bot.send(SUPERVISOR, "/overdue 330200")[0]


def test_statuses_are_typed_in_chinese_with_the_shared_names(bot):          # noqa: F811
    fid = bot.ids["C001"]
    fnd.submit(bot.store, fid, "E1", "已补办", now=DAY)
    said = bot.send(SUPERVISOR, "/findings 已提交整改")[0]
    assert "问题清单</b>（已提交整改）：共 1 条" in said and f"#{fid} 已提交整改" in said
    assert "共 1 条" in bot.send(SUPERVISOR, "/findings 待复查")[0]
    assert "共 0 条" in bot.send(SUPERVISOR, "/findings 已签收")[0]        # 已签收 = 已确认 (acknowledged)
    assert "待处理（open）" in bot.send(SUPERVISOR, "/findings 不存在的状态")[0]
    assert fnd.list_findings(bot.store, status="已提交整改,待处理") and fnd.status_of("复查未通过") == "rejected"


# -- 复查 with eyes open (item 4) ----------------------------------------------------------------------

def _scan_sees(store, fid):
    """A finished scan that still saw the finding (as checker.evaluate.scan records it)."""
    cur = store.conn.execute("INSERT INTO scans (now, started_at, finished_at, full, from_seq, to_seq) "
                             "VALUES ('2026-10-14T09:00:00+08:00', '2026-10-14T09:00:00+08:00', "
                             "'2026-10-14T09:00:05+08:00', 0, 0, 0)")
    store.conn.execute("UPDATE findings SET last_scan_id = ? WHERE id = ?", (cur.lastrowid, fid))


def test_a_verify_request_shows_note_evidence_history_and_the_latest_scan(bot):      # noqa: F811
    fid = bot.ids["C001"]
    _scan_sees(bot.store, fid)
    bot.press(OFFICER, f"rect:{fid}")
    bot.upload(bot.api.photo(OFFICER, b"\x89PNG evidence", caption="已补办并归档"), OFFICER)
    bot.press(OFFICER, f"rc:{fid}")
    bot.deliver()
    request = next(m for m in sent_to(bot, SUPERVISOR) if "整改待复查" in (m.get("text") or ""))
    text = request["text"]
    assert "说明：已补办并归档" in text and "证据：" in text and "最新扫描（2026-10-14 09:00）：问题仍存在" in text
    labels = [b["text"] for row in request["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [f"复查通过 #{fid}", f"退回 #{fid}", f"历史 #{fid}", f"证据 #{fid}"]
    document = [m for m in sent_to(bot, SUPERVISOR) if m.get("caption") == f"问题 #{fid} 的整改证据"]
    assert len(document) == 1                                       # the evidence itself follows the request

    history = bot.press(SUPERVISOR, f"hist:{fid}", request)[0]
    assert f"问题 #{fid} 处理经过" in history and "提交整改｜张三（E1）：已补办并归档（附证据）" in history
    assert "最新扫描" in history
    assert bot.send(SUPERVISOR, f"/history {fid}")[0] == history
    before = len(sent_to(bot, SUPERVISOR))
    bot.send(SUPERVISOR, f"/evidence {fid}")
    assert sent_to(bot, SUPERVISOR)[before].get("caption") == f"问题 #{fid} 的整改证据"
    assert "无权" in bot.send(OUTSIDER, f"/history {fid}")[0]


def test_passing_a_finding_the_latest_scan_still_sees_asks_to_confirm(bot):      # noqa: F811
    fid = bot.ids["C001"]
    fnd.submit(bot.store, fid, "E1", "已整改", now=DAY)
    _scan_sees(bot.store, fid)
    asked = bot.press(SUPERVISOR, f"vp:{fid}")[0]
    assert "问题仍存在" in asked and "确认问题" in asked
    assert fnd.get_finding(bot.store, fid)["status"] == "submitted"
    assert "未做更改" in bot.press(SUPERVISOR, f"vpx:{fid}")[0]
    assert "复查通过，已关闭" in bot.press(SUPERVISOR, f"vpc:{fid}")[0]
    assert fnd.get_finding(bot.store, fid)["status"] == "verified"


# -- escalations as one daily digest (item 5) ---------------------------------------------------------

def test_escalations_reach_a_supervisor_once_a_day_as_one_digest(bot):       # noqa: F811
    from datetime import datetime, timedelta
    from botworld import TZ, Rule, fire
    from checker.findings.reminders import run_reminders
    fire(bot.store, bot.cfg, [(Rule("db33.case.overdue"), f"X{i}", f"办件 X{i} 已超期，请立即办结", who)
                              for i, who in enumerate(["E1", "E1", "E2", "E1", "E2"])], scan_id=2)
    digests = []
    for day in (21, 22, 23):                                             # three reminder runs
        morning = datetime(2026, 10, day, 9, 0, tzinfo=TZ)
        run_reminders(bot.store, bot.cfg, morning)
        bot.deliver(morning)
        assert not [m for m in sent_to(bot, SUPERVISOR) if "督办" in (m.get("text") or "")][len(digests):], day
        for minutes in (30, 45, 120):                                    # the digest time, and later ticks
            bot.deliver(morning + timedelta(minutes=minutes))
        digests = [m for m in sent_to(bot, SUPERVISOR) if "问题升级督办汇总" in (m.get("text") or "")]
        assert len(digests) <= day - 20
    assert 1 <= len(digests) <= 3
    first = digests[0]["text"]
    assert "按责任人：张三 " in first and "李四 " in first and "最长超期" in first
    assert "按条款：DB33/T 2036.7 §5.2.1.5" in first and "请立即办结" not in first
    labels = [b["text"] for row in digests[0]["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[0] == "查看明细" and len(labels) == 4 and all(x.startswith("历史 #") for x in labels[1:])
    details = bot.press(SUPERVISOR, "pg:esc::0", digests[0])
    listing = details[0] if details else bot.api.messages[SUPERVISOR][-1]["text"]
    assert "升级督办的问题" in listing and "责任人 张三" in listing and "超期" in listing
    assert "升级督办的问题" in bot.send(SUPERVISOR, "/escalations")[0]
    assert "仅限监管人员" in bot.send(OFFICER, "/escalations")[0]


# -- one entry per real-world subject (item 2) ----------------------------------------------------------

def test_one_case_breaking_both_packs_is_one_entry_citing_both_clauses_and_one_set_of_buttons(bot):  # noqa: F811
    from botworld import Rule, fire
    ids = fire(bot.store, bot.cfg, [(Rule("db33.case.overdue"), "C001", "办件 C001 已超期", "E1"),
                                    (Rule("db50.case.overdue"), "C001", "办件 C001 超期未办结", "E1")], scan_id=2)
    both = sorted(r["id"] for r in fnd.list_findings(bot.store) if r["subject"] == "C001")
    assert len(both) == 2
    bot.deliver()
    alert = [m for m in sent_to(bot, OFFICER) if "办件 C001" in (m.get("text") or "")][-1]
    text = alert["text"]
    assert text.count("办件 C001") == 1 and "DB33/T 2036.7 §5.2.1.5" in text and "DB50/T 957.7 §" in text
    numbers = "、".join(f"#{i}" for i in both)
    rows = alert["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [[f"确认收到 {numbers}", f"提交整改 {numbers}"]]
    said = bot.press(OFFICER, rows[0][0]["callback_data"], alert)[0]
    assert f"已确认收到问题 {numbers}" in said
    assert {fnd.get_finding(bot.store, i)["status"] for i in both} == {"acknowledged"}
    bot.press(OFFICER, rows[0][1]["callback_data"], alert)
    bot.send(OFFICER, "已办结")
    bot.send(OFFICER, "/skip")
    bot.press(OFFICER, "rc:" + ",".join(map(str, both)))
    assert {fnd.get_finding(bot.store, i)["status"] for i in both} == {"submitted"}
    assert ids["C001"] in both
