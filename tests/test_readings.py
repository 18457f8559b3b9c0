"""Readings the standards leave open are stated in reports; small fidelity fixes of issue 13 item 12."""
from __future__ import annotations

from dataclasses import replace

from checker.notify.model import Entry, Row
from checker.reports import notes
from checker.reports.html import numeral
from checker.rules import load_packs
from test_reports import ROOT, _text, build, data  # noqa: F401  (fixture)


def test_report_states_the_satisfaction_p7_and_policy_readings(data, cfg, tmp_path):  # noqa: F811
    html = _text(build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8"))
    assert "口径说明" in html
    assert "评价等级 ≥ 3（基本满意及以上）计为满意" in html and "全国政务服务“好差评”分级" in html
    assert "网办深度 ≥ 4" in html
    assert "差评电话回访 1 个工作日（DB50/T 957.7 §5.4.2 c)）" in html and "标准条文未规定具体时限" in html


def test_readings_follow_the_config():
    from checker import config as config_mod
    base = config_mod.load(None)
    cfg = replace(base, indicators=replace(base.indicators, p9_satisfied_level=4, p7_reading="any_online"))
    got = notes.readings(cfg, load_packs(ROOT / "rules"))
    assert "评价等级 ≥ 4（满意及以上）" in got[0] and "A–B" in got[0]
    assert "较宽口径" in got[1]


def test_section_numbers_past_ten():
    assert [numeral(n) for n in (3, 10, 11, 12, 20, 23)] == ["三", "十", "十一", "十二", "二十", "二十三"]


def test_a_rectification_reminder_cites_8_1():
    payload = {"finding_id": 7, "rule": "db33.case.overdue", "standard": "DB33/T 2036.7", "clause": "5.2.1.5",
               "message": "m", "due_at": "2026-11-20T23:59:59+08:00", "assignee": "E1"}
    reminder = Entry.of(Row(1, "E1", "reminder", "red", 7, payload, "pending", 0))
    assert reminder.basis.startswith("DB33/T 2036.7 §8.1") and "§5.2.1.5" in reminder.basis
    assert Entry.of(Row(2, "E1", "new", "red", 7, payload, "pending", 0)).basis == "DB33/T 2036.7 §5.2.1.5"
