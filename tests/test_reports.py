"""Periodic reports (DB50/T 957.7 §4.2, §6.5; DB33/T 2036.7 §8.1–8.4) built from a small data set
imported through checker.ingest into a real SQLite file, with findings and their audit trail."""
from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checker.rules import load_packs

from checker.errors import InputError
from checker.ingest import import_file
from checker.reports import KINDS, build_report, default_period

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=TZ)          # Tuesday; the monthly bulletin covers October
HOSTILE = '<script>alert("x")</script>&'

FILES = {
    "orgs": """code,name,parent,level
C,测试市,,city
A,甲区,C,district
A1,甲区行政服务中心,A,hall
B,乙区,C,district
""",
    "officers": """id,name,org,role
E1,张三,A1,officer
E2,李四,B,officer
SUP1,王监督,C,supervisor
""",
    "items": """code,name,org,type,in_scope,one_visit,comprehensive_window,centralized,immediate,statutory_days,promised_days
IA,营业执照,A1,行政许可,是,是,是,是,否,20,5
IB,户口迁移,B,公共服务,是,否,否,是,是,,
""",
    "cases": """case_no,item_code,org,channel,accepted_at,closed_at,status,handler
K1,IA,A1,window,2026-10-09T10:00,,processing,E1
K2,IA,A1,online,2026-10-12T10:00,2026-10-13T10:00,closed,E1
K3,IB,B,window,2026-10-14T10:00,2026-10-14T11:00,closed,E2
""",
    "evaluations": """id,org,channel,level,evaluated_at,comment
V1,A1,window,1,2026-10-13T11:00,等候时间太长
V2,B,pad,5,2026-10-14T12:00,
""",
    "surveys": """id,org,channel,date,a5,a6,a7
S1,A1,onsite,2026-10-13,A,B,
S2,B,onsite,2026-10-14,D,C,B;G
""",
}


@functools.lru_cache(maxsize=1)
def rulebook():
    """The shipped packs (loaded once: the rulebook is read-only)."""
    return load_packs(ROOT / "rules")


def _finding(store, fid, org, status, severity, clause, due_at, message="问题", opened="2026-10-10T09:00:00+08:00"):
    store.db["findings"].insert({
        "id": fid, "fingerprint": f"r{fid}:s{fid}", "rule": f"db33.test.{fid}", "clause": clause,
        "standard": "DB33/T 2036.7", "kind": "record", "subject": f"S{fid}", "org": org, "severity": severity,
        "status": status, "message": message, "assignee": "E1", "opened_at": opened, "due_at": due_at})


def _event(store, fid, action, at, note=None, actor="SUP1"):
    org = store.scalar("SELECT org FROM findings WHERE id = ?", (fid,))     # an event carries its finding's org
    store.db["finding_events"].insert({"finding_id": fid, "org": org, "at": at, "actor": actor, "action": action,
                                       "note": note})


@pytest.fixture
def data(store, cfg, tmp_path):
    for kind, text in FILES.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        assert import_file(store, cfg, kind, path).rejected == 0, kind
    _finding(store, 1, "A1", "open", "red", "5.2.1.5", "2026-10-20T23:59:59+08:00")        # overdue rectification
    _finding(store, 2, "B", "verified", "yellow", "5.3.2.2.1", "2026-10-25T23:59:59+08:00")
    _finding(store, 3, "A", "rejected", "yellow", "5.1.2.1", "2026-11-20T23:59:59+08:00")
    _finding(store, 4, "B", "open", "blue", "5.1.2.1", None, message=HOSTILE)
    _event(store, 2, "verify_pass", "2026-10-20T10:00:00+08:00", "已整改到位")
    _event(store, 3, "verify_fail", "2026-10-21T10:00:00+08:00", "整改材料不全 " + HOSTILE)
    _event(store, 4, "rebound", "2026-10-22T10:00:00+08:00")
    return store


def build(store, cfg, kind, tmp_path, **kw):
    return build_report(store, cfg, rulebook(), kind, now=NOW, out_dir=tmp_path / "out", **kw)


def test_default_periods_are_the_previous_complete_ones():
    assert [default_period(k, NOW).code for k in ("daily", "weekly", "monthly", "quarterly", "annual")] == \
        ["2026-11-02", "2026-W44", "2026-10", "2026-Q3", "2025"]


