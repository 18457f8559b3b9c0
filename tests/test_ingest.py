"""Import of every record kind and format: what a user feeding platform exports relies on."""
from __future__ import annotations

import csv
import json

import pytest

from checker import ingest
from checker.ingest.coerce import Coercer, compact
from checker.ingest.records import KINDS
from govwatch.cli import main

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

ORGS = [["机构编码", "机构名称", "上级机构", "层级"],
        ["330100", "杭州市", "", "city"],
        ["330102H", "上城区行政服务中心", "330102", "hall"],       # parent comes later in the file
        ["330102", "上城区", "330100", "district"]]
OFFICERS = [["工号", "姓名", "机构编码", "角色", "Telegram"], ["E1", "王伟", "330102H", "officer", "123456"]]
ITEMS = [["事项编码", "事项名称", "实施机构", "即办件", "承诺时限", "法定时限", "纳入最多跑一次"],
         ["I1", "食品经营许可证核发", "330102", "否", "5", "20", "是"],
         ["I2", "社会保障卡申领", "330102", "Y", "1", "20", "1"]]
CASES = [["办件编号", "事项编码", "受理机构", "大厅", "受理渠道", "受理时间", "办件状态", "经办人", "办结时间"],
         ["C1", "I1", "330102", "330102H", "window", "2026-10-09 09:00:00", "processing", "E1", ""],
         ["C2", "I2", "330102", "330102H", "online", "2026-10-09T15:30", "closed", "", "2026-10-09 16:10"]]


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def as_dicts(rows):
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def base(store, cfg, tmp_path):
    """Orgs, officers and items every case test needs."""
    for kind, rows in (("orgs", ORGS), ("officers", OFFICERS), ("items", ITEMS)):
        r = ingest.import_file(store, cfg, kind, write_csv(tmp_path / f"{kind}.csv", rows))
        assert r.rejected == 0, kind


@pytest.mark.parametrize("fmt", ["utf-8", "utf-8-sig", "gbk", "json", "jsonl"])
def test_cases_import_in_every_format_with_chinese_headers(store, cfg, tmp_path, fmt):
    base(store, cfg, tmp_path)
    if fmt == "json":
        path = tmp_path / "in.json"
        path.write_text(json.dumps(as_dicts(CASES), ensure_ascii=False), encoding="utf-8")
    elif fmt == "jsonl":
        path = tmp_path / "in.jsonl"
        path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in as_dicts(CASES)), encoding="utf-8")
    else:
        path = write_csv(tmp_path / "in.csv", CASES, encoding=fmt)
    r = ingest.import_file(store, cfg, "cases", path, encoding="gbk" if fmt == "gbk" else None)
    assert (r.inserted, r.updated, r.rejected) == (2, 0, 0)
    c1 = store.get("cases", "C1")
    assert c1["accepted_at"] == "2026-10-09T09:00:00+08:00"          # local time, offset, seconds
    assert c1["handler"] == "E1" and c1["hall"] == "330102H"
    assert store.get("cases", "C2")["accepted_at"] == "2026-10-09T15:30:00+08:00"


def test_gbk_file_without_encoding_is_refused_with_a_hint(store, cfg, tmp_path):
    path = write_csv(tmp_path / "orgs.csv", ORGS, encoding="gbk")
    assert main(["--db", cfg.database, "import", "orgs", str(path)]) == 2


def test_format_is_sniffed_when_the_extension_says_nothing(store, cfg, tmp_path):
    path = tmp_path / "orgs.txt"
    path.write_text(json.dumps(as_dicts(ORGS), ensure_ascii=False), encoding="utf-8")
    assert ingest.import_file(store, cfg, "orgs", path).inserted == 3


def test_every_kind_imports_from_csv_json_and_jsonl(store, cfg, tmp_path):
    from checker.tools.sample import write_sample
    from datetime import datetime
    write_sample(tmp_path / "s", datetime(2026, 10, 14, 9, tzinfo=cfg.tz), cases=200, seed=3, tz=cfg.tz)
    run = ingest.ImportRun(store, cfg)
    for n, (kind, path) in enumerate(ingest.folder_files(tmp_path / "s")):
        rows = list(csv.DictReader(open(path, encoding="utf-8")))
        rows = [{k: v for k, v in r.items() if v != ""} for r in rows]
        if n % 2:       # alternate JSON arrays and JSON Lines
            target = tmp_path / f"{kind}.json"
            target.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        else:
            target = tmp_path / f"{kind}.jsonl"
            target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        r = ingest.import_file(store, cfg, kind, target, run=run)
        assert (r.inserted, r.rejected) == (len(rows), 0), kind
        assert store.count(kind) == len(rows)


