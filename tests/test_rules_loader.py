"""The rule loader: valid packs load into frozen rules; every kind of mistake is reported with its
file and line, all of them at once."""
from __future__ import annotations

import textwrap

import pytest

from checker.errors import RuleError
from checker.rules import RecordRule, load_packs, validate_paths

PACK = """\
standard: {number: "DB33/T 2036.7", title: 监督评价与改进, version: "2026.1", short: db33}
"""
COVERAGE = """\
clauses:
  - {clause: "5.2.1.5", title: 按时办结率, rules: [t.case.overdue]}
  - {clause: "6.2.1", title: 自我监督评价, left_to_people: 人工}
"""
GOOD_RULE = """\
  - id: t.case.overdue
    kind: record
    record: cases
    clause: "5.2.1.5"
    title: 办件超期
    severity: red
    responsible: handler
    params: {near_days: 1}
    when:
      all:
        - {field: status, in: [accepted, processing]}
        - {field: wd_left, lte: {param: near_days}}
    message: "办件 {case_no} 超期 {overdue_wd} 天（{standard} §{clause}）"
"""


def make_pack(root, rules: str, name="db33", extra_files=None):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "pack.yaml").write_text(PACK.replace("db33}", f"{name}}}"), encoding="utf-8")
    (folder / "coverage.yaml").write_text(COVERAGE, encoding="utf-8")
    (folder / "cases.yaml").write_text("rules:\n" + rules, encoding="utf-8")
    for fname, text in (extra_files or {}).items():
        (folder / fname).write_text(text, encoding="utf-8")
    return folder


def problems(path) -> list[str]:
    return [str(p) for p in validate_paths([path])]


def test_a_valid_pack_loads_into_frozen_rules(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE)
    book = load_packs(folder)
    rule = book.rule("t.case.overdue")
    assert isinstance(rule, RecordRule)
    assert (rule.standard, rule.clause, rule.record, rule.params) == ("DB33/T 2036.7", "5.2.1.5", "cases", {"near_days": 1})
    assert rule.when["all"][0] == {"field": "status", "in": ["accepted", "processing"]}
    assert book.packs[0].clauses == ("5.2.1.5", "6.2.1")
    with pytest.raises(AttributeError):
        rule.id = "other"


def test_a_folder_of_packs_and_single_rule_files_load(tmp_path):
    make_pack(tmp_path, GOOD_RULE)
    make_pack(tmp_path, GOOD_RULE.replace("t.case.overdue", "u.case.overdue"), name="db50")
    assert len(load_packs(tmp_path).rules) == 2
    assert [r.id for r in load_packs([tmp_path / "db50" / "cases.yaml"]).rules] == ["u.case.overdue"]


def test_yaml_syntax_error_names_its_line(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE + "  - id: [unclosed\n")
    f = folder / "cases.yaml"
    assert problems(folder) == [f"{f}:16: YAML 语法错误：expected ',' or ']', but got '<stream end>'"]


def test_unknown_key_names_the_key_line(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE.replace("    severity: red\n", "    severity: red\n    colour: red\n"))
    [p] = problems(folder)
    assert p.startswith(f"{folder / 'cases.yaml'}:8: 未知的键 'colour'（允许：id, kind, clause")


def test_wrong_type_names_the_value_line(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE.replace("params: {near_days: 1}", "params: [1]"))
    assert problems(folder) == [f"{folder / 'cases.yaml'}:9: rules.0.params: 类型错误，应为 object，实际是 [1]"]


def test_unknown_field_for_the_record_kind(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE.replace("{field: status,", "{field: state,"))
    [p] = problems(folder)
    assert p.startswith(f"{folder / 'cases.yaml'}:12: cases 没有字段 'state'（可用：")


def test_unknown_operator(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE.replace("lte: {param", "below: {param"))
    [p] = problems(folder)
    assert p == (f"{folder / 'cases.yaml'}:13: 未知运算符 'below'"
                 "（可用：eq, ne, lt, lte, gt, gte, in, not_in, exists, matches）")


