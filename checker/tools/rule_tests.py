"""YAML tests of rule packs (records in, expected findings and indicator values out, at a `now`),
like `promtool test rules`. Each test runs in a fresh temporary SQLite file: the records go in
through checker.ingest, a full scan runs at the test's `now`, and the findings are compared."""
from __future__ import annotations

from typing import Any

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .. import config
from ..errors import RuleError
from ..evaluate import indicators
from ..evaluate.scan import run_scan
from ..ingest import ImportRun, import_file
from ..ingest.importer import FIRST_KINDS
from ..periods import Period
from ..rules import source
from ..rules.loader import RulePaths, check_schema, discover, load_packs
from ..rules.model import IndicatorRule, Rule, RuleBook
from ..rules.problems import Problem
from ..statuses import ACTIVE_STATUSES
from ..store import Store

TOLERANCE = 1e-6


@dataclass(frozen=True)
class YamlTest:
    file: str
    line: int
    name: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{Path(self.file).parent.parent.name}/{Path(self.file).stem}: {self.name}"


@dataclass(frozen=True)
class Outcome:
    test: YamlTest
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    def report(self) -> str:
        head = f"{'通过' if self.passed else '失败'}  {self.test.file}:{self.test.line}  {self.test.name}"
        return "\n".join([head, *(f"    {f}" for f in self.failures)])


def collect(paths: RulePaths) -> list[YamlTest]:
    """Every YAML test of the packs under `paths` (RuleError if a test file is invalid)."""
    groups, _ = discover(paths)
    tests: list[YamlTest] = []
    problems: list[Problem] = []
    for files in groups:
        for path in files.test_files:
            doc = source.read(path)
            found = doc.problems or check_schema(doc, "tests_file")
            problems += found
            if not found:
                tests += [YamlTest(doc.file, doc.line(("tests", i)), t["name"], t) for i, t in enumerate(doc.data["tests"])]
    if problems:
        raise RuleError(problems)
    return tests


def run_tests(paths: RulePaths) -> list[Outcome]:
    rulebook = load_packs(paths)
    return [run_test(t, rulebook) for t in collect(paths)]


def run_test(test: YamlTest, rulebook: RuleBook, database: str | None = None) -> Outcome:
    """Run one YAML test in a fresh store: a temporary SQLite file, or `database` (an empty one,
    e.g. a PostgreSQL schema of its own)."""
    with tempfile.TemporaryDirectory(prefix="govwatch-ruletest-") as tmp:
        cfg = config.load(None, database=database or str(Path(tmp) / "test.db"))
        store = Store(cfg.database)
        try:
            return Outcome(test, tuple(_run(test, rulebook, cfg, store, Path(tmp))))
        finally:
            store.close()


def _run(test: YamlTest, rulebook: RuleBook, cfg: config.Config, store: Store, tmp: Path) -> list[str]:
    now = _now(test.spec["now"], cfg)
    failures = _import(store, cfg, test.spec.get("records") or {}, tmp, now)
    if failures:
        return failures
    run_scan(store, cfg, rulebook, now, full=True)
    active = store.query_findings(statuses=ACTIVE_STATUSES)
    return (_compare_findings(test.spec, active) + _compare_absent(test.spec, active)
            + _compare_indicators(test.spec, store, cfg, rulebook, now))


def _now(text: str, cfg: config.Config) -> datetime:
    now = datetime.fromisoformat(str(text))
    return now if now.tzinfo else now.replace(tzinfo=cfg.tz)


def _import(store: Store, cfg: config.Config, records: dict[str, Any], tmp: Path, now: datetime | None = None) -> list[str]:
    """Import the test's records through checker.ingest; rejected rows are test failures."""
    run, failures = ImportRun(store, cfg, now), list[str]()   # imported as at the test's `now`
    order = [k for k in FIRST_KINDS if k in records] + [k for k in records if k not in FIRST_KINDS]
    for kind in order:
        path = tmp / f"{kind}.json"
        path.write_text(json.dumps(records[kind], ensure_ascii=False), encoding="utf-8")
        result = import_file(store, cfg, kind, path, rejects_dir=tmp / "rejects", run=run)
        if result.rejected:
            reasons = Path(result.rejects_file).read_text(encoding="utf-8-sig").strip() if result.rejects_file else ""
            failures.append(f"records.{kind}: {result.rejected} 行导入被拒：{reasons}")
    return failures


