"""Digests: a recipient's rows packed into messages under the channel's limits, split between entries."""
from __future__ import annotations

from .model import Entry, Formatter, Message, Row


def split(formatter: Formatter, name: str, rows: list[Row], per_message: int) -> list[tuple[tuple[Row, ...], str, tuple]]:
    """Pack rows into (rows, text, buttons) per message; a split falls between entries, never inside one.
    An entry too long alone for the channel is sent alone (the formatter cuts its text)."""
    chunks: list[list[Row]] = [[]]
    for r in rows:
        candidate = [*chunks[-1], r]
        too_long = formatter.length(formatter.digest(name, [Entry.of(x) for x in candidate])) > formatter.max_length
        if chunks[-1] and (len(candidate) > per_message or too_long):
            chunks.append([r])
        else:
            chunks[-1] = candidate
    out = []
    for chunk in chunks:
        if chunk:
            entries = [Entry.of(r) for r in chunk]
            out.append((tuple(chunk), formatter.digest(name, entries), formatter.buttons(entries)))
    return out


def messages_for(formatter: Formatter, recipient: str, name: str, rows: list[Row], per_message: int,
                 **fields) -> list[Message]:
    return [Message(recipient, chunk, text, buttons, **fields)
            for chunk, text, buttons in split(formatter, name, rows, per_message)]