def test_booleans_in_every_spelling(store, cfg, tmp_path):
    base(store, cfg, tmp_path)
    rows = [["code", "name", "org", "in_scope", "one_visit", "immediate", "centralized"],
            ["B1", "x", "330102", "true", "是", "Y", "1"],
            ["B2", "x", "330102", "FALSE", "否", "n", "0"]]
    ingest.import_file(store, cfg, "items", write_csv(tmp_path / "b.csv", rows))
    b1, b2 = store.get("items", "B1"), store.get("items", "B2")
    assert [b1[k] for k in ("in_scope", "one_visit", "immediate", "centralized")] == [1, 1, 1, 1]
    assert [b2[k] for k in ("in_scope", "one_visit", "immediate", "centralized")] == [0, 0, 0, 0]


def test_datetimes_with_an_offset_are_converted_to_local_time(store, cfg, tmp_path):
    base(store, cfg, tmp_path)
    rows = [CASES[0], ["C9", "I1", "330102", "", "online", "2026-10-09T01:00:00Z", "processing", ""]]
    ingest.import_file(store, cfg, "cases", write_csv(tmp_path / "c.csv", rows))
    assert store.get("cases", "C9")["accepted_at"] == "2026-10-09T09:00:00+08:00"


def test_due_at_is_computed_from_the_item_in_working_days(store, cfg, tmp_path):
    base(store, cfg, tmp_path)
    ingest.import_file(store, cfg, "cases", write_csv(tmp_path / "c.csv", CASES))
    # Friday 2026-10-09 + 5 working days (Sat 10-10 is a worked day after National Day) → 10-15.
    assert store.get("cases", "C1")["due_at"] == "2026-10-15T23:59:59+08:00"
    assert store.get("cases", "C2")["due_at"] == "2026-10-09T23:59:59+08:00"      # 即办件: same day


def test_promised_at_wins_over_the_item(store, cfg, tmp_path):
    base(store, cfg, tmp_path)
    rows = [CASES[0] + ["承诺办结时间"], CASES[1] + ["2026-10-20 17:00"]]
    ingest.import_file(store, cfg, "cases", write_csv(tmp_path / "c.csv", rows))
    assert store.get("cases", "C1")["due_at"] == "2026-10-20T17:00:00+08:00"


def test_bad_rows_go_to_the_rejects_file_and_good_rows_go_in(store, cfg, tmp_path):
    base(store, cfg, tmp_path)
    rows = [CASES[0], CASES[1],                                       # header is row 1, C1 row 2
            ["C3", "I1", "330102", "", "fax", "2026-10-09 09:00", "closed", ""],
            ["C4", "I1", "330102", "", "online", "2026-02-30 09:00", "closed", ""],
            ["", "I1", "330102", "", "online", "2026-10-09 09:00", "closed", ""],
            CASES[2]]
    r = ingest.import_file(store, cfg, "cases", write_csv(tmp_path / "c.csv", rows))
    assert (r.inserted, r.rejected) == (2, 3)
    assert r.rejects_file == str(tmp_path / "c.rejects.csv")
    rejects = list(csv.reader(open(r.rejects_file, encoding="utf-8-sig")))
    assert rejects[0][:3] == ["行号", "列", "原因"] and rejects[0][3:] == CASES[0]
    assert [x[0] for x in rejects[1:]] == ["3", "4", "5"]
    assert rejects[1][1] == "受理渠道" and "online/window" in rejects[1][2]
    assert "2026-02-30" in rejects[2][2] and rejects[3][2].startswith("缺少必填字段 办件编号")
    assert rejects[1][3:] == rows[2]                                 # original values kept


def test_rejects_can_go_to_another_folder(store, cfg, tmp_path):
    rows = ORGS + [["X", "坏", "", "galaxy"]]
    r = ingest.import_file(store, cfg, "orgs", write_csv(tmp_path / "o.csv", rows), rejects_dir=tmp_path / "rej")
    assert r.rejects_file == str(tmp_path / "rej" / "o.rejects.csv") and r.rejected == 1


def test_reimport_updates_by_key_without_duplicates(store, cfg, tmp_path):
    base(store, cfg, tmp_path)
    path = write_csv(tmp_path / "c.csv", CASES)
    first = ingest.import_file(store, cfg, "cases", path)
    seq = store.get("cases", "C1")["_seq"]
    write_csv(path, [CASES[0], CASES[1][:6] + ["closed", "E1", "2026-10-12 10:00"], CASES[2]])
    second = ingest.import_file(store, cfg, "cases", path)
    assert (first.inserted, first.updated, second.inserted, second.updated) == (2, 0, 0, 2)
    assert store.count("cases") == 2 and store.get("cases", "C1")["status"] == "closed"
    assert store.get("cases", "C1")["_seq"] == store.current_seq() > seq