def _compare_findings(spec: dict[str, Any], active: list[dict[str, Any]]) -> list[str]:
    expected = spec.get("expect_findings") or []
    rules = set(spec.get("only_rules") or []) | {e["rule"] for e in expected}
    actual = {(a["rule"], a["subject"]): a for a in active if not spec.get("only_rules") or a["rule"] in rules}
    actual = {k: v for k, v in actual.items() if k[0] in rules}
    want = {(e["rule"], e["subject"]): e for e in expected}
    out = [f"缺少预期的发现：{r} / {s}" for (r, s) in sorted(set(want) - set(actual))]
    out += [f"多出未预期的发现：{r} / {s}（{actual[(r, s)]['message']}）" for (r, s) in sorted(set(actual) - set(want))]
    for key in sorted(set(want) & set(actual)):
        out += _finding_details(want[key], actual[key])
    return out


def _finding_details(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    out = []
    if want.get("severity") and want["severity"] != got["severity"]:
        out.append(f"{want['rule']} / {want['subject']}：严重程度应为 {want['severity']}，实际 {got['severity']}")
    if want.get("message_contains") and want["message_contains"] not in got["message"]:
        out.append(f"{want['rule']} / {want['subject']}：消息应包含「{want['message_contains']}」，实际「{got['message']}」")
    return out


def _compare_absent(spec: dict[str, Any], active: list[dict[str, Any]]) -> list[str]:
    fired = {(a["rule"], a["subject"]) for a in active}
    return [f"不应出现的发现出现了：{e['rule']} / {e['subject']}"
            for e in spec.get("expect_absent") or [] if (e["rule"], e["subject"]) in fired]


def _compare_indicators(spec: dict[str, Any], store: Store, cfg: config.Config, rulebook: RuleBook,
                        now: datetime) -> list[str]:
    out: list[str] = []
    for e in spec.get("expect_indicators") or []:
        values = indicators.compute(store, cfg, rulebook, Period.parse(e["period"]), e["org"], now)
        got = next((v for v in values if v.code == e["code"] and v.org == e["org"]), None)
        if got is None:
            out.append(f"指标 {e['code']} {e['org']} {e['period']}：没有计算结果")
            continue
        out += _indicator_details(e, got)
    return out


def _indicator_details(e: dict[str, Any], got: indicators.IndicatorValue) -> list[str]:
    label = f"指标 {e['code']} {e['org']} {e['period']}"
    out: list[str] = []
    for key in ("value", "numerator", "denominator"):
        if key in e and not _close(e[key], getattr(got, key)):
            out.append(f"{label}：{key} 应为 {e[key]}，实际 {getattr(got, key)}")
    if "passed" in e and e["passed"] != got.passed:
        out.append(f"{label}：passed 应为 {e['passed']}，实际 {got.passed}")
    return out


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(float(a) - float(b)) <= TOLERANCE


def untested_rules(paths: RulePaths, tests: list[YamlTest] | None = None) -> list[Rule]:
    """Enabled rules that no YAML test names (in expect_findings, expect_absent or only_rules) and,
    for an indicator rule, whose code no test of its pack checks in expect_indicators."""
    rulebook = load_packs(paths)
    tests = collect(paths) if tests is None else tests
    named: set[str] = set()
    codes: set[tuple[str, str]] = set()              # (pack folder, P-code)
    for t in tests:
        spec = t.spec
        for key in ("expect_findings", "expect_absent"):
            named |= {e["rule"] for e in spec.get(key) or []}
        named |= set(spec.get("only_rules") or [])
        codes |= {(_pack_of(t.file), e["code"]) for e in spec.get("expect_indicators") or []}
    out: list[Rule] = []
    for rule in rulebook.rules:
        if not getattr(rule, "enabled", True) or rule.id in named:
            continue
        if isinstance(rule, IndicatorRule) and (_pack_of(rule.file), rule.code) in codes:
            continue
        out.append(rule)
    return out


def _pack_of(file: object) -> str:
    """The pack folder of a rule file (pack/x.yaml) or a test file (pack/tests/x.yaml)."""
    p = Path(str(file)).resolve()
    return str(p.parent.parent if p.parent.name == "tests" else p.parent)
