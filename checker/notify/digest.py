"""Digests: a recipient's rows packed into messages under the channel's limits, split between entries."""
from __future__ import annotations

from .model import Formatter, Message, Row, units


def split(formatter: Formatter, name: str, rows: list[Row], per_message: int) -> list[tuple[tuple[Row, ...], str, tuple]]:
    """Pack rows into (rows, text, buttons) per message; a split falls between entries, never inside one.
    An entry too long alone for the channel is sent alone (the formatter cuts its text)."""
    chunks: list[list] = [[]]
    for unit in units(rows):
        candidate = [*chunks[-1], unit]
        too_long = formatter.length(formatter.digest(name, [e for _, e in candidate])) > formatter.max_length
        if chunks[-1] and (len(candidate) > per_message or too_long):
            chunks.append([unit])
        else:
            chunks[-1] = candidate
    out = []
    for chunk in chunks:
        if chunk:
            entries = [e for _, e in chunk]
            out.append((tuple(r for rs, _ in chunk for r in rs), formatter.digest(name, entries),
                        formatter.buttons(entries)))
    return out


def messages_for(formatter: Formatter, recipient: str, name: str, rows: list[Row], per_message: int,
                 **fields) -> list[Message]:
    return [Message(recipient, chunk, text, buttons, **fields)
            for chunk, text, buttons in split(formatter, name, rows, per_message)]
