"""A record inserted in SQL around the store (a DBA, a tool) and then imported: the import updates
that record in place, on both import paths. On PostgreSQL the record tables are partitioned by month
with a key table keeping the record key unique (checker.store.dialect.upsert_keyed); a row inserted
in SQL has no key row, and the import adopts it (issue 17: it used to insert a second row with the
key). SQLite keeps a plain table with a unique key."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest

from checker import ingest
from checker.store import staging

from csvfile import write_csv

pytestmark = pytest.mark.both_stores

NOW = datetime.fromisoformat("2026-10-14T09:00:00+08:00")
HEADER = ["case_no", "item_code", "org", "channel", "accepted_at", "status", "handler"]


def _refs(store, cfg, tmp: Path) -> None:
    refs = {"orgs": [["code", "name", "parent", "level"], ["500100", "重庆市", "", "city"],
                     ["500103", "渝中区", "500100", "district"], ["500104", "大渡口区", "500100", "district"]],
            "officers": [["id", "name", "org", "role"], ["W1", "陈一", "500103", "officer"],
                         ["W2", "王二", "500104", "officer"]],
            "items": [["code", "name", "org", "promised_days", "statutory_days", "immediate"],
                      ["K1", "许可", "500103", "5", "20", "否"], ["K2", "备案", "500104", "3", "10", "否"]]}
    run = ingest.ImportRun(store, cfg, now=NOW)
    for kind, rows in refs.items():
        ingest.import_file(store, cfg, kind, write_csv(tmp / f"{kind}.csv", rows[0], rows[1:]), run=run)


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path", "python_path"])
def test_an_import_updates_a_case_inserted_in_sql_in_place(store, cfg, tmp_path, fast):
    _refs(store, cfg, tmp_path)
    others = [[f"C{i}", "K1", "500103", "window", "2026-10-09 09:00:00", "processing", "W1"] for i in range(5)]
    ingest.import_file(store, cfg, "cases", write_csv(tmp_path / "first.csv", HEADER, others),
                       run=ingest.ImportRun(store, cfg, now=NOW))
    store.conn.execute("INSERT INTO cases (case_no, item_code, org, channel, accepted_at, status, handler) "
                       "VALUES ('R1', 'K1', '500103', 'window', '2026-09-20T10:00:00+08:00', 'processing', 'W1')")
    # the same case_no, its fields changed (the org and the month too: on PostgreSQL another partition)
    rows = [["R1", "K2", "500104", "online", "2026-10-12 11:00:00", "processing", "W2"],
            ["N1", "K1", "500103", "window", "2026-10-12 11:00:00", "processing", "W1"]]
    written = []
    real = staging.FastImport.write

    def spy(self, *args):
        out = real(self, *args)
        written.append(out)
        return out
    supported = staging.supported if fast else (lambda rk: False)
    with mock.patch.object(staging, "supported", supported), mock.patch.object(staging.FastImport, "write", spy):
        r = ingest.import_file(store, cfg, "cases", write_csv(tmp_path / "again.csv", HEADER, rows),
                               run=ingest.ImportRun(store, cfg, now=NOW))
    assert bool(written) == fast                        # the path under test wrote the rows
    assert (r.inserted, r.updated, r.rejected) == (1, 1, 0)
    got = store.rows("SELECT case_no, item_code, org, channel, accepted_at, status, handler FROM cases "
                     "WHERE case_no = 'R1'")
    assert [dict(g) for g in got] == [
        {"case_no": "R1", "item_code": "K2", "org": "500104", "channel": "online",
         "accepted_at": "2026-10-12T11:00:00+08:00", "status": "processing", "handler": "W2"}]
    assert store.count("cases") == 7
    if store.is_postgres:       # the key row says where the record now is
        assert store.rows("SELECT org, accepted_at FROM case_keys WHERE case_no = 'R1'") == [
            {"org": "500104", "accepted_at": "2026-10-12T11:00:00+08:00"}]
        assert store.scalar("SELECT count(*) FROM case_keys") == 7
