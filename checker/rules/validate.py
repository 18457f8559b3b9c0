"""`govwatch rules validate`: every problem of the packs, their YAML tests and coverage maps."""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from . import source
from .loader import RulePaths, check_schema, discover, load
from .model import ChecklistRule, RuleBook
from .problems import Problem


def validate_paths(paths: RulePaths) -> list[Problem]:
    """Every problem of the rule files, pack.yaml, coverage.yaml and YAML tests under `paths`."""
    book, problems = load(paths)
    ids = set(book.declared) | _ids_in_unreadable_files(problems)
    groups, _ = discover(paths)
    for files in groups:
        for path in files.test_files:
            problems += test_file_problems(path, ids)
        if not problems:                # references are checked once the rule files load
            problems += coverage_reference_problems(files.folder / "coverage.yaml", book)
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.message))


_ID_LINE = re.compile(r"^\s*-?\s*id:\s*['\"]?([\w.\-*]+)", re.M)


def _ids_in_unreadable_files(problems: Iterable[Problem]) -> set[str]:
    """Rule ids written in files that are not valid YAML, read line by line: a test that names one
    is not reported as naming a missing rule (the file's own problem is the one to fix)."""
    out: set[str] = set()
    for path in {p.file for p in problems if "YAML" in p.message}:
        try:
            out |= set(_ID_LINE.findall(Path(path).read_text(encoding="utf-8", errors="replace")))
        except OSError:
            pass
    return out


def test_file_problems(path: Path, rule_ids: set[str]) -> list[Problem]:
    doc = source.read(path)
    if doc.problems:
        return doc.problems
    found = check_schema(doc, "tests_file")
    if found:
        return found
    out = []
    for i, test in enumerate(doc.data["tests"]):
        for key in ("expect_findings", "expect_absent"):
            for j, e in enumerate(test.get(key) or []):
                if e["rule"] not in rule_ids:
                    out.append(doc.problem(("tests", i, key, j, "rule"), f"测试引用了不存在的规则 '{e['rule']}'"))
    return out


def coverage_reference_problems(path: Path, book: RuleBook) -> list[Problem]:
    """Rule ids and check ids a coverage.yaml names that no loaded rule defines."""
    if not path.is_file():
        return []
    doc = source.read(path)
    if doc.problems or check_schema(doc, "coverage"):
        return []                       # already reported by load()
    ids = book.declared
    checks = {c.id for r in book.rules if isinstance(r, ChecklistRule) for c in r.checks}
    out: list[Problem] = []
    for i, entry in enumerate(doc.data["clauses"]):
        out += [doc.problem(("clauses", i, "rules"), f"条款 {entry['clause']} 引用了不存在的规则 '{r}'")
                for r in entry.get("rules") or [] if r not in ids]
        out += [doc.problem(("clauses", i, "checks"), f"条款 {entry['clause']} 引用了没有规则检查的检查项 '{c}'")
                for c in entry.get("checks") or [] if c not in checks]
    return out
