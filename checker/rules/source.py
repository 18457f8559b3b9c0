"""YAML read with line numbers: every node's path → the line it starts on (safe loader only)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from .. import yamlsafe

from .problems import Problem

Path_ = tuple[str | int, ...]          # a node's place in a YAML document: keys and list indexes
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


@dataclass
class Doc:
    """One YAML file: its data, the line of each node by path, and problems found reading it."""
    file: str
    data: Any = None                   # what the YAML holds (checked by a schema before use)
    lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: Path_) -> int:
        """The line of the node at `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: Path_, message: str) -> Problem:
        return Problem(self.file, self.line(path), message)


def read(path: Path) -> Doc:
    """Parse a YAML file with yaml's safe composer; syntax errors become a Problem with their line."""
    doc = Doc(str(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
        node = yamlsafe.compose(text)        # aliases bounded: a YAML bomb is a problem, not MemoryError
    except (OSError, UnicodeDecodeError) as exc:
        doc.problems.append(Problem(doc.file, 1, f"无法读取文件：{exc}"))
        return doc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        doc.problems.append(Problem(doc.file, line, f"YAML 语法错误：{getattr(exc, 'problem', None) or exc}"))
        return doc
    return from_node(doc.file, node)


def from_node(file: str, node: Any) -> Doc:              # a yaml.Node (PyYAML has no types), or None
    """The Doc of a composed YAML node: its data and the line of every node (checker.reports.index reads
    index.yaml through it too); duplicate or non-string keys and unreadable values become problems."""
    doc = Doc(file)
    doc.data = _build(doc, node, ()) if node is not None else None
    return doc


def _build(doc: Doc, node: Any, path: Path_) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        return _mapping(doc, node, path)
    if isinstance(node, yaml.SequenceNode):
        return [_build(doc, item, path + (i,)) for i, item in enumerate(node.value)]
    return _scalar(doc, node, path)


def _mapping(doc: Doc, node: Any, path: Path_) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = _scalar(doc, key_node, path)
        if isinstance(key, (dict, list)) or key is None:
            doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1, "键必须是字符串"))
            continue
        key = str(key) if not isinstance(key, str) else key
        if key in out:
            doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1, f"重复的键 '{key}'"))
        doc.lines[path + (key,)] = key_node.start_mark.line + 1
        out[key] = _build(doc, value_node, path + (key,))
    return out


def _scalar(doc: Doc, node: Any, path: Path_) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return _build(doc, node, path)
    try:
        value = _CONSTRUCTOR.construct_object(node)
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(doc.file, node.start_mark.line + 1, f"无法解析的值：{exc}"))
        return None
    return value.isoformat() if isinstance(value, (date, datetime)) else value
