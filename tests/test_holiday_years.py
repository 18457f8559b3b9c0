"""Years without a published 调休 schedule are said loudly (issue 13 item 11)."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from checker import config as config_mod
from checker.evaluate import holiday_years
from checker.findings import list_findings
from checker.ingest import import_file
from checker.rules import load_packs
from checker.evaluate.scan import run_scan
from checker.store import Store
from govwatch import cli
from test_rules_loader import make_pack
from test_scan import OVERDUE

TZ = ZoneInfo("Asia/Shanghai")


def put(store, cfg, tmp_path, kind, rows):
    path = tmp_path / f"{kind}-{store.current_seq()}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    assert import_file(store, cfg, kind, path, rejects_dir=tmp_path / "rejects").rejected == 0


def test_the_package_has_2025_and_2026_and_a_year_without_worked_weekends_is_missing():
    assert holiday_years.package_has_schedule(2025) and holiday_years.package_has_schedule(2026)
    assert not holiday_years.package_has_schedule(2031)


def test_a_configured_year_counts_and_deadlines_reach_later_years(store, cfg, tmp_path):
    now = datetime(2026, 12, 28, 10, tzinfo=TZ)
    assert holiday_years.missing_years(store, cfg, now) == []
    put(store, cfg, tmp_path, "orgs", [{"code": "H1", "name": "大厅", "level": "hall"}])
    put(store, cfg, tmp_path, "items", [{"code": "I1", "name": "许可", "org": "H1", "promised_days": 20}])
    put(store, cfg, tmp_path, "cases", [{"case_no": "C1", "item_code": "I1", "org": "H1", "channel": "window",
                                         "accepted_at": "2026-12-21T09:00:00+08:00", "status": "processing"}])
    missing = [y for y in holiday_years.missing_years(store, cfg, now) if not holiday_years.package_has_schedule(y)]
    assert missing == ([2027] if not holiday_years.package_has_schedule(2027) else [])
    typed = config_mod.load(None, database=cfg.database, calendar={"extra_workdays": ["2027-02-20"]})
    assert 2027 not in holiday_years.missing_years(store, typed, now)
    assert "2031 年调休安排未配置" in holiday_years.warning([2031])


def test_scan_keeps_one_admin_finding_per_missing_year_and_resolves_it_once_configured(store, cfg, tmp_path):
    put(store, cfg, tmp_path, "orgs", [{"code": "R", "name": "市政务办", "level": "city"},
                                       {"code": "H1", "name": "大厅", "level": "hall", "parent": "R"}])
    put(store, cfg, tmp_path, "officers", [{"id": "A1", "name": "管理员", "org": "R", "role": "admin"},
                                           {"id": "S1", "name": "监管", "org": "R", "role": "supervisor"}])
    book = load_packs(make_pack(tmp_path / "rules", OVERDUE))
    now = datetime(2031, 3, 3, 9, tzinfo=TZ)              # a year the package cannot know yet
    run_scan(store, cfg, book, now)
    run_scan(store, cfg, book, now)
    found = list_findings(store, rule=holiday_years.RULE.id)
    assert [(f["subject"], f["assignee"], f["status"]) for f in found] == [("calendar:2031", "A1", "open")]
    assert found[0]["message"].startswith("2031 年调休安排未配置")
    typed = config_mod.load(None, database=cfg.database, calendar={"extra_holidays": ["2031-01-01"]})
    run_scan(store, typed, book, now)
    assert list_findings(store, rule=holiday_years.RULE.id)[0]["status"] == "resolved"


def test_scan_and_schedule_print_the_warning(tmp_path, capsys):
    db = str(tmp_path / "gw.db")
    Store(db).close()                                 # read commands refuse a database that does not exist
    assert cli.main(["--db", db, "scan", "--now", "2031-05-06T09:00+08:00", "--json"]) == 0
    captured = capsys.readouterr()
    assert "2031 年调休安排未配置" in captured.err and json.loads(captured.out)["scan_id"] == 1
    assert cli.main(["--db", db, "schedule", "--now", "2031-05-06T09:00+08:00"]) == 0
    assert "2031 年调休安排未配置" in capsys.readouterr().err
    assert cli.main(["--db", db, "schedule", "--now", "2026-12-20T09:00+08:00"]) == 0
    near = "2027 年调休安排未配置" in capsys.readouterr().err      # the annual run on 4 Jan 2027 is near
    assert near == (not holiday_years.package_has_schedule(2027))
    assert cli.main(["--db", db, "schedule", "--now", "2026-05-06T09:00+08:00"]) == 0
    assert "调休安排未配置" not in capsys.readouterr().err
