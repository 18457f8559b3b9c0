"""The markdown both DingTalk and WeCom render (a subset): values from data are escaped so that they
are shown as typed and never become markup (emphasis, links, headings, HTML such as <font>)."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_SPECIAL = re.compile(r"([\\`*_\[\]~|])")


def md(value) -> str:
    """Escape a value from data for DingTalk / WeCom markdown: backslash before markdown characters,
    HTML characters as entities, and no line may start a heading or list."""
    text = html.escape("" if value is None else str(value), quote=False)
    text = _SPECIAL.sub(r"\\\1", text)
    text = re.sub(r"(?m)^(\s*)([-+]|\d+\.)(\s)", r"\1\\\2\3", text)
    return re.sub(r"(?m)^(\s*)(#)", r"\1\\\2", text)


class _ToMarkdown(HTMLParser):
    """Telegram HTML (b, i, pre, code) → DingTalk markdown, every text escaped with md()."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.pre = False

    def handle_starttag(self, tag, attrs):
        if tag in ("b", "strong"):
            self.out.append("**")
        elif tag == "pre":
            self.pre = True
            self.out.append("\n```\n")

    def handle_endtag(self, tag):
        if tag in ("b", "strong"):
            self.out.append("**")
        elif tag == "pre":
            self.pre = False
            self.out.append("\n```\n")

    def handle_data(self, data):
        self.out.append(data if self.pre else md(data))


def html_to_markdown(text: str) -> str:
    """A bot answer written for Telegram HTML as markdown; lines keep their breaks (two spaces)."""
    parser = _ToMarkdown()
    parser.feed(text)
    parser.close()
    return "".join(parser.out).replace("\n", "  \n")
