"""Survey tabulation of DB33/T 2036.7 §5.3.2.1 (Appendix A questionnaire, Appendix B phone survey),
on survey records imported through checker.ingest into a real SQLite file."""
from __future__ import annotations

import pytest

from checker.evaluate import surveys
from checker.ingest import import_file
from checker.periods import Period

ORGS = """code,name,parent,level
C,市,,city
A,甲区,C,district
A1,甲区中心,A,hall
B,乙区,C,district
"""
SURVEYS = """id,org,channel,date,a1,a2,a3,a5,a6,a7,a8,a9,a10,b2,b3
S1,A1,onsite,2026-10-03,A,A,A;C;F,A,B,,B,,延长周末办理时间,,
S2,A1,online,2026-10-04,B,A,C,C,A,B;E,C,A;C,,,
S3,B,onsite,2026-10-05,A,B,A;c,D,D,A;B;E,D,B,增加自助终端,,
S4,B,phone,2026-10-06,,,,,,,,,,B,C
S5,A,onsite,2026-09-30,A,A,A,A,A,,A,,,,
"""


@pytest.fixture
def data(store, cfg, tmp_path):
    for kind, text in (("orgs", ORGS), ("surveys", SURVEYS)):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        assert import_file(store, cfg, kind, path).rejected == 0
    return store


def test_questionnaire_marks_single_and_multiple_choice_as_appendix_a():
    assert not surveys.QUESTIONS["a1"].multiple and not surveys.QUESTIONS["a5"].multiple
    assert all(surveys.QUESTIONS[q].multiple for q in ("a3", "a7", "a9"))
    assert surveys.QUESTIONS["a7"].option_text("K") == "中介机构收费高、服务效率低"
    assert surveys.QUESTIONS["b2"].options == ("满意", "比较满意", "一般", "不满意")


def test_multiple_choice_counts_respondents_per_option(data):
    table = surveys.tabulate(data, Period.parse("2026-10"))
    a3 = next(d for d in table.distributions if d.question.code == "a3")
    counts = {letter: n for letter, _, n in a3.counts}
    assert a3.answered == 3                              # S4 (phone) skipped a3; S5 is September
    assert counts["A"] == 2 and counts["C"] == 3 and counts["F"] == 1   # 'c' counts as C, once per person
    assert a3.share("C") == pytest.approx(1.0)


def test_single_choice_distribution_and_option_texts(data):
    table = surveys.tabulate(data, Period.parse("2026-10"))
    a8 = next(d for d in table.distributions if d.question.code == "a8")
    assert [(l, t, n) for l, t, n in a8.counts] == [("A", "零上门（通过网上办理）", 0), ("B", "一趟", 1),
                                                     ("C", "两趟", 1), ("D", "三趟以上", 1)]


def test_satisfaction_rates_follow_the_p9_level_default_a_to_c(data):
    table = surveys.tabulate(data, Period.parse("2026-10"))                       # level 3: A, B, C
    assert (table.rate("a5").satisfied, table.rate("a5").answered) == (2, 3)      # A, C, D
    assert table.rate("a6").value == pytest.approx(2 / 3)                          # B, A, D
    assert (table.rate("b2").satisfied, table.rate("b2").answered) == (1, 1)      # 比较满意
    assert table.rate("b3").value == 1.0                                           # 一般 = 基本满意
    assert "评价等级 ≥ 3（基本满意及以上）" in table.reading and "A–C" in table.reading


def test_satisfaction_level_4_counts_a_and_b_only(data):
    table = surveys.tabulate(data, Period.parse("2026-10"), satisfied_level=4)
    assert (table.rate("a5").satisfied, table.rate("a5").answered) == (1, 3)
    assert table.rate("b3").value == 0.0
    assert surveys.satisfied_letters(5) == ("A",) and surveys.satisfied_letters(2) == ("A", "B", "C", "D")
    assert "A–B" in table.reading


def test_rates_by_org_roll_up_to_the_top_orgs_and_by_channel(data):
    table = surveys.tabulate(data, Period.parse("2026-10"))
    by_org = {o: {r.question: r for r in rs} for o, rs in table.rates_by_org}
    assert set(by_org) == {"A", "B"}                     # A1 (hall) counts under 甲区
    assert by_org["A"]["a5"].value == 1.0                # A and C
    assert by_org["B"]["a5"].value == 0.0
    by_channel = {c: {r.question: r for r in rs} for c, rs in table.rates_by_channel}
    assert by_channel["phone"]["b2"].value == 1.0
    assert dict(table.by_channel) == {"onsite": 2, "online": 1, "phone": 1}


def test_scope_and_open_answers(data):
    table = surveys.tabulate(data, Period.parse("2026-10"), org="A")
    assert table.responses == 2
    assert table.open_answers == ("延长周末办理时间",)
