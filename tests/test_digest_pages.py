"""A long digest is one Telegram message paged in place with 上一页/下一页 (issue 14 item 1): driven
through the fake Bot API with the real python-telegram-bot Application."""
from __future__ import annotations

import re

from checker import findings as fnd
from checker.notify import page_of_message
from checker.store import Store

from botworld import Rule, fire
from bot.notifiers.telegram import TelegramFormatter
from test_bot import OFFICER, close_bot, make_bot


def _labels(message) -> list[list[str]]:
    return [[b["text"] for b in row] for row in message["reply_markup"]["inline_keyboard"]]


def _numbers(text: str) -> list[str]:
    return re.findall(r"办件 (K\d\d) 已超期", text)


def test_an_officer_with_25_findings_gets_one_message_and_pages_it_in_place(tmp_path, monkeypatch):
    bot = make_bot(tmp_path, monkeypatch, telegram={"page_size": 10})
    try:
        bot.store.conn.execute("UPDATE findings SET status = 'verified' WHERE assignee = 'E1'")   # only K01–K25
        ids = fire(bot.store, bot.cfg, [(Rule("db33.case.overdue"), f"K{i:02}", f"办件 K{i:02} 已超期", "E1")
                                        for i in range(1, 26)], scan_id=2)
        bot.deliver()
        sent = [m for m in bot.api.messages.get(OFFICER, []) if "K01" in (m.get("text") or "")]
        assert len(sent) == 1 and len(bot.api.messages[OFFICER]) == 1              # ONE message
        digest = sent[0]
        assert "共 25 条，第 1–10 条，第 1/3 页" in digest["text"]
        assert _numbers(digest["text"]) == [f"K{i:02}" for i in range(1, 11)]
        rows = _labels(digest)
        assert rows[:10] == [[f"确认收到 #{ids[f'K{i:02}']}", f"提交整改 #{ids[f'K{i:02}']}"] for i in range(1, 11)]
        assert rows[-1] == ["下一页"]
        ks = {ids[f"K{i:02}"] for i in range(1, 26)}
        assert [r["status"] for r in bot.store.outbox(recipient="E1") if r["finding_id"] in ks] == ["sent"] * 25

        nxt = digest["reply_markup"]["inline_keyboard"][-1][0]["callback_data"]
        bot.press(OFFICER, nxt, digest)
        page2 = bot.api.messages[OFFICER][0]                                           # edited in place
        assert len(bot.api.messages[OFFICER]) == 1 and bot.api.called("editMessageText")
        assert "第 11–20 条，第 2/3 页" in page2["text"]
        assert _numbers(page2["text"]) == [f"K{i:02}" for i in range(11, 21)]
        rows = _labels(page2)
        assert rows[:10] == [[f"确认收到 #{ids[f'K{i:02}']}", f"提交整改 #{ids[f'K{i:02}']}"] for i in range(11, 21)]
        assert rows[-1] == ["上一页", "下一页"]

        ack = page2["reply_markup"]["inline_keyboard"][2][0]                           # 确认收到 K13, from page 2
        said = bot.press(OFFICER, ack["callback_data"], page2)
        assert f"已确认收到问题 #{ids['K13']}" in said[-1]
        assert fnd.get_finding(bot.store, ids["K13"])["status"] == "acknowledged"
        assert _labels(page2)[-1] == ["上一页", "下一页"]                                # paging survives the ack

        last = bot.press(OFFICER, page2["reply_markup"]["inline_keyboard"][-1][1]["callback_data"], page2)
        assert not last and "第 21–25 条，第 3/3 页" in page2["text"] and _labels(page2)[-1] == ["上一页"]

        # after a restart: the page is rebuilt from the store alone (the rows keep the message's ref)
        restarted = Store(bot.cfg.database)
        ref = f"{OFFICER}:{digest['message_id']}"
        text, buttons = page_of_message(restarted, TelegramFormatter(), "E1", "张三", ref, 1, 10)
        assert _numbers(text) == [f"K{i:02}" for i in range(11, 21)] and buttons[-1][0][0] == "上一页"
        assert page_of_message(restarted, TelegramFormatter(), "E2", "李四", ref, 1, 10) is None   # not theirs
        restarted.close()
    finally:
        close_bot(bot)


def test_a_digest_within_one_page_has_no_paging_buttons(tmp_path, monkeypatch):
    bot = make_bot(tmp_path, monkeypatch, telegram={"page_size": 10})
    try:
        fire(bot.store, bot.cfg, [(Rule("db33.case.overdue"), f"K{i:02}", f"办件 K{i:02} 已超期", "E1")
                                  for i in range(1, 4)], scan_id=2)
        bot.deliver()
        [digest] = bot.api.messages[OFFICER]
        assert "第 1/" not in digest["text"]
        assert not any(label in ("上一页", "下一页") for row in _labels(digest) for label in row)
    finally:
        close_bot(bot)