def test_reimport_keeps_columns_the_file_does_not_have(store, cfg, tmp_path):
    ingest.import_file(store, cfg, "orgs", write_csv(tmp_path / "o.csv", ORGS))
    ingest.import_file(store, cfg, "officers", write_csv(tmp_path / "a.csv", [
        ["id", "name", "org", "role", "phone"], ["E7", "李娜", "330100", "officer", "13800000000"]]))
    ingest.import_file(store, cfg, "officers", write_csv(tmp_path / "b.csv", [
        ["id", "name", "org", "role"], ["E7", "李娜", "330100", "supervisor"]]))
    assert store.get("officers", "E7")["phone"] == "13800000000"
    assert store.get("officers", "E7")["role"] == "supervisor"


def test_reference_errors_name_the_missing_record(store, cfg, tmp_path):
    base(store, cfg, tmp_path)
    rows = [CASES[0], ["C5", "I404", "330102", "", "online", "2026-10-09 09:00", "closed", "E404"]]
    r = ingest.import_file(store, cfg, "cases", write_csv(tmp_path / "c.csv", rows))
    assert (r.inserted, r.rejected) == (0, 1)
    reason = list(csv.reader(open(r.rejects_file, encoding="utf-8-sig")))[1][2]
    assert "I404 不存在" in reason and "E404 不存在" in reason


def test_references_to_records_of_the_same_run_count(store, cfg, tmp_path):
    folder = tmp_path / "all"
    folder.mkdir()
    for kind, rows in (("cases", CASES), ("items", ITEMS), ("officers", OFFICERS), ("orgs", ORGS)):
        write_csv(folder / f"{kind}.csv", rows)
    results = ingest.import_dir(store, cfg, folder)
    assert [r.kind for r in results] == ["orgs", "officers", "items", "cases"]
    assert all(r.rejected == 0 for r in results) and store.count("cases") == 2


def test_a_parent_that_never_comes_is_rejected(store, cfg, tmp_path):
    rows = ORGS + [["330199", "某区", "339999", "district"], ["3301991", "某街道", "330199", "township"]]
    r = ingest.import_file(store, cfg, "orgs", write_csv(tmp_path / "o.csv", rows))
    assert (r.inserted, r.rejected) == (3, 2)


def test_import_bumps_the_change_counter(store, cfg, tmp_path):
    before = store.current_seq()
    base(store, cfg, tmp_path)
    assert store.current_seq() == before + 3
    assert {r["_seq"] for r in store.rows("SELECT _seq FROM orgs")} == {before + 1}


def test_json_errors_are_rejected_rows(store, cfg, tmp_path):
    path = tmp_path / "orgs.jsonl"
    path.write_text('{"code": "1", "name": "a", "level": "city"}\n{"code": \n[1, 2]\n', encoding="utf-8")
    r = ingest.import_file(store, cfg, "orgs", path)
    assert (r.inserted, r.rejected) == (1, 2)


def test_unknown_columns_are_reported_and_ignored(store, cfg, tmp_path):
    r = ingest.import_file(store, cfg, "orgs", write_csv(tmp_path / "o.csv", [ORGS[0] + ["备注"], ORGS[1] + ["x"]]))
    assert r.ignored_columns == ("备注",) and r.inserted == 1


# --- the CLI ---------------------------------------------------------------------------------

