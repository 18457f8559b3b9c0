"""Digests: a recipient's rows packed into messages under the channel's limits, split between entries.

A channel that can edit a sent message (Telegram: `formatter.pages_in_place`) gets a long digest as
ONE message showing its first page, with 上一页/下一页 buttons (callback `dg:<page>`) that edit the
message in place. The pages are never stored: the outbox rows the message carried keep its ref
(`message_ref`, "chat:message id"), so `page_of_message` rebuilds any page from the store, after a
restart too. Channels that cannot edit (DingTalk, WeCom) keep receiving one message per page.
"""
from __future__ import annotations

from typing import Any, Iterable, Protocol, TypeGuard

from .model import SEVERITY_ORDER, Button, Entry, Formatter, Message, Row, units

Buttons = tuple[tuple[Button, ...], ...]
Unit = tuple[tuple[Row, ...], Entry]          # an entry and the rows it carries (model.units)


class PagedFormatter(Formatter, Protocol):
    """A formatter that edits a sent digest in place (Telegram): one page's text."""
    def digest_page(self, name: str, entries: list[Entry], first: int, total: int, page: int, pages: int) -> str: ...


class PagesRepo(Protocol):
    """What rebuilding a page of a sent digest reads: the outbox rows that carried the message."""
    def outbox_of_message(self, recipient: str, ref: str) -> list[dict[str, Any]]: ...

PAGE_VERB = "dg"             # the callback prefix of a digest's 上一页/下一页 buttons
PAGE_HEAD_RESERVE = 48       # room kept on each page for the paged head (共 N 条，第 a–b 条，第 p/q 页)


def split(formatter: Formatter, name: str, rows: list[Row], per_message: int,
          reserve: int = 0) -> list[tuple[tuple[Row, ...], str, Buttons]]:
    """Pack rows into (rows, text, buttons) per message; a split falls between entries, never inside one.
    An entry too long alone for the channel is sent alone (the formatter cuts its text)."""
    return [(tuple(r for rs, _ in chunk for r in rs), formatter.digest(name, [e for _, e in chunk]),
             formatter.buttons([e for _, e in chunk]))
            for chunk in _chunks(formatter, name, rows, per_message, reserve)]


def _chunks(formatter: Formatter, name: str, rows: Iterable[Row], per_message: int, reserve: int = 0) -> list[list[Unit]]:
    chunks: list[list[Unit]] = [[]]
    for unit in units(rows):
        candidate = [*chunks[-1], unit]
        too_long = (formatter.length(formatter.digest(name, [e for _, e in candidate]))
                    > formatter.max_length - reserve)
        if chunks[-1] and (len(candidate) > per_message or too_long):
            chunks.append([unit])
        else:
            chunks[-1] = candidate
    return [c for c in chunks if c]


def messages_for(formatter: Formatter, recipient: str, name: str, rows: list[Row], per_message: int,
                 **fields: Any) -> list[Message]:
    if _pages_in_place(formatter):
        pages = _chunks(formatter, name, rows, per_message, PAGE_HEAD_RESERVE)
        if len(pages) > 1:           # one message carrying every row; it shows page 1
            text, buttons = _page(formatter, name, pages, 0)
            return [Message(recipient, tuple(r for chunk in pages for rs, _ in chunk for r in rs), text, buttons,
                            **fields)]
    return [Message(recipient, chunk, text, buttons, **fields)
            for chunk, text, buttons in split(formatter, name, rows, per_message)]


def _pages_in_place(formatter: Formatter) -> TypeGuard[PagedFormatter]:
    return bool(getattr(formatter, "pages_in_place", False))


def _page(formatter: PagedFormatter, name: str, pages: list[list[Unit]], index: int) -> tuple[str, Buttons]:
    """Page `index` of a digest: its text (the head says which entries of how many) and its buttons,
    the findings' own followed by 上一页/下一页."""
    index = max(0, min(index, len(pages) - 1))
    entries = [e for _, e in pages[index]]
    first = sum(len(p) for p in pages[:index]) + 1
    total = sum(len(p) for p in pages)
    text = formatter.digest_page(name, entries, first, total, index + 1, len(pages))
    nav = tuple(b for b in ((("上一页", f"{PAGE_VERB}:{index - 1}"),) if index > 0 else ())
                + ((("下一页", f"{PAGE_VERB}:{index + 1}"),) if index + 1 < len(pages) else ()))
    return text, (*formatter.buttons(entries), nav)


def sort_rows(rows: Iterable[Row]) -> list[Row]:
    """A recipient's rows in digest order: the most severe first, then oldest."""
    return sorted(rows, key=lambda r: (SEVERITY_ORDER.get(r.severity or "", 3), r.id))


def page_of_message(store: PagesRepo, formatter: PagedFormatter, recipient: str, name: str, ref: str, index: int,
                    per_message: int) -> tuple[str, Buttons] | None:
    """Page `index` of the digest sent to `recipient` as message `ref`, rebuilt from the outbox rows
    that carried it; None when no row of that recipient carries that ref (not a paged digest, or
    its rows were sent again as a newer message after a crash)."""
    rows = sort_rows(Row.of(r) for r in store.outbox_of_message(recipient, ref))
    if not rows:
        return None
    return _page(formatter, name, _chunks(formatter, name, rows, per_message, PAGE_HEAD_RESERVE), index)
