"""P1–P9 on a small hand-computed data set across the 2026 National Day holiday (10-01…10-07 off,
Saturday 10-10 worked), imported through checker.ingest so that deadlines are the real ones."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checker.evaluate import indicators as ind
from checker.periods import Period
from checker.rules import load_packs

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

ROOT = Path(__file__).resolve().parent.parent

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 10, 14, 9, 0, tzinfo=TZ)
OCT = Period.parse("2026-10")


def rulebook():
    return load_packs(ROOT / "rules")


ORGS = [
    {"code": "330100", "name": "杭州市", "level": "city"},
    {"code": "330102", "name": "上城区", "parent": "330100", "level": "district"},
    {"code": "330102H", "name": "上城区行政服务中心", "parent": "330102", "level": "hall"},
    {"code": "330105", "name": "拱墅区", "parent": "330100", "level": "district"},
]


def _item(code, org, scope=True, one=True, cw=True, central=True, now=False, typ="行政许可", stat=20, prom=3,
          depth=4):
    return {"code": code, "name": f"事项{code}", "org": org, "in_scope": scope, "one_visit": one,
            "comprehensive_window": cw, "centralized": central, "immediate": now, "type": typ,
            "statutory_days": stat, "promised_days": prom, "online_depth": depth}


ITEMS = [
    _item("I1", "330102H"),
    _item("I2", "330102H", cw=False, now=True, stat=10, prom=0),
    _item("I3", "330105", one=False, central=False, typ="公共服务", stat=15, prom=5, depth=3),
    _item("I4", "330105", scope=False, prom=2),
    _item("I5", "330102", now=True, stat=6, prom=4),
]


def _case(no, org, item, channel, accepted, status="closed", closed=None):
    row = {"case_no": no, "org": org, "item_code": item, "channel": channel, "accepted_at": accepted,
           "status": status}
    return {**row, "closed_at": closed} if closed else row


CASES = [
    _case("C1", "330102H", "I1", "window", "2026-09-30T10:00", closed="2026-10-09T10:00"),  # September
    _case("C2", "330102H", "I1", "online", "2026-10-08T09:00", closed="2026-10-12T16:00"),  # due 10-12: on time
    _case("C3", "330102H", "I1", "online", "2026-10-01T10:00", closed="2026-10-12T09:00"),  # due 10-10: late
    _case("C4", "330102H", "I1", "window", "2026-10-09T15:00", "processing"),   # due 10-13: open, overdue
    _case("C5", "330102H", "I1", "window", "2026-10-12T09:00", "processing"),   # due 10-15: not known yet
    _case("C6", "330102H", "I2", "window", "2026-10-09T10:00", "rejected", "2026-10-09T11:00"),  # 即办, on time
    _case("C7", "330102H", "I1", "online", "2026-10-08T10:00", "withdrawn"),    # counts nowhere
    _case("C8", "330105", "I3", "online", "2026-10-10T10:00", closed="2026-10-13T10:00"),   # due 10-16
    _case("C9", "330105", "I3", "window", "2026-10-31T23:30", "processing"),    # last minute of October
    _case("C10", "330105", "I3", "window", "2026-11-01T00:10", "processing"),   # November
]

COMPLAINTS = [
    {"id": "K1", "org": "330102H", "received_at": "2026-10-02T10:00", "valid": True, "rectified_at": "2026-10-09T10:00"},
    {"id": "K2", "org": "330102H", "received_at": "2026-10-08T10:00", "valid": True, "rectified_at": "2026-10-20T10:00"},
    {"id": "K3", "org": "330102H", "received_at": "2026-10-09T10:00", "valid": False},
    {"id": "K4", "org": "330105", "received_at": "2026-10-10T10:00", "valid": True},
    {"id": "K5", "org": "330105", "received_at": "2026-09-30T23:59:59", "valid": True},
]


def _eval(i, org, channel, level, day):
    return {"id": f"E{i}", "org": org, "channel": channel, "level": level, "evaluated_at": f"2026-10-{day}T10:00"}


EVALUATIONS = [_eval(1, "330102H", "window", 5, "08"), _eval(2, "330102H", "pad", 3, "09"),
               _eval(3, "330102H", "window", 2, "09"), _eval(4, "330102H", "sms", 1, "09"),
               _eval(5, "330105", "pad", 4, "12"), _eval(6, "330105", "online", 1, "12")]


def load(store, cfg, tmp_path, kind, rows):
    from checker.ingest import import_file
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    result = import_file(store, cfg, kind, path)
    assert result.rejected == 0, (tmp_path / f"{kind}.rejects.csv").read_text("utf-8-sig")


@pytest.fixture
def data(store, cfg, tmp_path):
    for kind, rows in [("orgs", ORGS), ("items", ITEMS), ("cases", CASES), ("complaints", COMPLAINTS),
                       ("evaluations", EVALUATIONS)]:
        load(store, cfg, tmp_path, kind, rows)
    return store


def figures(values):
    return {(v.code, v.org): (v.numerator, v.denominator, v.value, v.passed) for v in values}


EXPECTED_OCTOBER = {
    # code  org         numerator denominator value     passed
    ("P1", "330100"): (3, 4, 0.75, False),
    ("P1", "330102"): (3, 3, 1.0, True),
    ("P1", "330102H"): (2, 2, 1.0, True),
    ("P1", "330105"): (0, 1, 0.0, False),
    ("P2", "330100"): (3, 4, 0.75, False),
    ("P2", "330102"): (2, 3, 0.666667, False),
    ("P2", "330102H"): (1, 2, 0.5, False),
    ("P2", "330105"): (1, 1, 1.0, True),
    ("P3", "330100"): (3, 4, 0.75, False),
    ("P3", "330105"): (0, 1, 0.0, False),
    ("P4", "330100"): (26, 7, 3.714286, True),        # (20 + 6) / (3 + 4): I2 has no promised term
    ("P4", "330102H"): (20, 3, 6.666667, True),
    ("P4", "330105"): (0, 0, None, None),             # only a 公共服务 item and an out-of-scope one
    ("P5", "330100"): (3, 5, 0.6, False),             # C2 C6 C8 on time; C3 late; C4 open past due
    ("P5", "330102H"): (2, 4, 0.5, False),
    ("P5", "330105"): (1, 1, 1.0, True),              # C9 not due yet
    ("P6", "330100"): (2, 4, 0.5, False),
    ("P6", "330102"): (2, 3, 0.666667, False),
    ("P7", "330100"): (2, 7, 0.285714, False),        # C7 withdrawn, C1 September, C10 November;
    ("P7", "330102H"): (2, 5, 0.4, False),            # C8 is online but I3 is not 全流程 (depth 3)
    ("P7", "330105"): (0, 2, 0.0, False),
    ("P8", "330100"): (1, 3, 0.333333, False),        # K2 rectified after now, K3 invalid, K5 September
    ("P8", "330102H"): (1, 2, 0.5, False),
    ("P8", "330105"): (0, 1, 0.0, False),
    ("P9", "330100"): (3, 4, 0.75, False),            # sms and online evaluations are not on-site
    ("P9", "330102H"): (2, 3, 0.666667, False),
    ("P9", "330105"): (1, 1, 1.0, True),
}


def test_october_figures_match_the_hand_computed_values(data, cfg):
    got = figures(ind.compute(data, cfg, rulebook(), OCT, now=NOW))
    for key, expected in EXPECTED_OCTOBER.items():
        assert got[key] == expected, key


def test_p7_counts_full_process_items_only_unless_configured_otherwise(data, cfg):
    from dataclasses import replace
    looser = replace(cfg, indicators=replace(cfg.indicators, p7_reading="any_online"))
    got = figures(ind.compute(data, looser, rulebook(), OCT, now=NOW))
    assert got[("P7", "330100")] == (3, 7, 0.428571, False) and got[("P7", "330105")] == (1, 2, 0.5, True)
    depth3 = replace(cfg, indicators=replace(cfg.indicators, p7_full_process_depth=3))
    assert figures(ind.compute(data, depth3, rulebook(), OCT, now=NOW))[("P7", "330105")] == (1, 2, 0.5, True)


def test_a_percentage_is_never_rounded_onto_its_target():
    assert ind.percent(0.8994, {"gte": 0.9}) == "89.9%" and ind.percent(0.89996) == "90%"
    assert ind.percent(0.89996, {"gte": 0.9}) == "89.996%"
    assert ind.percent(0.99996, {"eq": 1.0}) == "99.996%"
    assert ind.percent(0.9, {"gte": 0.9}) == "90%" and ind.percent(0.95, {"gte": 0.9}) == "95%"
    assert ind.percent(1.4999, {"gte": 1.5}) == "149.99%"


def test_every_org_with_a_figure_gets_all_nine_indicators(data, cfg):
    values = ind.compute(data, cfg, rulebook(), OCT, now=NOW)
    assert sorted({v.org for v in values}) == ["330100", "330102", "330102H", "330105"]
    assert sorted({v.code for v in values}) == ["E1", *[f"P{i}" for i in range(1, 10)]]   # E1: DB50 一事一评
    assert len(values) == 4 * 10


def test_e1_one_case_one_evaluation_coverage_is_a_figure_without_a_verdict(data, cfg, tmp_path):
    load(data, cfg, tmp_path, "evaluations", [{**_eval(7, "330102H", "window", 4, "13"), "case_no": "C2"},
                                              {**_eval(8, "330102H", "sms", 5, "13"), "case_no": "C6"},
                                              {**_eval(9, "330102H", "sms", 5, "13"), "case_no": "C6"}])
    got = figures(ind.compute(data, cfg, rulebook(), OCT, now=NOW))
    # concluded in October (by closed_at): C1 C2 C3 C6 (330102H), C8 (330105); evaluated: C2, C6 once each
    assert got[("E1", "330102H")] == (2, 4, 0.5, None)
    assert got[("E1", "330105")] == (0, 1, 0.0, None)
    e1 = next(v for v in ind.compute(data, cfg, rulebook(), OCT, now=NOW) if v.code == "E1")
    assert e1.target_text == "—" and e1.clause == "5.4.2 b)"


def test_an_org_figure_covers_its_subtree_only(data, cfg):
    values = ind.compute(data, cfg, rulebook(), OCT, org="330102", now=NOW)
    assert {v.org for v in values} == {"330102"}
    got = figures(values)
    assert got[("P5", "330102")] == (2, 4, 0.5, False)
    assert got[("P1", "330102")] == (3, 3, 1.0, True)


def test_the_json_shape_is_the_documented_one(data, cfg):
    [p5] = [v for v in ind.compute(data, cfg, rulebook(), OCT, org="330105", now=NOW) if v.code == "P5"]
    shape = p5.to_json()
    assert {"code", "rule", "clause", "org", "period", "numerator", "denominator", "value", "target",
            "passed"} <= set(shape)
    assert (shape["rule"], shape["clause"], shape["period"]) == ("db33.indicator.p5", "5.2.1.5", "2026-10")
    assert shape["target"] == {"eq": 1.0}
    json.dumps(shape, ensure_ascii=False)


def test_p5_counts_an_open_case_once_its_deadline_has_passed(data, cfg):
    later = datetime(2026, 10, 16, 9, 0, tzinfo=TZ)              # C5 was due 10-15
    got = figures(ind.compute(data, cfg, rulebook(), OCT, org="330102H", now=later))
    assert got[("P5", "330102H")] == (2, 5, 0.4, False)


def test_p8_counts_a_rectification_only_once_it_has_happened(data, cfg):
    later = datetime(2026, 10, 21, 9, 0, tzinfo=TZ)              # K2 rectified 10-20
    got = figures(ind.compute(data, cfg, rulebook(), OCT, org="330102H", now=later))
    assert got[("P8", "330102H")] == (2, 2, 1.0, True)


def test_the_p9_satisfied_level_is_a_setting(data, cfg):
    strict = dataclasses.replace(cfg, indicators=dataclasses.replace(cfg.indicators, p9_satisfied_level=4))
    got = figures(ind.compute(data, strict, rulebook(), OCT, org="330102H", now=NOW))
    assert got[("P9", "330102H")] == (1, 3, 0.333333, False)


def test_periods_take_records_by_local_date(data, cfg):
    sept = figures(ind.compute(data, cfg, rulebook(), Period.parse("2026-09"), org="330100", now=NOW))
    assert sept[("P5", "330100")] == (1, 1, 1.0, True)            # C1 accepted 09-30 local
    assert sept[("P8", "330100")] == (0, 1, 0.0, False)           # K5 received 09-30 23:59:59
    q4 = figures(ind.compute(data, cfg, rulebook(), Period.parse("2026-Q4"), org="330100", now=NOW))
    assert q4[("P7", "330100")] == (2, 8, 0.25, False)            # C10 in November joins


def test_an_org_without_records_has_no_value_and_no_verdict(data, cfg):
    values = ind.compute(data, cfg, rulebook(), Period.parse("2027-01"), org="330105", now=NOW)
    got = figures(values)
    assert got[("P5", "330105")] == (0, 0, None, None)
    assert got[("P1", "330105")] == (0, 1, 0.0, False)            # items are not dated


def test_a_missed_target_of_a_region_org_is_a_firing_with_a_chinese_message(data, cfg):
    firings, evaluated = ind.indicator_scan(data, cfg, rulebook(), NOW)
    by_subject = {f.subject: f for f in firings}
    p1 = by_subject["P1:330100:2026-10"]
    assert (p1.rule.id, p1.org, p1.subject_kind) == ("db33.indicator.p1", "330100", "indicator")
    assert "杭州市 2026年10月" in p1.message and "75%" in p1.message and "3/4" in p1.message
    assert "DB33/T 2036.7 §5.2.1.1" in p1.message
    assert "P5:330105:2026-10" not in by_subject                 # met its target
    assert not any(":330102H:" in s for s in by_subject)          # halls are not regions
    assert "P8:330105:2026-09" in by_subject                      # the previous full month too
    assert "P5:330105:2026-10" in evaluated["db33.indicator.p5"]


def test_failed_indicators_reconcile_into_findings_and_resolve_when_met(data, cfg, tmp_path):
    from checker import findings as fnd
    firings, evaluated = ind.indicator_scan(data, cfg, rulebook(), NOW)
    fnd.reconcile(data, cfg, 1, NOW, firings, evaluated)
    opened = {f["subject"] for f in fnd.list_findings(data, rule="db33.indicator.p8")}
    assert "P8:330102:2026-10" in opened
    load(data, cfg, tmp_path, "complaints", [{**COMPLAINTS[1], "rectified_at": "2026-10-13T10:00"}])
    firings, evaluated = ind.indicator_scan(data, cfg, rulebook(), NOW)
    result = fnd.reconcile(data, cfg, 2, NOW, firings, evaluated)
    assert result.resolved >= 1
    [p8] = [f for f in fnd.list_findings(data, rule="db33.indicator.p8") if f["subject"] == "P8:330102:2026-10"]
    assert p8["status"] == "resolved"
