"""Every YAML test of the shipped rule packs is a pytest case; the test runner, coverage and diff
report what is wrong."""
from __future__ import annotations

import textwrap

import pytest

from checker.rules import load_packs
from checker.rules.coverage import coverage
from checker.tools.rule_tests import collect, run_test, run_tests
from govwatch import cli

from conftest import ROOT
from test_rules_loader import GOOD_RULE, make_pack
from test_scan import OVERDUE

PACKS = ROOT / "rules"
SHIPPED = collect(PACKS)


@pytest.fixture(scope="module")
def shipped_book():
    return load_packs(PACKS)


@pytest.mark.both_stores
@pytest.mark.parametrize("test", SHIPPED, ids=[t.id for t in SHIPPED])
def test_shipped_pack_yaml_test(test, shipped_book, database):
    outcome = run_test(test, shipped_book, database)
    assert outcome.passed, outcome.report()


TEST = """\
tests:
  - name: 超期办件
    now: "2026-10-14T09:00:00+08:00"
    records:
      orgs: [{code: H1, name: 上城区行政服务中心, level: hall}]
      items: [{code: I1, name: 食品经营许可, org: H1, promised_days: 5}]
      cases:
        - {case_no: C1, item_code: I1, org: H1, channel: window, accepted_at: "2026-09-28T09:00:00+08:00", status: processing}
        - {case_no: C2, item_code: I1, org: H1, channel: window, accepted_at: "2026-10-13T09:00:00+08:00", status: processing}
    expect_findings:
      - {rule: t.case.overdue, subject: C1, severity: red, message_contains: 已超期 3 个工作日}
    expect_absent:
      - {rule: t.case.overdue, subject: C2}
"""


def pack_with_test(tmp_path, test_text):
    folder = make_pack(tmp_path, OVERDUE)
    (folder / "tests").mkdir()
    (folder / "tests" / "cases.yaml").write_text(test_text, encoding="utf-8")
    return folder


def test_a_passing_yaml_test(tmp_path):
    [outcome] = run_tests(pack_with_test(tmp_path, TEST))
    assert outcome.passed, outcome.report()


def test_a_failing_yaml_test_gives_a_readable_diff_and_exit_1(tmp_path, capsys):
    folder = pack_with_test(tmp_path, TEST.replace("subject: C1, severity: red", "subject: C2, severity: red")
                            .replace("{rule: t.case.overdue, subject: C2}", "{rule: t.case.overdue, subject: C1}"))
    [outcome] = run_tests(folder)
    assert outcome.failures == (
        "缺少预期的发现：t.case.overdue / C2",
        "多出未预期的发现：t.case.overdue / C1（办件 C1（食品经营许可）已超期 3 个工作日，承诺办结时间 2026-10-10 23:59"
        "（DB33/T 2036.7 §5.2.1.5））",
        "不应出现的发现出现了：t.case.overdue / C1")
    assert cli.main(["--db", str(tmp_path / "x.db"), "rules", "test", str(folder)]) == 1
    assert "失败" in capsys.readouterr().out


def test_rejected_test_records_fail_the_test(tmp_path):
    [outcome] = run_tests(pack_with_test(tmp_path, TEST.replace("status: processing}", "status: busy}", 1)))
    assert not outcome.passed and "records.cases: 1 行导入被拒" in outcome.failures[0]


def test_coverage_flags_an_unexplained_clause(tmp_path, capsys):
    folder = make_pack(tmp_path, GOOD_RULE)
    assert coverage(folder).ok
    (folder / "coverage.yaml").write_text(textwrap.dedent("""\
        clauses:
          - {clause: "5.2.1.5", title: 按时办结率}
          - {clause: "6.2.1", title: 自我监督评价}
    """), encoding="utf-8")
    report = coverage(folder)
    assert [str(p) for p in report.problems] == [
        f"{folder / 'coverage.yaml'}:3: 条款 6.2.1（自我监督评价）既无规则/检查项/报告覆盖，也未说明 left_to_people 原因"]
    assert report.clauses[0].rules == ("t.case.overdue",)       # cited by the rule counts as covered
    assert cli.main(["--db", str(tmp_path / "x.db"), "rules", "coverage", str(folder)]) == 1


def test_shipped_packs_are_valid_and_fully_covered(capsys):
    assert cli.main(["--db", ":memory:", "rules", "validate", str(PACKS)]) == 0
    assert coverage(PACKS).ok


def test_diff_shows_what_a_new_rule_set_adds_and_drops(store, cfg, tmp_path):
    from checker.tools.rule_diff import diff_rules
    from test_scan import at, case, put
    put(store, cfg, tmp_path, "orgs", [{"code": "H1", "name": "甲中心", "level": "hall"}])
    put(store, cfg, tmp_path, "items", [{"code": "I1", "name": "许可", "org": "H1", "promised_days": 5}])
    put(store, cfg, tmp_path, "cases", [case("C1"), case("C2", "suspended")])
    old = make_pack(tmp_path / "old", OVERDUE)
    # a suspended case is never `overdue` (its clock is stopped): the new rule reads wd_left instead
    new = make_pack(tmp_path / "new", OVERDUE.replace("in: [accepted, processing]", "in: [suspended]")
                    .replace("{field: overdue, eq: true}", "{field: wd_left, lt: 0}"))
    result = diff_rules(store, cfg, old, new, at("2026-10-14T09:00"))
    assert [(r, s) for r, s, _ in result.added] == [("t.case.overdue", "C2")]
    assert [(r, s) for r, s, _ in result.dropped] == [("t.case.overdue", "C1")]
    assert store.scalar("SELECT count(*) FROM findings") == 0
