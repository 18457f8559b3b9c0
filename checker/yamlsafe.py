"""YAML with a bound on alias expansion (issue 12 item 13: a "billion laughs" under
calendar.extra_holidays ended in MemoryError).

yaml's safe loader builds an alias as a shared reference, but everything that walks the data (the
config schema check, the rule builder that copies each node with its line) expands it: ten levels
of nine aliases are a billion nodes. The composed node graph is measured first, counting every
alias as the nodes it stands for; beyond MAX_NODES, or an alias that contains itself, the file is
refused as a YAML error with its line.
"""
from __future__ import annotations

from typing import Any

import yaml

MAX_NODES = 100_000          # expanded nodes in one file: a config or a rule pack holds a few thousand


class TooLarge(yaml.YAMLError):  # type: ignore[misc]   # PyYAML ships no type information
    def __init__(self, problem: str, mark: Any):
        super().__init__(problem)
        self.problem, self.problem_mark, self.context_mark = problem, mark, None

    def __str__(self) -> str:
        return self.problem


# libyaml's parser (PyYAML's wheels ship it) composes the same nodes ~9x faster than the pure-Python
# one; a rule load spent most of its time here. A document it refuses is parsed again by the Python
# parser, so a YAML error keeps the wording and line users know. A tab goes to the Python parser
# straight away: libyaml accepts tabs in places PyYAML refuses ("a:<tab>b"), and such a file must
# stay refused as before.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> Any:
    if _FAST_LOADER is not None and "\t" not in text:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except (yaml.YAMLError, ValueError):     # ValueError: a lone surrogate libyaml cannot encode
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def compose(text: str) -> Any:          # a yaml.Node, or None for an empty document
    """yaml.compose with the safe loader, refused when its aliases expand too far."""
    node = _compose(text)
    if node is not None:
        _measure(node)
    return node


def load(text: str) -> Any:             # parsed YAML: whatever the document holds
    """yaml.safe_load, refused when its aliases expand too far."""
    node = compose(text)
    return None if node is None else _construct(node)


def _construct(node: Any) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _measure(root: Any) -> int:
    sizes: dict[int, int] = {}
    busy: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            size = 1 + sum(sizes[id(c)] for c in children)
            busy.discard(key)
            if size > MAX_NODES:
                raise TooLarge(f"YAML 别名展开后超过 {MAX_NODES} 个节点（疑似“YAML 炸弹”），已拒绝", node.start_mark)
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in busy:
            raise TooLarge("YAML 别名引用了包含它自身的节点（循环引用），已拒绝", node.start_mark)
        busy.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in busy:
                raise TooLarge("YAML 别名引用了包含它自身的节点（循环引用），已拒绝", child.start_mark)
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
