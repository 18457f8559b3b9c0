"""Issue 12: no record or file stops an import or the working-day arithmetic (items 1, 2, 5, 6, 8,
and the rejects file of 13). Values differ on purpose from the ones the issue reported."""
from __future__ import annotations

import csv
import json
from datetime import date, datetime

import pytest

from checker import config as config_mod
from checker import ingest
from checker.calendar import CalendarRangeError, MAX_WORKING_DAYS, WorkCalendar
from checker.errors import InputError
from govwatch.cli import main

ORGS = [{"code": "500100", "name": "重庆市", "level": "city"},
        {"code": "500103", "name": "渝中区", "parent": "500100", "level": "district"}]
ITEMS = [{"code": "K1", "name": "建设工程规划许可", "org": "500103", "promised_days": 7, "statutory_days": 20}]
OFFICERS = [{"id": "W1", "name": "陈一", "org": "500103", "role": "officer"}]


def case(no: str, **kw) -> dict:
    return {"case_no": no, "item_code": "K1", "org": "500103", "channel": "window",
            "accepted_at": "2026-09-21 10:00", "status": "processing", **kw}


def put(tmp_path, name: str, rows: list[dict]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return str(path)


def rejects(result) -> list[list[str]]:
    return list(csv.reader(open(result.rejects_file, encoding="utf-8-sig")))[1:] if result.rejects_file else []


@pytest.fixture
def base(store, cfg, tmp_path):
    for kind, rows in (("orgs", ORGS), ("items", ITEMS), ("officers", OFFICERS)):
        assert ingest.import_file(store, cfg, kind, put(tmp_path, f"{kind}.json", rows)).rejected == 0
    return store


def test_dates_outside_the_window_and_huge_counts_are_rejected_row_by_row(base, cfg, tmp_path):
    rows = [case("A1", promised_at="9998-06-01 08:00"),          # far future: the scan's overflow
            case("A2", accepted_at="1899-12-31 09:00"),
            case("A3", suspended_days=10**25),                   # beyond SQLite INTEGER
            case("A4", suspended_days=3651),
            case("A5", extended_days="5000"),
            case("A6", visits=1001),
            case("A7", accepted_at="0002-03-04T05:06:07-11:00"),
            case("A8", suspended_days=3650, visits=1000)]        # the bounds themselves are fine
    r = ingest.import_file(base, cfg, "cases", put(tmp_path, "cases.json", rows))
    assert (r.inserted, r.rejected) == (1, 7)
    reasons = {row[0]: row[2] for row in rejects(r)}
    assert "超出允许范围 2000-01-01 至 2099-12-31" in reasons["1"]
    assert "不能大于 3650" in reasons["4"] and "不能大于 1000" in reasons["6"]
    assert "位的整数" in reasons["3"] or "不能大于" in reasons["3"]
    assert base.get("cases", "A8")["due_at"]


def test_the_date_window_is_configurable(store, tmp_path):
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(f"database: {tmp_path / 'w.db'}\ningest: {{date_min: '2020-01-01', date_max: '2030-12-31'}}\n",
                        encoding="utf-8")
    cfg = config_mod.load(cfg_file)
    path = put(tmp_path, "orgs.json", ORGS)
    from checker.store import Store
    with Store(cfg.database) as s:
        ingest.import_file(s, cfg, "orgs", path)
        ingest.import_file(s, cfg, "items", put(tmp_path, "items.json", ITEMS))
        r = ingest.import_file(s, cfg, "cases", put(tmp_path, "c.json", [
            case("B1", accepted_at="2019-12-31 23:00"), case("B2", accepted_at="2031-01-02 08:00"), case("B3")]))
    assert (r.inserted, r.rejected) == (1, 2)
    assert "2020-01-01 至 2030-12-31" in rejects(r)[0][2]
    bad = tmp_path / "bad.yaml"
    bad.write_text("ingest: {date_min: '2050-01-01', date_max: '2040-01-01'}\n", encoding="utf-8")
    with pytest.raises(config_mod.ConfigError):
        config_mod.load(bad)


def test_working_day_arithmetic_is_bounded():
    cal = WorkCalendar()
    for n in (10**27, 123_456_789, MAX_WORKING_DAYS + 1):
        with pytest.raises(CalendarRangeError):
            cal.add(date(2026, 3, 2), n)
    with pytest.raises(CalendarRangeError):
        cal.count(date(2026, 3, 2), date(9000, 1, 1))
    assert cal.add(date(2026, 3, 2), MAX_WORKING_DAYS).year < 2080       # the bound itself works
    with pytest.raises(ValueError):                                      # what a scan can isolate
        cal.deadline(datetime(2026, 3, 2, 9, tzinfo=cal.tz), 4000, suspended=4000, extended=4000)


def test_a_poisoned_row_mid_file_rejects_only_itself(base, cfg, tmp_path):
    rows = [case(f"P{i:04d}") for i in range(1, 12001)]
    rows[8500] = case("P8501", handler="W1", visits=7 * 10**19)      # past one write batch (5,000 rows)
    rows[3] = case("P0004", hall="大" * 140_000)
    r = ingest.import_file(base, cfg, "cases", put(tmp_path, "big.json", rows))
    assert (r.inserted, r.rejected) == (11998, 2)
    assert base.count("cases") == 11998 and base.get("cases", "P12000")
    assert sorted(int(x[0]) for x in rejects(r)) == [4, 8501]


def test_a_csv_value_over_the_field_limit_is_a_reject_not_a_traceback(base, cfg, tmp_path):
    path = tmp_path / "cases.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_no", "item_code", "org", "channel", "accepted_at", "status", "hall"])
        w.writerow(["Q1", "K1", "500103", "window", "2026-09-22 10:00", "processing", ""])
        w.writerow(["Q2", "K1", "500103", "window", "2026-09-22 10:00", "processing", "x" * 150_000])
        w.writerow(["Q3", "K1", "500103", "window", "2026-09-22 10:00", "processing", ""])
    r = ingest.import_file(base, cfg, "cases", path)
    assert (r.inserted, r.rejected) == (2, 1)
    assert "超过" in rejects(r)[0][2]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_an_undecodable_line_keeps_every_row_before_it_and_names_the_line(base, cfg, tmp_path, fmt):
    good = [case(f"D{i}") for i in range(1, 6)]
    if fmt == "csv":
        head = "case_no,item_code,org,channel,accepted_at,status\n"
        lines = [f"{c['case_no']},K1,500103,window,{c['accepted_at']},processing\n" for c in good]
        text = [head, *lines]
        bad_line = 5                                        # header is line 1: D1..D3 are lines 2–4
    else:
        text = [json.dumps(c, ensure_ascii=False) + ",\n" for c in good]
        if fmt == "json":
            text = ["[\n", *text[:-1], text[-1].rstrip(",\n") + "\n]\n"]
            bad_line = 5
        else:
            text = [t.rstrip(",\n") + "\n" for t in text]
            bad_line = 4
    data = "".join(text).encode("utf-8")
    marker = b"D4"
    data = data.replace(marker, b"D\xff4", 1)               # a byte UTF-8 cannot decode, in D4's line
    path = tmp_path / f"cases.{fmt}"
    path.write_bytes(data)
    with pytest.raises(InputError) as exc:
        ingest.import_file(base, cfg, "cases", path)
    assert f"第 {bad_line} 行" in str(exc.value) and "已导入" in str(exc.value)
    assert [base.get("cases", f"D{i}") is not None for i in range(1, 6)] == [True, True, True, False, False]
    assert main(["--db", cfg.database, "import", "cases", str(path)]) == 2


