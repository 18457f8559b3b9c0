"""The enabled channels, in the configured order: what `govwatch serve` delivers through and what
`govwatch channels test` tries. A literal list: one line per channel."""
from __future__ import annotations

import json
from datetime import datetime

from checker.errors import ConfigError
from checker.notify import CHANNEL_NAMES, Channels, Entry, Message, Row

from .notifiers.console import ConsoleNotifier
from .notifiers.dingtalk import DingTalkNotifier
from .notifiers.telegram import TelegramNotifier
from .notifiers.webhook import WebhookNotifier
from .notifiers.wecom import WeComNotifier


def build_channels(cfg, telegram_bot=None, console=None) -> Channels:
    """Every enabled channel in `channels.order` (Telegram when a bot is given); the console
    notifier when none is."""
    c = cfg.channels
    made = {"dingtalk": lambda: DingTalkNotifier(c.dingtalk) if c.dingtalk.enabled else None,
            "wecom": lambda: WeComNotifier(c.wecom) if c.wecom.enabled else None,
            "telegram": lambda: TelegramNotifier(telegram_bot) if telegram_bot is not None else None,
            "webhook": lambda: WebhookNotifier(c.webhook) if c.webhook.enabled else None}
    notifiers = [n for n in (made[name]() for name in c.order) if n is not None]
    return Channels(notifiers or [console or ConsoleNotifier()])


def check_secrets(cfg) -> None:
    """An enabled channel whose secrets are not in the environment stops `serve` with the variable's name."""
    c, missing = cfg.channels, []
    if c.dingtalk.enabled:
        missing += [v for v, value in ((c.dingtalk.app_key_env, c.dingtalk.app_key()),
                                       (c.dingtalk.app_secret_env, c.dingtalk.app_secret())) if not value]
    if c.wecom.enabled and not c.wecom.secret():
        missing.append(c.wecom.secret_env)
    if c.webhook.enabled and not c.webhook.secret():
        missing.append(c.webhook.secret_env)
    if missing:
        raise ConfigError("已启用的消息渠道缺少密钥，请设置环境变量：" + "、".join(missing))


async def close_channels(channels: Channels) -> None:
    for n in channels:
        http = getattr(n, "http", None)
        if http is not None:
            await http.close()


def test_message(recipient: str, name: str, now: datetime) -> Row:
    text = (f"这是效能监管助手的渠道测试消息，发给 {name}（{recipient}），"
            f"时间 {now.isoformat(timespec='seconds')}。收到即说明本渠道配置正确。")
    return Row(0, recipient, "test", None, None, {"title": "渠道测试", "text": text}, "pending", 0)


async def test_channels(store, cfg, channels: Channels, to: str | None, now: datetime) -> list[dict]:
    """Send a test message through each channel: to `to`, or else to every admin with an id there.
    One result per (channel, recipient): what the channel answered."""
    results = []
    if to is not None and store.officer(to) is None:
        raise ConfigError(f"未找到工号为 {to} 的人员")
    for notifier in channels:
        people = [store.officer(to)] if to else store.officers_with_role("admin")
        reachable = [(p, notifier.address(p)) for p in people if notifier.address(p) not in (None, "")]
        if not reachable:
            results.append({"channel": notifier.channel, "to": to, "ok": False,
                            "answer": f"{'该人员' if to else '没有管理员'}没有{CHANNEL_NAMES.get(notifier.channel)}的 ID"})
            continue
        for person, address in reachable:
            row = test_message(person["id"], person.get("name") or person["id"], now)
            entries_text = notifier.formatter.digest(person.get("name") or person["id"], [Entry.of(row)])
            message = Message(person["id"], (row,), entries_text, (), notifier.channel, address, person)
            try:
                answer, ok = await notifier.send(message), True
            except Exception as exc:            # every failure is an answer to print
                answer, ok = f"{type(exc).__name__}: {exc}", False
            results.append({"channel": notifier.channel, "to": person["id"], "address": address, "ok": ok,
                            "answer": answer})
    await close_channels(channels)
    return results


def format_results(results: list[dict]) -> str:
    return "\n".join(f"{'✓' if r['ok'] else '✗'} {CHANNEL_NAMES.get(r['channel'], r['channel'])} → "
                     f"{r.get('to') or '-'}{'（' + str(r['address']) + '）' if r.get('address') else ''}：{r['answer']}"
                     for r in results) or "没有启用的消息渠道。"


def dumps(results: list[dict]) -> str:
    return json.dumps(results, ensure_ascii=False, indent=2)
