"""The command line for people: Chinese help and argparse errors, --version, periods as people write
them, the demo's next steps, rules validate in one pass, rules test flags untested rules, silences."""
from __future__ import annotations

import argparse
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from checker.periods import Period
from govwatch import cli
from govwatch.commands.data import next_steps

from test_rule_packs import TEST, pack_with_test
from test_rules_loader import GOOD_RULE, make_pack
from test_scan import OVERDUE

TZ = ZoneInfo("Asia/Shanghai")


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        rc = cli.main(list(argv))
    except SystemExit as exc:             # argparse: --help, --version, usage errors
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_help_is_chinese(capsys):
    rc, out, _ = run(capsys, "--help")
    assert rc == 0 and out.startswith("用法：govwatch") and "显示本帮助并退出" in out and "选项" in out
    assert "生成定期报告" in out and "导入记录文件" in out
    rc, out, _ = run(capsys, "report", "--help")
    assert rc == 0 and "位置参数" in out and "daily 日扫描" in out and "期间：" in out
    assert argparse._("usage: ") == "usage: "             # argparse is itself again after the run


def test_usage_errors_are_chinese_with_exit_2(capsys):
    rc, _, err = run(capsys, "report")
    assert rc == 2 and "错误：缺少必需的参数：类型" in err and "用法：" in err
    rc, _, err = run(capsys, "report", "hourly")
    assert rc == 2 and "无效的选择：'hourly'" in err
    rc, _, err = run(capsys, "findings", "--limit", "x")
    assert rc == 2 and "无效的 int 值：'x'" in err
    rc, _, err = run(capsys, "nope")
    assert rc == 2 and "无效的选择" in err


def test_version(capsys):
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and out.startswith("govwatch ") and "效能监管助手" in out


@pytest.mark.parametrize("text, code", [
    ("2026-9", "2026-09"), ("2026年9月", "2026-09"), ("2026-09", "2026-09"), ("2026年09月", "2026-09"),
    ("2026-Q3", "2026-Q3"), ("2026年第3季度", "2026-Q3"), ("2026年第三季度", "2026-Q3"), ("2026", "2026"),
    ("2026年", "2026"), ("2026-W41", "2026-W41"), ("2026年第41周", "2026-W41"), ("2026-10-9", "2026-10-09"),
    ("2026年10月9日", "2026-10-09")])
def test_periods_as_people_write_them(text, code):
    assert Period.parse(text).code == code


@pytest.mark.parametrize("text", ["2026-13", "2026年13月", "2026-Q5", "26-9", "九月"])
def test_bad_periods_are_refused_with_examples(text):
    from checker.errors import InputError
    with pytest.raises(InputError, match="2026年9月"):
        Period.parse(text)


def test_indicators_take_a_chinese_month(cfg, store, capsys):    # store: read commands need an existing database
    rc, out, err = run(capsys, "--db", cfg.database, "indicators", "--period", "2026年9月", "--now", "2026-10-09T09:00",
                       "--json")
    assert rc == 0, err
    assert json.loads(out) == [] or {r["period"] for r in json.loads(out)} == {"2026-09"}


def test_demo_ends_with_the_next_commands(tmp_path):
    text = next_steps(str(tmp_path / "x.db"), "demo/reports/monthly-2026-10.html", datetime(2026, 11, 3, 9, tzinfo=TZ))
    assert "接下来可以试试" in text and "monthly-2026-10.html" in text
    assert f"govwatch --db {tmp_path / 'x.db'} findings" in text and "--period 2026年10月" in text
    assert "report monthly --format pdf,xlsx" in text and "govwatch rules test" in text


def test_rules_validate_reports_every_problem_in_one_pass(tmp_path, capsys):
    folder = pack_with_test(tmp_path, TEST)
    (folder / "cases.yaml").write_text("rules:\n" + OVERDUE.replace("severity: red", "severity: purple")
                                       .replace("eq: true", "equals: true"), encoding="utf-8")
    (folder / "broken.yaml").write_text("rules:\n  - id: t.x\n    kind: [unclosed\n", encoding="utf-8")
    (folder / "more.yaml").write_text("rules:\n" + GOOD_RULE.replace("t.case.overdue", "t.case.other")
                                      .replace("record: cases", "record: casez"), encoding="utf-8")
    rc, out, err = run(capsys, "--db", str(tmp_path / "x.db"), "rules", "validate", str(folder))
    lines = out.strip().splitlines()
    assert rc == 1 and f"共 {len(lines)} 个问题" in err
    files = {line.split(":")[0].rsplit("/", 1)[-1] for line in lines}
    assert {"cases.yaml", "broken.yaml", "more.yaml"} <= files              # three files, one run
    assert any("purple" in line for line in lines) and any("equals" in line for line in lines)
    assert not any("不存在的规则" in line for line in lines)                  # no cascade from the broken file


def test_rules_test_flags_a_rule_without_a_test(tmp_path, capsys):
    folder = pack_with_test(tmp_path, TEST)
    (folder / "more.yaml").write_text("rules:\n" + OVERDUE.replace("t.case.overdue", "t.case.untested"),
                                      encoding="utf-8")
    rc, out, _ = run(capsys, "--db", str(tmp_path / "x.db"), "rules", "test", str(folder))
    assert rc == 1 and "未测试" in out and "t.case.untested" in out and "1 条规则没有测试" in out
    assert "t.case.overdue（" not in out
    rc, out, _ = run(capsys, "--db", str(tmp_path / "x.db"), "rules", "test", str(folder), "--json")
    rows = json.loads(out)
    assert rc == 1 and [r["untested_rule"] for r in rows if r.get("untested_rule")] == ["t.case.untested"]


def test_shipped_packs_have_no_untested_rule():
    from checker.tools.rule_tests import untested_rules
    from conftest import ROOT
    assert [r.id for r in untested_rules([ROOT / "rules"])] == []


def test_silences_list_add_and_expire(cfg, store, tmp_path, capsys):
    store.db["orgs"].insert({"code": "A1", "name": "甲区行政服务中心", "level": "hall"})
    db, now = ["--db", cfg.database], ["--now", "2026-10-09T09:00"]
    assert run(capsys, *db, "silences", *now)[1].strip() == "没有生效中的静默。"
    rc, out, _ = run(capsys, *db, "silences", "add", "db33.case.*", "A1", "3d", "系统切换", "--by", "E1", *now)
    assert rc == 0 and "已新增静默 #1" in out and "2026-10-12 09:00" in out
    run(capsys, *db, "silences", "add", "db50.*", "A1", "1h", "测试", *now)
    rc, out, _ = run(capsys, *db, "silences", "--json", *now)
    assert rc == 0 and [(r["id"], r["state"]) for r in json.loads(out)] == [(1, "生效中"), (2, "生效中")]
    assert run(capsys, *db, "silences", "expire", "2", *now)[:2] == (0, "静默 #2 已解除\n")
    rc, out, _ = run(capsys, *db, "silences", "--all", "--now", "2026-10-20T09:00")
    assert "#1  已到期" in out and "#2  已解除" in out and "共 2 条" in out
    rc, _, err = run(capsys, *db, "silences", "expire", "9", *now)
    assert rc == 2 and "未找到生效中的静默 #9" in err
    rc, _, err = run(capsys, *db, "silences", "add", "x", "NOPE", "1h", "原因", *now)
    assert rc == 2 and "未找到机构 NOPE" in err
