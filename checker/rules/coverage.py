"""`govwatch rules coverage`: every clause of a pack's coverage.yaml is covered (rules, checks,
report sections, features) or explained (`left_to_people`), and every rule cites a listed clause."""
from __future__ import annotations

from typing import Any

from dataclasses import asdict, dataclass

from . import source
from .loader import RulePaths, check_schema, discover, load
from .problems import Problem
from .validate import coverage_reference_problems


@dataclass(frozen=True)
class ClauseCoverage:
    standard: str
    clause: str
    title: str
    rules: tuple[str, ...]            # rules listed for it or citing it
    checks: tuple[str, ...]
    reports: tuple[str, ...]
    features: tuple[str, ...]
    left_to_people: str | None

    @property
    def status(self) -> str:
        if self.rules or self.checks or self.reports or self.features:
            return "covered"
        return "left_to_people" if self.left_to_people else "uncovered"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "rules": list(self.rules), "checks": list(self.checks),
                "reports": list(self.reports), "features": list(self.features), "status": self.status}


@dataclass(frozen=True)
class CoverageReport:
    clauses: tuple[ClauseCoverage, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        out = {"covered": 0, "left_to_people": 0, "uncovered": 0}
        for c in self.clauses:
            out[c.status] += 1
        return out


def coverage(paths: RulePaths) -> CoverageReport:
    book, problems = load(paths)
    groups, _ = discover(paths)
    clauses: list[ClauseCoverage] = []
    for files in groups:
        path = files.folder / "coverage.yaml"
        pack = next((p for p in book.packs if p.path == str(files.folder)), None)
        if pack is None or not path.is_file():
            continue
        doc = source.read(path)
        if doc.problems or check_schema(doc, "coverage"):
            continue
        citing: dict[str, list[str]] = {}
        for r in book.rules:
            if r.pack == pack.short:
                citing.setdefault(r.clause, []).append(r.id)
        for i, e in enumerate(doc.data["clauses"]):
            c = _entry(pack.number, e, citing.get(e["clause"], []))
            clauses.append(c)
            if c.status == "uncovered":
                problems.append(doc.problem(("clauses", i), f"条款 {c.clause}（{c.title}）既无规则/检查项/报告覆盖，"
                                                            "也未说明 left_to_people 原因"))
        problems += coverage_reference_problems(path, book)
    return CoverageReport(tuple(clauses), tuple(sorted(set(problems), key=lambda p: (p.file, p.line, p.message))))


def _entry(standard: str, e: dict[str, Any], citing: list[str]) -> ClauseCoverage:
    rules = tuple(dict.fromkeys([*(e.get("rules") or []), *citing]))
    return ClauseCoverage(standard, e["clause"], e.get("title", ""), rules, tuple(e.get("checks") or ()),
                          tuple(e.get("reports") or ()), tuple(e.get("features") or ()), e.get("left_to_people"))
