"""An evaluations import tells how many of the file's evaluations name a case stored under another
org: E1 (DB50/T 957.7 §5.4.2 b 一事一评覆盖率) counts an evaluation for its case only under the case's
org, so a 好差评 system filing them under a district centre would otherwise see a lower E1 unwarned.
A warning, not a reject: the rows go in, on both import paths (the CSV fast path, the Python path
of JSON) and both stores."""
from __future__ import annotations

import json

import pytest

from checker import ingest
from govwatch.cli import main

from csvfile import write_csv

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

REFS = {"orgs": (["code", "name", "parent", "level"],
                 [["500100", "重庆市", "", "city"], ["500112", "渝北区", "500100", "district"],
                  ["500112001", "渝北区政务服务中心", "500112", "hall"]]),
        "items": (["code", "name", "org", "promised_days"], [["K1", "许可", "500112001", "5"]]),
        "cases": (["case_no", "item_code", "org", "channel", "accepted_at", "status", "closed_at"],
                  [["C1", "K1", "500112001", "window", "2026-10-09 09:00", "closed", "2026-10-10 10:00"],
                   ["C2", "K1", "500112001", "window", "2026-10-09 10:00", "closed", "2026-10-10 11:00"]])}
HEADER = ["id", "case_no", "org", "channel", "level", "evaluated_at"]
EVALUATIONS = [["V1", "C1", "500112001", "pad", "5", "2026-10-10 10:05"],     # under the case's org: counts
               ["V2", "C2", "500112", "pad", "4", "2026-10-10 11:05"],        # under another org: E1 skips it
               ["V3", "C9", "500112", "sms", "5", "2026-10-10 12:00"],        # a case not in the store
               ["V4", "", "500112", "online", "3", "2026-10-10 13:00"]]       # no case named


def _refs(store, cfg, tmp_path):
    for kind, (header, rows) in REFS.items():
        r = ingest.import_file(store, cfg, kind, write_csv(tmp_path / f"{kind}.csv", header, rows))
        assert r.rejected == 0, kind


def _file(tmp_path, fmt: str, rows=EVALUATIONS):
    if fmt == "csv":                                  # the set-wise fast path (checker.store.staging)
        return write_csv(tmp_path / "evaluations.csv", HEADER, rows)
    path = tmp_path / "evaluations.json"              # the Python path
    path.write_text(json.dumps([{k: v for k, v in zip(HEADER, r) if v} for r in rows], ensure_ascii=False),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_evaluations_under_another_org_than_their_case_are_counted_and_still_imported(store, cfg, tmp_path, fmt):
    _refs(store, cfg, tmp_path)
    r = ingest.import_file(store, cfg, "evaluations", _file(tmp_path, fmt))
    assert (r.inserted, r.updated, r.rejected, r.other_org_evaluations) == (4, 0, 0, 1)
    assert store.get("evaluations", "V2")["org"] == "500112"
    again = ingest.import_file(store, cfg, "evaluations", _file(tmp_path, fmt))     # the file's rows, each time
    assert (again.updated, again.other_org_evaluations) == (4, 1)
    fixed = ingest.import_file(store, cfg, "evaluations", _file(tmp_path, fmt, [["V2", "C2", "500112001", "pad", "4",
                                                                                  "2026-10-10 11:05"]]))
    assert (fixed.updated, fixed.other_org_evaluations) == (1, 0)


def test_other_kinds_and_clean_files_report_none(store, cfg, tmp_path):
    _refs(store, cfg, tmp_path)
    r = ingest.import_file(store, cfg, "evaluations", _file(tmp_path, "csv", [EVALUATIONS[0], EVALUATIONS[2]]))
    assert (r.inserted, r.other_org_evaluations) == (2, 0)
    header, rows = REFS["cases"]
    assert ingest.import_file(store, cfg, "cases", write_csv(tmp_path / "c.csv", header, rows)).other_org_evaluations == 0


def test_the_import_command_warns_in_chinese_and_adds_the_count_to_its_json(store, cfg, database, tmp_path, capsys):
    _refs(store, cfg, tmp_path)
    path = str(_file(tmp_path, "csv"))
    assert main(["--db", database, "import", "evaluations", path, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"kind", "file", "inserted", "updated", "rejected", "rejects_file", "ignored_columns"} <= set(out)
    assert (out["inserted"], out["rejected"], out["other_org_evaluations"]) == (4, 0, 1)
    assert main(["--db", database, "import", "evaluations", path]) == 0
    line = capsys.readouterr().out
    assert "更新 4" in line and "1 条评价" in line and "DB50/T 957.7 §5.4.2 b" in line
    assert main(["--db", database, "import", "evaluations", str(_file(tmp_path, "csv", EVALUATIONS[:1]))]) == 0
    assert "DB50/T 957.7" not in capsys.readouterr().out
