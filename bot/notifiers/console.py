"""The console: `govwatch serve` with no channel enabled prints what it would send."""
from __future__ import annotations

import sys
from typing import Sequence

from checker.notify import Entry, Message


class PlainFormatter:
    """Plain text, actions as [labels]."""
    max_length = 100_000

    def length(self, text: str) -> int:
        return len(text)

    def digest(self, name: str, entries: Sequence[Entry]) -> str:
        return "\n\n".join([f"效能监管通知｜{name}（{len(entries)} 条）", *(entry_text(e) for e in entries)])

    def buttons(self, entries: Sequence[Entry]):
        return tuple(e.actions for e in entries if e.actions)


def entry_text(e: Entry) -> str:
    if not e.basis:
        return f"{e.icon} {e.heading}\n{e.text}"
    lines = [f"{e.icon} {e.heading} {e.title}", e.text, f"依据 {e.basis}" + (f"｜整改期限 {e.due}" if e.due else "")]
    if e.note:
        lines.append(f"{e.note_label}：{e.note}")
    lines.extend(e.details)
    return "\n".join(lines)


class ConsoleNotifier:
    """Prints each message; everyone is reachable (by their 工号)."""
    channel = "console"
    formatter = PlainFormatter()

    def __init__(self, stream=None):
        self.stream = stream
        self.count = 0

    def address(self, officer: dict):
        return officer.get("id")

    async def send(self, message: Message) -> str:
        self.count += 1
        labels = " ".join(f"[{label}]" for row in message.buttons for label, _ in row)
        print(f"── 通知 → {message.officer.get('name') or message.recipient}（{message.recipient}）\n"
              f"{message.text}\n{labels}".rstrip(), file=self.stream or sys.stdout, flush=True)
        return f"console:{self.count}"
