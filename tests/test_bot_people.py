"""The bot as its users meet it (issue 14): driven through the fake Bot API as an officer, a
supervisor and a stranger."""
from __future__ import annotations

import json
import re

from checker import binding
from checker import findings as fnd

from botworld import DAY
from test_bot import ADMIN, OFFICER, STRANGER, SUPERVISOR, bot  # noqa: F401  (the fixture)


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
