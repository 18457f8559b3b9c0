"""DingTalk inbound through the dingtalk-stream SDK: the client opens a connection at the fake
gateway, frames come over a real websocket, the SDK's ChatbotHandler / CallbackHandler path routes
them to govwatch's handlers, answers go back through the sessionWebhook and acks to the gateway."""
from __future__ import annotations

import asyncio
import time

import pytest
import yaml

from bot.dingtalk_inbound import stream_client
from checker.notify import binding
from checker import config as config_mod
from checker import findings as fnd
from govwatch.cli import main

from botworld import DAY, Rule, fire, seed
from fakechannels import FakeDingTalk

OVERDUE = Rule("db33.case.overdue")


@pytest.fixture
def ding(monkeypatch):
    monkeypatch.setenv("GOVWATCH_DINGTALK_APP_KEY", FakeDingTalk.APP_KEY)
    monkeypatch.setenv("GOVWATCH_DINGTALK_APP_SECRET", FakeDingTalk.APP_SECRET)
    with FakeDingTalk() as fake:
        yield fake


@pytest.fixture
def world(store, cfg, tmp_path):
    seed(store, cfg, tmp_path)
    store.conn.execute("UPDATE officers SET dingtalk_userid = 'ding-' || id WHERE id IN ('E1', 'S1')")
    return store


class Session:
    """The stream client running on its own loop in this thread's asyncio.run, driven step by step."""

    def __init__(self, ding, cfg):
        self.ding = ding
        self.cfg = config_mod.Config(database=cfg.database, channels=config_mod.ChannelsConfig(
            dingtalk=config_mod.DingTalkConfig(enabled=True, base_url=ding.base_url, robot_code=FakeDingTalk.ROBOT,
                                               per_second=1000)))

    def run(self, steps):
        async def go():
            client, inbound = stream_client(self.cfg, self.cfg.database, clock=lambda: DAY)
            task = asyncio.create_task(client.run())
            try:
                await asyncio.wait_for(client.connected.wait(), 10)
                for step in steps:
                    message_id = await asyncio.to_thread(step)
                    await _until(lambda: self.ding.acked(message_id))
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await inbound.close()
        asyncio.run(go())


async def _until(condition, limit=10.0):
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the ack")
        await asyncio.sleep(0.02)


def test_text_actions_acknowledge_submit_and_verify(ding, world, cfg):
    fid = fire(world, cfg, [(OVERDUE, "C001", "办件 C001 已超期", "E1")])["C001"]
    Session(ding, cfg).run([lambda: ding.say("ding-E1", f"确认 {fid}"),
                            lambda: ding.say("ding-E1", f"整改 {fid} 已补办并归档"),
                            lambda: ding.say("ding-S1", f"复查通过 {fid}")])
    assert fnd.get_finding(world, fid)["status"] == "verified"
    assert f"已确认收到问题 #{fid}" in ding.reply_texts("ding-E1")[0]
    assert f"问题 #{fid} 已提交整改" in ding.reply_texts("ding-E1")[1]
    assert "复查通过" in ding.reply_texts("ding-S1")[0]
    events = fnd.history(world, fid)
    assert [e["action"] for e in events][-3:] == ["ack", "submit", "verify_pass"]
    assert events[-1]["data"] == {"dingtalk_userid": "ding-S1", "via": "dingtalk"}
    ack = ding.acks[0]
    assert ack["code"] == 200 and ack["headers"]["contentType"] == "application/json"   # the SDK's AckMessage


def test_commands_as_text_and_refusals(ding, world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "办件 C001 已超期", "E1")])
    Session(ding, cfg).run([lambda: ding.say("ding-E1", "/status"),
                            lambda: ding.say("ding-E1", "findings"),
                            lambda: ding.say("ding-E1", "/case C001"),
                            lambda: ding.say("ding-E1", "通过 1"),
                            lambda: ding.say("ding-X9", "/status"),
                            lambda: ding.say("ding-E1", "/status", conversation_type="2"),
                            lambda: ding.say("ding-E1", "你好")])
    status, listing, case, refused, stranger, group, hint = (
        *ding.reply_texts("ding-E1")[:4], ding.reply_texts("ding-X9")[0], *ding.reply_texts("ding-E1")[4:])
    assert "**问题统计**" in status and "办件 C001 已超期" in listing
    assert "**办件 C001**" in case and "DB33/T 2036.7 §5.2.1.5" in case
    assert "仅限监管人员" in refused
    assert "请向本单位管理员索取绑定码" in stranger and "问题统计" not in stranger
    assert "只在单聊中使用" in group
    assert "确认 编号" in hint


def test_a_stranger_binds_with_a_code(ding, world, cfg):
    code = binding.invite(world, cfg, "E2", DAY)["code"]
    Session(ding, cfg).run([lambda: ding.say("ding-new", f"绑定 {code}"), lambda: ding.say("ding-new", "/status")])
    assert world.officer("E2")["dingtalk_userid"] == "ding-new"
    assert "绑定成功：李四（E2" in ding.reply_texts("ding-new")[0]
    assert "问题统计" in ding.reply_texts("ding-new")[1]


def test_a_card_button_acknowledges_and_the_answer_comes_by_robot_message(ding, world, cfg):
    fid = fire(world, cfg, [(OVERDUE, "C001", "办件 C001 已超期", "E1")])["C001"]
    Session(ding, cfg).run([lambda: ding.press_card("ding-E1", "ack", fid)])
    assert fnd.get_finding(world, fid)["status"] == "acknowledged"
    assert f"已确认收到问题 #{fid}" in ding.texts("ding-E1")[0]


def test_the_invite_command_tells_a_dingtalk_officer_what_to_send(ding, world, cfg, tmp_path, capsys):
    """`govwatch officers invite` on a deployment whose DingTalk robot takes commands prints the line to
    send there, and that line, sent as printed, binds the officer."""
    config = tmp_path / "ding.yaml"
    config.write_text(yaml.safe_dump({"database": cfg.database, "channels": {"dingtalk": {
        "enabled": True, "base_url": ding.base_url, "robot_code": FakeDingTalk.ROBOT}}}), encoding="utf-8")
    assert main(["--config", str(config), "officers", "invite", "E2"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "钉钉" in x)
    said = line.split("：", 1)[1]
    assert said.startswith("绑定 ")
    Session(ding, cfg).run([lambda: ding.say("ding-new", said)])
    assert world.officer("E2")["dingtalk_userid"] == "ding-new"
    assert main(["--db", cfg.database, "officers", "invite", "E1"]) == 0      # no DingTalk robot: Telegram's only
    out = capsys.readouterr().out
    assert "/bind " in out and "钉钉" not in out
