"""The sample data set: deterministic, complete, and importable without a single reject."""
from __future__ import annotations

import csv
from datetime import datetime

import pytest

from checker import ingest
from checker.calendar import WorkCalendar
from checker.ingest.records import KINDS
from checker.tools.sample import CHECKS, write_sample
from govwatch.cli import main


@pytest.fixture
def now(cfg):
    return datetime(2026, 10, 14, 9, 0, tzinfo=cfg.tz)


def read(folder, kind):
    return list(csv.DictReader(open(folder / f"{kind}.csv", encoding="utf-8")))


def test_same_seed_and_now_give_identical_bytes(tmp_path, cfg, now):
    write_sample(tmp_path / "a", now, cases=300, seed=7, tz=cfg.tz)
    write_sample(tmp_path / "b", now, cases=300, seed=7, tz=cfg.tz)
    write_sample(tmp_path / "c", now, cases=300, seed=8, tz=cfg.tz)
    for kind in KINDS:
        assert (tmp_path / "a" / f"{kind}.csv").read_bytes() == (tmp_path / "b" / f"{kind}.csv").read_bytes()
    assert (tmp_path / "a" / "cases.csv").read_bytes() != (tmp_path / "c" / "cases.csv").read_bytes()


def test_every_kind_is_present_and_imports_without_rejects(tmp_path, cfg, store, now):
    counts = write_sample(tmp_path, now, cases=500, seed=1, tz=cfg.tz)
    assert all(counts[k] > 0 for k in KINDS) and counts["cases"] == 500
    results = ingest.import_dir(store, cfg, tmp_path)
    assert {r.kind: r.inserted for r in results} == counts
    assert all(r.rejected == 0 and r.rejects_file is None for r in results)


def test_the_org_tree_has_districts_townships_halls_and_departments(tmp_path, cfg, now):
    write_sample(tmp_path, now, cases=10, tz=cfg.tz)
    levels = [o["level"] for o in read(tmp_path, "orgs")]
    assert levels.count("city") == 1 and 4 <= levels.count("district") <= 6
    assert {"township", "hall", "department"} <= set(levels)
    roles = {o["role"] for o in read(tmp_path, "officers")}
    assert roles == {"officer", "supervisor", "admin"}
    assert any(o["telegram_id"] for o in read(tmp_path, "officers"))


def test_cases_have_a_realistic_mix_before_now(tmp_path, cfg, now):
    write_sample(tmp_path, now, cases=3000, seed=2, tz=cfg.tz)
    cases = read(tmp_path, "cases")
    statuses = {c["status"] for c in cases}
    assert statuses == {"accepted", "processing", "suspended", "closed", "rejected", "withdrawn"}
    assert all(c["accepted_at"] < "2026-10-14 09:00" for c in cases)
    open_share = sum(c["status"] in ("accepted", "processing", "suspended") for c in cases) / len(cases)
    online_share = sum(c["channel"] == "online" for c in cases) / len(cases)
    assert 0.02 < open_share < 0.1 and 0.35 < online_share < 0.65
    assert any(c["suspended_days"] for c in cases)


def test_inspections_use_the_documented_check_ids(tmp_path, cfg, now):
    write_sample(tmp_path, now, cases=10, tz=cfg.tz)
    rows = read(tmp_path, "inspections")
    assert {r["check"] for r in rows} <= set(CHECKS) and {r["result"] for r in rows} >= {"pass", "fail"}


def test_consultations_appointments_and_surveys_cover_their_cases(tmp_path, cfg, now):
    write_sample(tmp_path, now, cases=2000, tz=cfg.tz)
    consults = read(tmp_path, "consultations")
    assert {c["channel"] for c in consults} == {"hotline", "online", "onsite", "letter"}
    assert all(c["promised_at"] for c in consults if c["channel"] == "letter")
    assert any(not c["answered_at"] for c in consults)
    future = [a for a in read(tmp_path, "appointments") if a["slot_at"] > "2026-10-14 09:00"]
    assert future and any(not a["reminded_at"] for a in future)
    surveys = read(tmp_path, "surveys")
    assert any(s["a1"] for s in surveys) and any(s["b1"] for s in surveys)
    assert any(";" in s["a3"] for s in surveys)
    assert {s["kind"] for s in read(tmp_path, "supervisions")} == {"self", "superior", "public", "third_party"}


def test_cli_sample(tmp_path, cfg):
    assert main(["--db", cfg.database, "sample", "--out", str(tmp_path / "s"), "--cases", "50",
                 "--now", "2026-10-14T09:00:00+08:00"]) == 0
    assert len(read(tmp_path / "s", "cases")) == 50


def test_disclosures_mix_categories_extensions_and_late_ones(tmp_path, cfg, now):
    write_sample(tmp_path, now, cases=300, tz=cfg.tz)
    rows = read(tmp_path, "disclosures")
    assert len(rows) >= 200 and {r["category"] for r in rows} == {"proactive", "request"}
    requests = [r for r in rows if r["category"] == "request"]
    assert {r["extended"] for r in requests} == {"true", "false"}
    assert all(r["extended"] == "" for r in rows if r["category"] == "proactive")
    assert any(not r["published_at"] for r in rows) and all(r["published_at"] <= "2026-10-14 09:00" for r in rows)
    assert len({r["org"] for r in rows}) > 10


def test_a_supplied_promised_at_is_the_calendar_deadline_of_the_case(tmp_path, cfg, now):
    # the generator remembers deadlines by acceptance date: each is still WorkCalendar.deadline's
    cal = WorkCalendar(tz=cfg.tz)
    write_sample(tmp_path, now, cases=2000, seed=1, tz=cfg.tz)
    items = {i["code"]: i for i in read(tmp_path, "items")}
    supplied = [c for c in read(tmp_path, "cases") if c["promised_at"]]
    assert len(supplied) > 100
    for c in supplied:
        item = items[c["item_code"]]
        due = cal.deadline(datetime.fromisoformat(c["accepted_at"]).replace(tzinfo=cfg.tz), int(item["promised_days"]),
                           int(c["suspended_days"] or 0), int(c["extended_days"] or 0),
                           immediate=item["immediate"] == "true")
        assert c["promised_at"] == due.strftime("%Y-%m-%d %H:%M:%S")
