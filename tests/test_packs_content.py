"""The shipped rule packs (rules/db33, rules/db50) are complete and consistent.

Beyond what the loader validates (schema, references, condition fields, message names): every
inspection check id of docs/ARCHITECTURE.md is answered by a checklist rule, every rule has a YAML
test that fires it and a near miss that must not, and every normative clause of each standard is in
the pack's coverage map, either covered or left to people with a reason.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml

from checker.rules import validate_paths

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
PACKS = ("db33", "db50")

# Normative clauses of each standard (numbered headings of DB33/T 2036.7 §3–8 and
# DB50/T 957.7 §2–7). Lettered items and paragraphs ("第N款") may refine them in coverage.yaml.
NUMBERED = {
    "db33": """3.1 3.2 3.3 3.4 3.5 3.6 3.7 4.1 4.2 4.3 4.4 5.1.1.1 5.1.1.2 5.1.1.3 5.1.1.4 5.1.2.1
        5.1.2.2 5.1.3.1 5.1.3.2 5.1.3.3 5.1.3.4 5.1.3.5 5.1.3.6 5.2.1.1 5.2.1.2 5.2.1.3 5.2.1.4
        5.2.1.5 5.2.1.6 5.2.1.7 5.2.1.8 5.3.1 5.3.2.1 5.3.2.2.1 5.3.2.2.2 5.3.2.2.3 6.1 6.2.1 6.2.2
        6.2.3 6.2.4 7.1 7.2 8.1 8.2 8.3 8.4""".split(),
    "db50": """2.1 2.2 2.3 2.4 2.5 3.1.1 3.1.2 3.2 3.3 3.4 4.1 4.2 5.1 5.2 5.3 5.4.1 5.4.2 6.1.1
        6.1.2 6.2 6.3.1 6.3.2.1 6.3.2.2 6.3.2.3 6.3.2.4 6.3.3 6.4 6.5 6.6.1 6.6.2 6.6.3 7""".split(),
}
# Lettered items that are separate requirements: clause → letters.
LETTERED = {
    "db33": {"4.1": "abcde", "4.2": "abc", "4.3": "abc", "4.4": "abc", "5.1.1.1": "abc", "5.1.1.3": "ab",
             "5.1.1.4": "ab", "5.1.2.1": "abc", "5.1.3.3": "abcd", "5.1.3.4": "ab", "5.3.1": "abcde",
             "6.1": "abcd", "8.4": "abcde"},
    "db50": {"3.1.2": "abcde", "3.2": "ab", "4.2": "abcde", "5.1": "abcdef", "5.2": "abc", "5.3": "abcd",
             "5.4.2": "abc", "6.3.2.1": "ab", "6.3.3": "abc", "6.4": "abcd", "6.5": "abc", "7": "ab"},
}
SEVERITIES, RESPONSIBLE = {"red", "yellow", "blue"}, {"handler", "org", "supervisor"}


def load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@functools.lru_cache(maxsize=None)
def pack_rules(pack: str) -> list[dict]:
    return [r for f in sorted((RULES / pack).glob("*.yaml")) if f.name not in ("pack.yaml", "coverage.yaml", "index.yaml")
            for r in load(f).get("rules") or []]


@functools.lru_cache(maxsize=None)
def pack_tests(pack: str) -> list[dict]:
    return [t for f in sorted((RULES / pack / "tests").glob("*.yaml")) for t in load(f).get("tests") or []]


@functools.lru_cache(maxsize=None)
def coverage(pack: str) -> dict[str, dict]:
    entries = load(RULES / pack / "coverage.yaml")["clauses"]
    return {e["clause"]: e for e in entries}


def architecture_check_ids() -> set[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Inspection check ids", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`((?:facility|equipment|service|consult|online|video|onsite)\.[a-z_]+)`", section))


ALL_RULES = [(pack, r) for pack in PACKS for r in pack_rules(pack)]


def test_packs_declare_their_standard():
    numbers = {pack: load(RULES / pack / "pack.yaml")["standard"] for pack in PACKS}
    assert numbers["db33"]["number"] == "DB33/T 2036.7" and numbers["db50"]["number"] == "DB50/T 957.7"
    assert all(s["short"] == pack and s["title"] and s["version"] for pack, s in numbers.items())


def test_rule_ids_are_unique_and_carry_their_pack():
    ids = [r["id"] for _, r in ALL_RULES]
    assert len(ids) == len(set(ids))
    assert all(r["id"].startswith(pack + ".") for pack, r in ALL_RULES)


@pytest.mark.parametrize("pack,rule", ALL_RULES, ids=lambda x: x["id"] if isinstance(x, dict) else x)
def test_rule_has_the_common_fields(pack, rule):
    assert rule["severity"] in SEVERITIES and rule["responsible"] in RESPONSIBLE
    assert rule["clause"] in coverage(pack), f"{rule['id']} cites {rule['clause']} not in coverage.yaml"
    assert re.search(r"[\u4e00-\u9fff]", rule["title"]) and "§{clause}" in rule["message"]


def test_p1_to_p9_each_once_in_db33():
    codes = sorted(r["code"] for r in pack_rules("db33") if r["kind"] == "indicator")
    assert codes == [f"P{i}" for i in range(1, 10)]


def test_every_architecture_check_id_is_answered_by_exactly_one_checklist_rule():
    used = [c["id"] for _, r in ALL_RULES if r["kind"] == "checklist" for c in r["checks"]]
    assert len(used) == len(set(used))
    assert set(used) == architecture_check_ids()


def test_shipped_packs_validate_without_problems():
    """Schema, clause references, condition fields and message names (checker.rules)."""
    problems = validate_paths([str(RULES)])
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("pack,rule", ALL_RULES, ids=lambda x: x["id"] if isinstance(x, dict) else x)
def test_every_rule_has_a_test_that_can_fail(pack, rule):
    tests = pack_tests(pack)
    if rule["kind"] == "indicator":
        assert any(e["code"] == rule["code"] for t in tests for e in t.get("expect_indicators") or [])
        return
    fires = [e for t in tests for e in t.get("expect_findings") or [] if e["rule"] == rule["id"]]
    misses = [e for t in tests for e in t.get("expect_absent") or [] if e["rule"] == rule["id"]]
    assert fires and misses, f"{rule['id']}: needs a firing record and a near miss"


@pytest.mark.parametrize("pack", PACKS)
def test_tests_name_only_rules_of_their_pack(pack):
    ids = {r["id"] for r in pack_rules(pack)}
    named = {e["rule"] for t in pack_tests(pack) for key in ("expect_findings", "expect_absent")
             for e in t.get(key) or []}
    assert named <= ids, named - ids


@pytest.mark.parametrize("pack", PACKS)
def test_coverage_lists_every_normative_clause(pack):
    clauses = coverage(pack)
    for number in NUMBERED[pack]:
        assert any(c == number or c.startswith(number + " ") for c in clauses), f"{pack} §{number} missing"
    for number, letters in LETTERED[pack].items():
        for letter in letters:
            assert f"{number} {letter})" in clauses, f"{pack} §{number} {letter}) missing"


@pytest.mark.parametrize("pack", PACKS)
def test_coverage_entries_are_either_covered_or_left_to_people(pack):
    ids = {r["id"] for r in pack_rules(pack)}
    checks = architecture_check_ids()
    for clause, e in coverage(pack).items():
        covered = [k for k in ("rules", "checks", "reports", "features") if e.get(k)]
        assert bool(covered) != bool(e.get("left_to_people")), clause
        assert set(e.get("rules") or []) <= ids, (clause, set(e["rules"]) - ids)
        assert set(e.get("checks") or []) <= checks, clause
        assert e.get("title"), clause


def report_sections() -> dict[str, set[str]]:
    """Report kind → the sections it shows (checker.reports: @section functions, optional parts)."""
    from checker import reports
    from checker.reports import html
    optional = {"surveys", "poor", "charts", "index"}
    names = {fn.__name__.lstrip("_") for _, fn in html.SECTIONS}
    return {kind: {n for n in names if n not in optional or n in spec.parts} for kind, spec in reports.KINDS.items()}


@pytest.mark.parametrize("pack", PACKS)
def test_coverage_names_report_sections_that_exist(pack):
    sections = report_sections()
    for clause, e in coverage(pack).items():
        for ref in e.get("reports") or []:
            kind, _, section = ref.partition(".")
            assert kind in sections or ref == "index", (clause, ref)
            assert not section or section in sections[kind], (clause, ref, sorted(sections[kind]))