def test_cross_field_nonsense_is_rejected_with_reasons(base, cfg, tmp_path):
    rows = [case("X1", status="closed", closed_at="2026-09-20 17:00"),          # closed before accepted
            case("X2", promised_at="2026-09-18 17:00"),                         # promised before acceptance
            case("X3", status="closed"),                                        # closed without closed_at
            case("X4", accepted_at="2026-12-31 09:00"),                         # far after the import
            case("X5", status="closed", closed_at="2026-09-21 10:30")]
    run = ingest.ImportRun(base, cfg, now=datetime(2026, 9, 25, 12, tzinfo=cfg.tz))
    r = ingest.import_file(base, cfg, "cases", put(tmp_path, "x.json", rows), run=run)
    assert (r.inserted, r.rejected) == (1, 4)
    reasons = [row[2] for row in rejects(r)]
    assert "早于" in reasons[0] and "早于受理日期" in reasons[1]
    assert "没有办结时间" in reasons[2] and "ingest.max_future_days" in reasons[3]


def test_an_org_whose_parent_chain_loops_is_rejected(base, cfg, tmp_path):
    rows = [{"code": "500100", "name": "重庆市", "parent": "500103", "level": "city"},   # 500103's parent is 500100
            {"code": "500199", "name": "自指", "parent": "500199", "level": "district"},
            {"code": "500104", "name": "大渡口区", "parent": "500100", "level": "district"}]
    r = ingest.import_file(base, cfg, "orgs", put(tmp_path, "loop.json", rows))
    assert (r.inserted, r.updated, r.rejected) == (1, 0, 2)
    reasons = [row[2] for row in rejects(r)]
    assert "循环" in reasons[0] and "500100 → 500103 → 500100" in reasons[0]
    assert base.get("orgs", "500100")["parent"] is None


def test_rejects_file_neutralises_formulas(base, cfg, tmp_path):
    rows = [case("=HYPERLINK(\"http://x\")", channel="@SUM(A1)"), case("F2", channel="-2+cmd|' /C notepad'!A0")]
    r = ingest.import_file(base, cfg, "cases", put(tmp_path, "f.json", rows))
    text = open(r.rejects_file, encoding="utf-8-sig").read()
    for row in csv.reader(text.splitlines()):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_reimporting_officers_keeps_a_bot_binding_unless_told(base, cfg, tmp_path):
    base.conn.execute("UPDATE officers SET telegram_id = 424242 WHERE id = 'W1'")
    again = [{"id": "W1", "name": "陈一", "org": "500103", "role": "supervisor"}]
    ingest.import_file(base, cfg, "officers", put(tmp_path, "o1.json", again))
    path = tmp_path / "o2.csv"
    path.write_text("工号,姓名,机构编码,角色,Telegram\nW1,陈一,500103,supervisor,\n", encoding="utf-8")
    ingest.import_file(base, cfg, "officers", path)
    assert base.get("officers", "W1")["telegram_id"] == 424242
    assert base.get("officers", "W1")["role"] == "supervisor"
    ingest.import_file(base, cfg, "officers", put(tmp_path, "o3.json", [{**again[0], "telegram_id": 515151}]))
    assert base.get("officers", "W1")["telegram_id"] == 515151                    # set explicitly
    path.write_text("工号,姓名,机构编码,角色,Telegram\nW1,陈一,500103,supervisor,解绑\n", encoding="utf-8")
    r = ingest.import_file(base, cfg, "officers", path)
    assert r.rejected == 0 and base.get("officers", "W1")["telegram_id"] is None   # cleared explicitly