def test_monthly_bulletin_states_period_scope_and_data_time(data, cfg, tmp_path):
    r = build(data, cfg, "monthly", tmp_path)
    html = r.html_path.read_text("utf-8")
    assert r.period.code == "2026-10" and r.html_path.name == "monthly-2026-10.html"
    assert "2026年10月月度通报" in html and "2026-10-01 至 2026-10-31" in _text(html)
    assert "范围：全部机构" in html and "数据截至：2026-11-03 09:00" in _text(html)
    assert "DB50/T 957.7 §4.2 c)" in html


def test_overdue_list_names_the_open_case_past_its_deadline(data, cfg, tmp_path):
    html = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")
    section = html.split("超期办件督办清单")[1].split("</section>")[0]
    assert "K1" in section and "营业执照" in section and "甲区行政服务中心" in section
    assert "K2" not in section and "K3" not in section


def test_p1_to_p9_table_shows_pass_or_fail_and_change(data, cfg, tmp_path):
    html = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")
    table = html.split("P1–P9 定量评价指标")[1].split("</section>")[0]
    table = re.sub(r"<td[^>]*>", "<td>", table)
    rows = re.findall(r"<tr><td>(P\d)</td>.*?</tr>", table)
    assert rows == [f"P{i}" for i in range(1, 10)]
    p1 = re.search(r"<tr><td>P1</td>.*?</tr>", table).group(0)           # IA one_visit, IB not → 50%
    assert "50.0%" in p1 and "未达标" in p1
    p3 = re.search(r"<tr><td>P3</td>.*?</tr>", table).group(0)           # both centralized
    assert "100.0%" in p3 and "达标" in p3 and "未达标" not in p3


def test_rectification_counts_and_public_recheck_results(data, cfg, tmp_path):
    r = build(data, cfg, "monthly", tmp_path)
    html = r.html_path.read_text("utf-8")
    assert "未关闭问题 3 项，其中超过整改期限 1 项；本期复查通过 1 项、复查未通过 1 项，已整改问题反弹 1 项" in html
    recheck = html.split("复查验证结果公开")[1].split("</table>")[0]
    assert "已整改到位" in recheck and "整改材料不全" in recheck and "通过" in recheck and "未通过" in recheck
    assert "本期复查通过 1 项、未通过 1 项，反弹 1 项" in r.text


