"""`govwatch officers invite ID`: a one-time code an officer sends to the bot as /bind CODE (Telegram) or
绑定 CODE (DingTalk, when its robot receives commands)."""
from __future__ import annotations

from checker.notify import binding

from ..shell import JSON, NOW, arg, command, emit_json, parse_now


@command("officers", "人员与机器人：invite 工号 生成一次性绑定码",
         arg("action", choices=["invite"], help="invite：为人员生成绑定码"),
         arg("officer", metavar="ID", help="人员工号"),
         NOW, JSON)
def officers_cmd(ctx, ns) -> int:
    invite = binding.invite(ctx.store, ctx.config, ns.officer, parse_now(ns.now, ctx.config.tz))
    if ns.json:
        emit_json({"officer": ns.officer, "code": invite["code"], "expires_at": invite["expires_at"]})
        return 0
    officer = invite["officer"]
    print(f"{officer['name']}（{officer['id']}）的绑定码：{invite['code']}")
    for line in how_to_bind(ctx.config, invite["code"]):
        print(line)
    print(f"有效期至 {invite['expires_at'][:16].replace('T', ' ')}，只能使用一次。")
    return 0


def how_to_bind(cfg, code: str) -> list[str]:
    """What the officer sends, on each messenger that takes commands: Telegram always (its token may live
    only on the server), DingTalk when its robot receives commands (channels.dingtalk, stream on)."""
    lines = [f"请其在 Telegram 中向机器人发送：/bind {code}"]
    if cfg.channels.dingtalk.enabled and cfg.channels.dingtalk.stream:
        lines.append(f"或在钉钉中与机器人单聊发送：绑定 {code}")
    return lines
