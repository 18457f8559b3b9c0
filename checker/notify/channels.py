"""Which channel reaches an officer: the first enabled one, in `channels.order`, they have an id for."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from .model import Notifier

CHANNEL_NAMES = {"telegram": "Telegram", "dingtalk": "钉钉", "wecom": "企业微信", "webhook": "Webhook",
                 "console": "控制台"}


class Channels:
    """The enabled notifiers in order of preference (config `channels.order`)."""

    def __init__(self, notifiers: Sequence[Notifier]):
        self.notifiers = tuple(notifiers)

    @classmethod
    def of(cls, value: "Channels | list[Notifier] | tuple[Notifier, ...] | Notifier | None") -> "Channels":
        """Channels, a list of notifiers, one notifier or None (route only)."""
        if isinstance(value, Channels):
            return value
        if value is None:
            return cls(())
        if isinstance(value, (list, tuple)):
            return cls(value)
        return cls((value,))

    def __iter__(self) -> Iterator[Notifier]:
        return iter(self.notifiers)

    def __bool__(self) -> bool:
        return bool(self.notifiers)

    def get(self, channel: str | None) -> Notifier | None:
        return next((n for n in self.notifiers if n.channel == channel), None)

    def pick(self, officer: dict[str, Any] | None) -> tuple[Notifier, str | int] | None:
        """The first notifier that has an address for the officer, with that address."""
        for notifier in self.notifiers:
            address = notifier.address(officer or {})
            if address not in (None, ""):
                return notifier, address
        return None

    def unbound(self) -> str:
        """Why a recipient cannot be reached: no id on any enabled channel."""
        names = "、".join(CHANNEL_NAMES.get(n.channel, n.channel) for n in self.notifiers) or "任何消息渠道"
        return f"未绑定 {names}（Telegram 用 govwatch officers invite 生成绑定码；钉钉、企业微信在人员表中填写 ID）"