def test_cli_json_output(cfg, tmp_path, capsys):
    path = write_csv(tmp_path / "o.csv", ORGS + [["X", "坏", "", "galaxy"]])
    assert main(["--db", cfg.database, "import", "orgs", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("kind", "inserted", "updated", "rejected")} == \
        {"kind": "orgs", "inserted": 3, "updated": 0, "rejected": 1}
    assert out["rejects_file"].endswith("o.rejects.csv")


def test_cli_import_all_prints_a_list(cfg, tmp_path, capsys):
    folder = tmp_path / "all"
    folder.mkdir()
    write_csv(folder / "orgs.csv", ORGS)
    assert main(["--db", cfg.database, "import", "all", str(folder), "--json"]) == 0
    assert [r["kind"] for r in json.loads(capsys.readouterr().out)] == ["orgs"]


@pytest.mark.parametrize("args", [["import", "nosuchkind", "x.csv"], ["import", "orgs", "/nonexistent/o.csv"],
                                  ["import", "all", "/nonexistent"]])
def test_cli_unusable_input_exits_2_with_one_chinese_line(cfg, args, capsys):
    assert main(["--db", cfg.database, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err)


# --- schema and coercer agree ------------------------------------------------------------------

GOOD = {
    "items": [{"code": "I1", "name": "x", "org": "O", "in_scope": "是", "immediate": True, "promised_days": "5",
               "online_depth": 4, "statutory_days": 20.0, "visits": "0"},
              {"code": 330100, "name": "x", "org": "O", "one_visit": 1, "centralized": "N", "online_depth": "+2"}],
    "cases": [{"case_no": "C", "item_code": "I", "org": "O", "channel": "online", "status": "closed",
               "accepted_at": "2026-10-09 09:00:00", "closed_at": "2026-10-09T09:00:00.5+08:00",
               "promised_at": "2026-10-09", "suspended_days": "-0"}],
    "evaluations": [{"id": "E", "org": "O", "channel": "pad", "level": "非常满意", "evaluated_at": "2026-10-09T09:00Z"},
                    {"id": "E", "org": "O", "channel": "pad", "level": "3", "evaluated_at": "2026-10-09 23:59"}],
    "surveys": [{"id": "S", "org": "O", "channel": "phone", "date": "2026-10-09", "a3": "A;c;H", "a10": "更快"}],
    "metrics": [{"org": "O", "period": "2026-10", "metric": "channels", "value": "1e2"},
                {"org": "O", "period": "2026-10", "metric": "m", "value": -0.5}],
    "officers": [{"id": "E", "name": "n", "org": "O", "role": "admin", "telegram_id": "123"}],
}
BAD = {
    "items": [{"code": "I1", "name": "x", "org": "O", "in_scope": "maybe"},
              {"code": "I1", "name": "x", "org": "O", "online_depth": 5},
              {"code": "I1", "name": "x", "org": "O", "online_depth": "0"},
              {"code": "I1", "name": "x", "org": "O", "promised_days": "-1"},
              {"code": "I1", "name": "x", "org": "O", "promised_days": "1.5"},
              {"code": "I1", "name": "x", "org": "O", "immediate": 2},
              {"code": "I1", "name": "x", "org": "O", "statutory_days": True},
              {"code": 1.5, "name": "x", "org": "O"},
              {"name": "x", "org": "O"}],
    "cases": [{"case_no": "C", "item_code": "I", "org": "O", "channel": "online", "status": "closed",
               "accepted_at": "2026-02-30 09:00:00"},
              {"case_no": "C", "item_code": "I", "org": "O", "channel": "online", "status": "closed",
               "accepted_at": "2026-10-09 24:00:00"},
              {"case_no": "C", "item_code": "I", "org": "O", "channel": "online", "status": "done",
               "accepted_at": "2026-10-09 09:00:00"},
              {"case_no": "C", "item_code": "I", "org": "O", "channel": "online", "status": "closed",
               "accepted_at": "2026/10/09 09:00"},
              {"case_no": "C", "item_code": "I", "org": "O", "channel": "online", "status": "closed",
               "accepted_at": 1760000000}],
    "evaluations": [{"id": "E", "org": "O", "channel": "pad", "level": "6", "evaluated_at": "2026-10-09"},
                    {"id": "E", "org": "O", "channel": "pad", "level": "很好", "evaluated_at": "2026-10-09"}],
    "surveys": [{"id": "S", "org": "O", "channel": "phone", "date": "2026-10-09", "a3": "A,C"},
                {"id": "S", "org": "O", "channel": "phone", "date": "2026-10-09T09:00"}],
    "metrics": [{"org": "O", "period": "2026-10", "metric": "m", "value": "nan"},
                {"org": "O", "period": "2026-10", "metric": "m", "value": "1_000"}],
    "officers": [{"id": "E", "name": "n", "org": "O", "role": "admin", "telegram_id": "١٢٣"}],
}


@pytest.mark.parametrize("kind,row,good", [(k, r, True) for k, rows in GOOD.items() for r in rows] +
                         [(k, r, False) for k, rows in BAD.items() for r in rows])
def test_coercer_and_json_schema_agree(cfg, kind, row, good):
    row = compact(row)
    _, errors = Coercer.of(kind, cfg.tz).coerce(row)
    schema_errors = list(ingest.validator(kind).iter_errors(row))
    assert (not errors) == good, errors
    assert (not schema_errors) == good, [e.message for e in schema_errors]


def test_every_sample_row_passes_the_schema(cfg, tmp_path):
    from checker.tools.sample import write_sample
    from datetime import datetime
    write_sample(tmp_path, datetime(2026, 10, 14, 9, tzinfo=cfg.tz), cases=100, seed=5, tz=cfg.tz)
    for kind in KINDS:
        v = ingest.validator(kind)
        for row in csv.DictReader(open(tmp_path / f"{kind}.csv", encoding="utf-8")):
            assert not list(v.iter_errors(compact(row))), (kind, row)


def test_kind_schema_is_a_json_schema_from_the_field_specs():
    s = ingest.kind_schema("cases")
    assert s["required"] == [f.name for f in KINDS["cases"].fields if f.required]
    assert set(s["properties"]) == set(KINDS["cases"].columns) and s["additionalProperties"] is False
    import jsonschema
    jsonschema.Draft202012Validator.check_schema(s)
