"""Issue 12 item 12 and the YAML bomb of item 13: rule typos and hostile YAML are refused at
validation with file:line, never discovered by the people who receive the messages."""
from __future__ import annotations

import pytest

from checker import config as config_mod
from checker.errors import ConfigError
from test_rules_loader import GOOD_RULE, make_pack, problems


@pytest.mark.parametrize("old,new,expected", [
    ("params: {near_days: 1}", "params: {near_days: two}", "参数 near_days 的值 'two' 不符"),
    ("params: {near_days: 1}", "params: {near_days: '3'}", "参数 near_days 的值 '3' 不符"),
    ("params: {near_days: 1}", "params: {near_days: true}", "字段 'wd_left' 是数值"),
    ("{field: status, in: [accepted, processing]}", "{field: status, in: [accepted, procesing]}",
     "只能是 accepted/processing/suspended/closed/rejected/withdrawn 之一"),
    ("{field: wd_left, lte: {param: near_days}}", "{field: wd_left, lte: soon}", "比较值 'soon' 不符"),
])
def test_param_and_value_types_are_checked_where_they_are_used(tmp_path, old, new, expected):
    assert old in GOOD_RULE
    folder = make_pack(tmp_path, GOOD_RULE.replace(old, new))
    found = problems(folder)
    assert len(found) == 1 and expected in found[0] and "cases.yaml:" in found[0], found


@pytest.mark.parametrize("message", ["办件 {case_no} 超期 {overdue_wd 天", "办件 {case_no} 超期 overdue_wd} 天",
                                     "办件 {{case_no}} 超期"])
def test_a_malformed_template_is_refused(tmp_path, message):
    folder = make_pack(tmp_path, GOOD_RULE.replace('"办件 {case_no} 超期 {overdue_wd} 天（{standard} §{clause}）"',
                                                   f'"{message}"'))
    found = problems(folder)
    assert found and any("花括号不成对" in p or "无效" in p for p in found), found


def test_the_good_rule_still_passes(tmp_path):
    assert problems(make_pack(tmp_path, GOOD_RULE)) == []


def bomb(levels: int = 9) -> str:
    text = "calendar:\n  extra_holidays: &l0 ['2026-10-01', '2026-10-02', '2026-10-03', '2026-10-04']\n"
    for i in range(1, levels + 1):
        text += f"x{i}: &l{i} [{', '.join(['*l' + str(i - 1)] * 8)}]\n"
    return text.replace("calendar:\n  extra_holidays: &l0", "a0: &l0", 1) + f"calendar: {{extra_holidays: *l{levels}}}\n"


def test_a_yaml_bomb_in_the_config_is_refused(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(bomb(), encoding="utf-8")
    with pytest.raises(ConfigError, match="YAML 炸弹"):
        config_mod.load(path)


def test_a_yaml_bomb_in_a_rule_file_is_a_problem(tmp_path):
    folder = make_pack(tmp_path, GOOD_RULE, extra_files={"bomb.yaml": bomb().replace("calendar:", "rules:")})
    found = problems(folder)
    assert any("bomb.yaml" in p and "YAML 炸弹" in p for p in found), found
