"""A scan opens its new record findings set-wise in SQL (checker.findings.opening, checker.store.opening):
each must be what the Python path (checker.evaluate.scan.complete_firings, checker.findings.routing)
makes of the same firing — message, facts, due date, org, routing, severity, its open event."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checker.config import HallCalendar
from checker.evaluate.scan import ScanContext, complete_firings, run_scan
from checker.findings import Firing
from checker.findings.routing import CachedDirectory, assign
from checker.rules import load_packs
from checker.store.findings import orgs_out

from test_engines_agree import _load, seeded_records

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")


def _officers(records: dict) -> dict:
    """Officers, some of them the cases' handlers (routing decides on both)."""
    officers = [{"id": f"O{i}", "name": f"办事员{i}", "org": ["H1", "H2"][i % 2], "role": "officer"}
                for i in range(4)] + [{"id": "S1", "name": "督查", "org": "R", "role": "supervisor"}]
    for i, case in enumerate(records["cases"]):
        case["handler"] = [None, "O0", "O1", "O2", "O3"][i % 5]
    return {"orgs": records.pop("orgs"), "officers": officers, **records}


@pytest.mark.parametrize("seed", [4, 21])
def test_a_finding_opened_setwise_is_what_the_python_path_makes(seed, store, cfg, tmp_path):
    cfg = replace(cfg, calendar=replace(cfg.calendar, halls={"H2": HallCalendar(
        extra_holidays=("2026-10-09",), extra_workdays=("2026-10-11",))}))
    _load(store, cfg, _officers(seeded_records(seed, 300)), tmp_path)
    book = load_packs([ROOT / "rules" / "db33", ROOT / "rules" / "db50"])
    now = datetime(2026, 10, 14, 8, 30, tzinfo=TZ)
    result = run_scan(store, cfg, book, now)
    rows = orgs_out(store.rows("SELECT * FROM findings WHERE kind = 'record' AND rule != 'govwatch.data_quality' "
                               "ORDER BY id"))
    assert result.opened >= len(rows) > 100 and len({r["rule"] for r in rows}) >= 12
    rules = {r.id: r for r in book.of_kind("record")}
    ctx = ScanContext(store, cfg, book, now, True, 0)
    made = {f.fingerprint: f for f in complete_firings(
        ctx, [Firing(rules[r["rule"]], r["subject"], r["subject_kind"], None, None, None, None) for r in rows])}
    directory = CachedDirectory(store)
    for row in rows:
        firing = made[row["fingerprint"]]
        assert (row["message"], row["due_at"], row["org"], row["severity"], row["clause"], row["standard"]) == (
            firing.message, firing.due_at, firing.org, firing.rule.severity, firing.rule.clause,
            firing.rule.standard), row["fingerprint"]
        assert json.loads(row["data"]) == firing.facts, row["fingerprint"]
        if store.dialect.name == "sqlite":                     # the very text json.dumps writes
            assert row["data"] == json.dumps(firing.facts, ensure_ascii=False, sort_keys=True, default=str)
        assert (row["assignee"], row["supervisor"]) == assign(directory, cfg, firing.rule, firing.org, firing.handler)
        events = store.finding_events(row["id"])
        assert [(e["action"], e["from_status"], e["to_status"], e["actor"], e["at"], e["data"]) for e in events] == [
            ("open", None, "open", "system", now.isoformat(timespec="seconds"),
             {"scan_id": result.scan_id, "assignee": row["assignee"]})]
    ids = [r["id"] for r in rows]
    assert [r["fingerprint"] for r in sorted(rows, key=lambda r: r["id"])] == sorted(r["fingerprint"] for r in rows)
    assert ids == sorted(ids)
    events = store.rows("SELECT id, finding_id FROM finding_events WHERE action = 'open' ORDER BY id")
    assert [e["finding_id"] for e in events] == sorted(e["finding_id"] for e in events)    # the findings' order


def test_a_scan_plans_its_joins_on_statistics_of_what_it_staged(store, cfg, tmp_path):
    """PostgreSQL: the fired pairs a scan joins to the findings (temp._fired) and the findings after
    a big opening have statistics when the joins are planned (without them a 500,000-row join is
    planned for 10^9 rows: issue 17)."""
    if store.dialect.name != "postgresql":
        pytest.skip("SQLite plans without statistics of temporary tables")
    _load(store, cfg, _officers(seeded_records(4, 300)), tmp_path)
    book = load_packs([ROOT / "rules" / "db33"])
    result = run_scan(store, cfg, book, datetime(2026, 10, 14, 8, 30, tzinfo=TZ))
    assert result.opened > 100
    raw = store.conn.raw                      # the scan's own session: its temporary tables
    staged = dict(raw.execute("SELECT relname, reltuples FROM pg_class WHERE relnamespace = pg_my_temp_schema() "
                              "AND relname = '_fired'").fetchall())
    assert staged.get("_fired", 0) > 0, staged
    assert raw.execute("SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() "
                       "AND tablename = 'findings' AND attname = 'fingerprint'").fetchone()[0] == 1