def test_duplicate_rule_id_across_packs(tmp_path):
    make_pack(tmp_path, GOOD_RULE)
    make_pack(tmp_path, GOOD_RULE, name="db50")
    assert problems(tmp_path) == [
        f"{tmp_path / 'db50' / 'cases.yaml'}:1: 规则 id 't.case.overdue' 重复（已在 {tmp_path / 'db33' / 'cases.yaml'}:2 定义）"
        .replace(":1:", ":2:")]


def test_clause_missing_from_coverage(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE.replace('clause: "5.2.1.5"', 'clause: "9.9"'))
    assert problems(folder) == [f"{folder / 'cases.yaml'}:5: 条款 '9.9' 不在 DB33/T 2036.7 的 coverage.yaml 条款清单中"]


def test_template_naming_a_missing_field(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE.replace("{overdue_wd}", "{days_late}"))
    [p] = problems(folder)
    assert p.startswith(f"{folder / 'cases.yaml'}:14: 消息模板引用了不存在的字段 {{days_late}}（可用：")


def test_template_with_attribute_access_is_refused(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE.replace("{case_no}", "{case_no.__class__}"))
    assert problems(folder) == [f"{folder / 'cases.yaml'}:14: 消息模板占位符 {{case_no.__class__}} 无效：只允许 {{字段名}} 形式"]


def test_unknown_param(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE.replace("{param: near_days}", "{param: far_days}"))
    assert problems(folder) == [f"{folder / 'cases.yaml'}:13: 未定义的参数 'far_days'（params 中有：near_days）"]


def test_every_problem_is_reported_and_load_raises_them_all(tmp_path):
    bad = GOOD_RULE.replace("{field: status,", "{field: state,").replace("{overdue_wd}", "{nope}")
    folder = make_pack(tmp_path, bad)
    with pytest.raises(RuleError) as exc:
        load_packs(folder)
    assert [p.line for p in exc.value.problems] == [12, 14]
    assert exc.value.exit_code == 1


def test_indicator_conditions_may_use_working_day_fields(tmp_path):
    # every derived field has its SQL form over the workdays ordinals (checker.ingest.derived)
    rule = textwrap.dedent("""\
      - id: t.indicator.p5
        kind: indicator
        code: P5
        clause: "5.2.1.5"
        title: 按时办结率
        severity: red
        responsible: org
        source: cases
        where: {all: [{field: outcome_known, eq: true}]}
        numerator: {all: [{field: wd_left, gte: 0}]}
        target: {eq: 1.0}
        message: "{org_name} {period} P5 为 {value}"
    """)
    folder = make_pack(tmp_path, textwrap.indent(rule, "  "))
    assert not [p for p in problems(folder) if "汇总条件" in p]


def test_yaml_test_files_are_validated_too(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE)
    (folder / "tests").mkdir()
    (folder / "tests" / "t.yaml").write_text(textwrap.dedent("""\
        tests:
          - name: x
            now: "2026-10-14T09:00:00+08:00"
            expect_findings:
              - {rule: t.case.nope, subject: C1}
    """), encoding="utf-8")
    assert problems(folder) == [f"{folder / 'tests' / 't.yaml'}:5: 测试引用了不存在的规则 't.case.nope'"]


def test_config_packs_restricts_the_enforced_rules_to_one_standard(tmp_path):
    from checker import config as config_mod
    from checker.errors import RuleError
    from checker.rules import load_configured
    path = tmp_path / "config.yaml"
    path.write_text("packs: [db33]\n", encoding="utf-8")
    book = load_configured(config_mod.load(path))
    assert {p.short for p in book.packs} == {"db33"} and book.rules
    assert {r.standard for r in book.rules} == {"DB33/T 2036.7"}
    path.write_text("packs: [db33, zj99]\n", encoding="utf-8")
    with pytest.raises(RuleError, match="zj99"):
        load_configured(config_mod.load(path))


def test_every_pack_is_enforced_by_default(cfg):
    from checker.rules import load_configured
    assert {p.short for p in load_configured(cfg).packs} == {"db33", "db50"}