def test_suggestions_are_grouped_by_clause_with_units_and_the_earliest_deadline(data, cfg, tmp_path):
    html = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")
    part = html.split("整改建议（按条款归并")[1].split("</table>")[0]
    rows = [[re.sub(r"<[^>]+>", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", part) if "<td" in tr]
    # overdue case K1 of the hall that holds it: 3 working days from Tue 11-03 → Fri 11-06
    assert any(r[0].startswith("DB50/T 957.7 §4.2 a)") and r[3:] == ["甲区行政服务中心", "2026-11-06"] for r in rows), rows
    # finding 1 past its rectification deadline, and the rebound of finding 4: 5 working days → 11-10
    assert any("§8.1" in r[0] and r[3:] == ["甲区行政服务中心", "2026-11-10"] for r in rows)
    assert any("§8.4" in r[0] and r[3:] == ["乙区", "2026-11-10"] for r in rows)
    # P1 of 乙区 (IB not one-visit) missed its target: 10 working days → 11-17, titled by the indicator
    p1 = next(r for r in rows if "§5.2.1.1" in r[0])
    assert "“最多跑一次”事项实现率" in p1[0] and p1[3:] == ["乙区", "2026-11-17"]
    assert len({r[0] for r in rows}) == len(rows)                     # one row a clause and measure
    assert "评价结论" in html and "存在的问题" in html


def test_narrative_has_highlights_problems_and_advice_from_the_data(data, cfg, tmp_path):
    html = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")
    part = re.sub(r"<[^>]+>", " ", html.split("总体情况")[1].split("</section>")[0])
    assert "亮点" in part and "问题" in part and "建议" in part
    assert "P3 集中受理率" in part                                      # met its target
    assert "最长超期 13 个工作日（K1，营业执照）" in part
    assert "P9 现场服务满意率 50.0%，未达到目标（≥ 90%）（样本不足，仅供参考）" in part   # 2 evaluations
    assert "本期内没有运行扫描" in part or "尚未运行扫描" in part


def test_small_samples_are_flagged_and_not_compared(data, cfg, tmp_path):
    html = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")
    table = html.split("P1–P9 定量评价指标")[1].split("</section>")[0]
    p9 = re.search(r'<td data-label="编号">P9</td>.*?</tr>', table).group(0)
    assert "样本不足（n=2）" in p9
    assert "依据的记录不足 30 条" in table


def test_item_based_indicators_are_snapshotted_per_period(data, cfg, tmp_path):
    from checker.ingest import import_file
    html = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")      # October: snapshot saved
    assert "无上期快照" in html
    assert {r["period"] for r in data.rows("SELECT period FROM indicator_snapshots")} == {"2026-10"}
    # in November item IB becomes one-visit: the October report still shows its snapshot (P1 50%)
    items = tmp_path / "items2.csv"
    items.write_text("code,name,org,type,in_scope,one_visit\nIB,户口迁移,B,公共服务,是,是\n", encoding="utf-8")
    import_file(data, cfg, "items", items)
    again = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")
    p1 = re.search(r'<td data-label="编号">P1</td>.*?</tr>', again).group(0)
    assert "1 / 2" in p1 and "50.0%" in p1
    # the November report compares with October's snapshot: 100% now, 50% then, +50 points
    later = build_report(data, cfg, rulebook(), "monthly", "2026-11", now=datetime(2026, 12, 1, 9, tzinfo=TZ),
                         out_dir=tmp_path / "nov").html_path.read_text("utf-8")
    p1 = re.search(r'<td data-label="编号">P1</td>.*?</tr>', later).group(0)
    assert "100.0%" in p1 and "+50.0 个百分点" in p1


def test_top_overdue_cases_name_the_officer_not_the_id(data, cfg, tmp_path):
    html = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")
    section = html.split("超期办件督办清单")[1].split("</section>")[0]
    assert "张三" in section and ">E1<" not in section


def test_rankings_by_district(data, cfg, tmp_path):
    html = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")
    part = html.split("各区县、各部门排名")[1].split("</section>")[0]
    ranks = re.findall(r'<td class="num" data-label="排名">(\d)</td><td data-label="单位">(.*?)</td>', part)
    assert sorted(n for _, n in ranks) == ["乙区", "甲区"] and [r for r, _ in ranks] == ["1", "2"]


def test_hostile_text_is_escaped_and_the_page_is_well_formed(data, cfg, tmp_path):
    html = build(data, cfg, "quarterly", tmp_path, period="2026-Q4").html_path.read_text("utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html
    _balanced(html)
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) >= 3
    for svg in svgs:
        ET.fromstring(svg)                                # every chart is well-formed XML


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_builds_with_its_clause_and_a_summary(data, cfg, tmp_path, kind):
    r = build(data, cfg, kind, tmp_path)
    html = r.html_path.read_text("utf-8")
    assert KINDS[kind].clause in html and KINDS[kind].title in r.text
    assert str(r.html_path) in r.text and "超期未办结 1 件" in r.text
    _balanced(html)


def test_quarterly_analysis_has_trend_ranking_heat_map_and_poor_reasons(data, cfg, tmp_path):
    html = build(data, cfg, "quarterly", tmp_path, period="2026-Q4").html_path.read_text("utf-8")
    for title in ("逐月趋势", "达标项数排名", "未关闭问题分布", "差评原因"):
        assert title in html, title
    assert "等候时间太长" in html and "审批周期太长" in html       # evaluation comment, survey a7 option G


def test_annual_evaluation_ranks_the_index(data, cfg, tmp_path):
    html = build(data, cfg, "annual", tmp_path, period="2026").html_path.read_text("utf-8")
    part = html.split("政务服务效能指数排名")[1]
    assert "甲区" in part and "乙区" in part and "服务方式完备度" in part


def test_org_scope_limits_the_report(data, cfg, tmp_path):
    r = build(data, cfg, "monthly", tmp_path, org="B")
    html = r.html_path.read_text("utf-8")
    assert r.html_path.name == "monthly-2026-10-B.html" and "范围：乙区（含下级机构）" in html
    assert "K1" not in html.split("超期办件督办清单")[1].split("</section>")[0]


def test_wrong_period_for_the_kind_and_unknown_org_are_refused(data, cfg, tmp_path):
    with pytest.raises(InputError, match="季度"):
        build(data, cfg, "quarterly", tmp_path, period="2026-10")
    with pytest.raises(InputError, match="不存在"):
        build(data, cfg, "monthly", tmp_path, org="NOPE")


def _text(html: str) -> str:
    """The page's text without tags."""
    return re.sub(r"<[^>]+>", "", html)


VOID = {"meta", "br", "img", "hr", "input", "link", "col"}


class _Balance(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def _balanced(html: str) -> None:
    p = _Balance()
    p.feed(html)
    p.close()
    assert p.stack == []


def test_report_command_prints_the_summary_and_path(data, cfg, tmp_path, capsys):
    from govwatch.cli import main
    out = tmp_path / "cli"
    rc = main(["--db", cfg.database, "report", "monthly", "--now", "2026-11-03T09:00", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0 and "2026年10月月度通报" in printed and str(out / "monthly-2026-10.html") in printed
    assert (out / "monthly-2026-10.html").is_file()


def test_report_command_refuses_a_bad_period_with_exit_2(data, cfg, tmp_path, capsys):
    from govwatch.cli import main
    rc = main(["--db", cfg.database, "report", "monthly", "--period", "2026-13", "--out", str(tmp_path)])
    assert rc == 2 and "无法识别的期间" in capsys.readouterr().err


def test_index_command_json_ranks_the_districts(data, cfg, capsys):
    import json as _json

    from govwatch.cli import main
    rc = main(["--db", cfg.database, "index", "--period", "2026-10", "--json"])
    rows = _json.loads(capsys.readouterr().out)
    assert rc == 0 and {r["org"] for r in rows} == {"A", "B"}
    # No metrics are imported here, so 服务方式完备度 etc. have no data: both districts are incomplete,
    # listed with what they miss and not ranked (issue 13 item 9)
    assert all(r["rank"] is None and r["complete"] is False and r["group"] == "district" for r in rows)
    assert "服务方式完备度" in rows[0]["missing_dimensions"]
    assert set(rows[0]["dimensions"]) == {"服务方式完备度", "服务事项覆盖度", "办事指南准确度", "在线办理深度", "在线服务成效度"}


def test_findings_still_open_at_data_time_are_listed_by_clause(data, cfg, tmp_path):
    # findings 1, 3 and 4 are not closed (2 is verified): 5.1.2.1 twice, 5.2.1.5 once
    html = build(data, cfg, "monthly", tmp_path).html_path.read_text("utf-8")
    section = html.split("仍未关闭的问题（按条款")[1].split("</table>")[0]
    assert "共 3 项" in section
    assert re.search(r"§5\.1\.2\.1</span>[^<]*</td><td[^>]*>2<", section)
    assert re.search(r"§5\.2\.1\.5</span> 办件超期未办结</td><td[^>]*>1<", section)   # the clause's rule title
    assert "5.3.2.2.1" not in section


DISCLOSURES = """id,org,title,category,formed_at,published_at,extended
D1,A,甲区惠企政策清单,主动公开,2026-09-01T10:00,2026-09-03T10:00,
D2,A1,甲区办事指南调整公告,主动公开,2026-08-03T10:00,,
D3,B,规划许可信息公开申请,依申请公开,2026-07-01T10:00,2026-08-20T10:00,是
D4,B,补贴名单公开申请,依申请公开,2026-07-01T10:00,2026-08-20T10:00,否
D5,A,十月形成的信息,主动公开,2026-10-09T10:00,,
"""


def test_quarterly_analysis_reports_disclosures_against_the_time_limits(data, cfg, tmp_path):
    path = tmp_path / "disclosures.csv"
    path.write_text(DISCLOSURES, encoding="utf-8")
    assert import_file(data, cfg, "disclosures", path).rejected == 0
    html = build(data, cfg, "quarterly", tmp_path).html_path.read_text("utf-8")
    section = _text(html.split("政务公开情况（DB50/T 957.7 §3.3）")[1].split("</section>")[0])
    assert "本期形成或收到政务公开事项 4 件" in section            # D5 is October's
    assert "规定时限内公开或答复 2 件，超过时限 2 件" in section
    late = section.split("超过时限的政务公开事项")[1]
    assert "甲区办事指南调整公告" in late and "未公开" in late and "补贴名单公开申请" in late
    assert "规划许可信息公开申请" not in late and "甲区惠企政策清单" not in late   # extended: 40 days allowed
    assert "十月形成的信息" not in section
