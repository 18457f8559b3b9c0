"""The bulk import's set-based fast path (checker.store.staging) against the Python validator, the
authority: generated CSV files — valid, edge and invalid values of every field type, keys repeated
within and across batches, short, long and blank rows, NUL characters — are imported once with the
fast path and once by the Python path alone, on each store; the stored tables (every column but the
change counter, the deadline included), the rejects files and the counts must be identical."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import config as config_mod
from checker import ingest
from checker.ingest import importer, readers
from checker.ingest.coerce import WORDS
from checker.ingest.records import KINDS
from checker.store import Store, staging

from csvfile import write_csv

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

NOW = datetime.fromisoformat("2026-10-14T09:00:00+08:00")
REFS = {"orgs": [["code", "name", "parent", "level"], ["500100", "重庆市", "", "city"],
                 ["500103", "渝中区", "500100", "district"]],
        "officers": [["id", "name", "org", "role"], ["W1", "陈一", "500103", "officer"]],
        "items": [["code", "name", "org", "promised_days", "statutory_days", "immediate"],
                  ["K1", "许可", "500103", "5", "20", "否"], ["K2", "即办", "500103", "", "", "是"],
                  ["K3", "无时限", "500103", "", "", ""]]}
FAST_KINDS = [k for k, rk in KINDS.items() if staging.supported(rk)]
KEYS = ["A-1", "A-2", "A-3", " A-1", "a-1", "A-1\u3000", ""]
HOSTILE = ["", " ", "\x00", "a\nb", "=cmd|' /C calc'!A0", "中文", "\ufeff", "x" * 70]


def _datetimes():
    part = st.sampled_from
    built = st.builds(lambda y, m, d, sep, h, mi, s: f"{y}-{m}-{d}{sep}{h}:{mi}:{s}",
                      part(["1999", "2000", "2026", "2099", "2100", "0001"]),
                      part(["01", "02", "10", "12", "13", "00", "1"]), part(["01", "09", "14", "28", "29", "30", "31", "32"]),
                      part(["T", " ", "t", "  "]), part(["00", "09", "23", "24", "9"]), part(["00", "30", "59", "60"]),
                      part(["00", "15", "59", "60", "5"]))
    edge = part(["2026-10-09 09:00", "2026-10-09T09:00:00+08:00", "2026-10-09T09:00:00Z", "2026-10-09",
                 "2026-10-09 09:00:00.5", "2026-10-09T01:00:00+00:00", "2026-11-20 10:00:00", "2027-06-01 10:00:00",
                 "2026-10-14 09:00:00", "2026-10-13 08:00:00", "2026-10-20 17:00:00", " 2026-10-09 09:00:00",
                 "2026-10-09 09:00:00 ", "2099-12-31T23:59:59-12:00", "2026-10-11 10:00:00", "2026-10-01 10:00:00"])
    return st.one_of(built, edge, part(HOSTILE))


def _values(kind: str, f) -> st.SearchStrategy:
    """Mostly plain valid values (so that the fast path writes rows), else edge and invalid ones."""
    return st.integers(0, 9).flatmap(lambda i: _edge(kind, f) if i < 2 else _plain(kind, f))


def _plain(kind: str, f) -> st.SearchStrategy:
    if f.name in KINDS[kind].key:
        return st.sampled_from([f"A-{i}" for i in range(1, 10)])
    if f.ref:
        return st.sampled_from([r[0] for r in REFS[f.ref][1:]])
    if f.type == "int":
        lo, hi = int(f.minimum or 0), int(f.maximum if f.maximum is not None else 10**6)
        return st.integers(lo, min(hi, lo + 30)).map(str)
    if f.type == "bool":
        return st.sampled_from(["true", "false", "1", "0", "是", "否", "Y", "n"])
    if f.type == "enum":
        return st.sampled_from(f.values)
    if f.type == "date":
        return st.sampled_from(["2026-09-30", "2026-10-09", "2026-10-01", "2024-02-29"])
    if f.type == "datetime":
        return st.builds(lambda d, h, sep: f"2026-{d}{sep}{h}:30:00", st.sampled_from(["09-30", "10-01", "10-08", "10-09", "10-13"]),
                         st.sampled_from(["08", "12", "17", "23"]), st.sampled_from([" ", "T"]))
    return st.sampled_from(["H1", "窗口一", "x"])


def _edge(kind: str, f) -> st.SearchStrategy:
    if f.name in KINDS[kind].key:
        return st.sampled_from(KEYS)
    if f.ref:
        keys = [r[0] for r in REFS[f.ref][1:]]
        return st.sampled_from(keys + [" " + keys[0], keys[0].lower(), "NOPE", ""])
    if f.type == "int":
        lo, hi = int(f.minimum or 0), int(f.maximum if f.maximum is not None else 10**6)
        texts = [str(lo), str(hi), str(lo - 1), str(hi + 1), "3", "007", "+3", "-0", "3.0", "1e2", " 3", "٣",
                 "0000000000003", "9" * 20]
        return st.one_of(st.sampled_from(texts + HOSTILE + list(WORDS.get((kind, f.name), {}))),
                         st.integers(lo - 2, hi + 2).map(str))
    if f.type == "bool":
        return st.sampled_from(["true", "TRUE", "True", "y", "N", "1", "0", "是", "否", "yes", "2", " true", ""])
    if f.type == "enum":
        words = list(WORDS.get((kind, f.name), {}))
        return st.sampled_from([*f.values, f.values[0].upper(), " " + f.values[-1], "x", "", *words])
    if f.type == "date":
        return st.sampled_from(["2026-10-09", "2026-02-29", "2024-02-29", "1999-12-31", "2000-01-01", "2099-12-31",
                                "2100-01-01", "2026-1-9", "2026-10-09T09:00:00", "", " 2026-10-09", "\x00"])
    if f.type == "datetime":
        return _datetimes()
    return st.one_of(st.sampled_from(HOSTILE + ["H1", "窗口一", "x"]), st.text(max_size=4))


@st.composite
def files(draw):
    """(kind, header, rows, batch size): a CSV file of a fast kind."""
    kind = draw(st.sampled_from(FAST_KINDS))
    rk = KINDS[kind]
    names = [f.name for f in rk.fields if f.required or draw(st.integers(0, 3))]
    if draw(st.booleans()):
        names.append("junk")
    header = draw(st.permutations(names))
    by_name = {f.name: f for f in rk.fields}
    rows = []
    for _ in range(draw(st.integers(1, 14))):
        row = [draw(_values(kind, by_name[h])) if h in by_name else "j" for h in header]
        shape = draw(st.integers(0, 20))
        if shape == 0:
            row = row[:draw(st.integers(0, len(row)))]             # short (or blank)
        elif shape == 1:
            row = row + [draw(st.sampled_from(["", "extra"]))]      # long: blank extra cells are allowed
        rows.append(row)
    return kind, header, rows, draw(st.sampled_from([2, 5, 50_000]))


def _refs(store, cfg, tmp: Path) -> None:
    if store.count("orgs"):
        return
    run = ingest.ImportRun(store, cfg, now=NOW)
    for kind, rows in REFS.items():
        ingest.import_file(store, cfg, kind, write_csv(tmp / f"{kind}.csv", rows[0], rows[1:]), run=run)


def _table(store, kind: str) -> list[dict]:
    key = KINDS[kind].key[0]
    return [{k: v for k, v in r.items() if k != "_seq"} for r in store.rows(f'SELECT * FROM "{kind}" ORDER BY "{key}"')]


def _import(store, cfg, kind, base: Path, path: Path, fast: bool, batch: int):
    """The kind emptied, a base file (keys A-1, A-2) imported by the Python path, then `path`."""
    store.conn.execute(f'DELETE FROM "{kind}"')
    with mock.patch.object(staging, "supported", lambda rk: False):
        ingest.import_file(store, cfg, kind, base, run=ingest.ImportRun(store, cfg, now=NOW))
    patch = mock.patch.object(staging, "supported", staging.supported if fast else (lambda rk: False))
    with patch, mock.patch.object(importer, "FAST_BATCH", batch):
        r = ingest.import_file(store, cfg, kind, path, run=ingest.ImportRun(store, cfg, now=NOW))
    return (r.inserted, r.updated, r.rejected), _table(store, kind), _rejects(r.rejects_file)


def _rejects(path) -> list | None:
    """The rejects file's rows by row number. A row the database refuses (on PostgreSQL, a value with
    a NUL character, which the validator lets through) is rejected when its batch is written, so its
    place among the other rejects depends on where batches end, on either path."""
    if not path:
        return None
    rows = list(csv.reader(io.StringIO(Path(path).read_text("utf-8"), newline="")))
    return [rows[0], *sorted(rows[1:], key=lambda r: int(r[0]))]


def _base(kind: str) -> tuple[list[str], list[list[str]]]:
    """Two valid rows of the kind (keys A-1, A-2), every field given."""
    good = {"str": "B", "int": "1", "bool": "是", "date": "2026-10-09", "datetime": "2026-10-09 09:00:00"}
    rk = KINDS[kind]
    header = [f.name for f in rk.fields]
    rows = []
    for key in ("A-1", "A-2"):
        row = []
        for f in rk.fields:
            if f.name in rk.key:
                row.append(key)
            elif f.ref:
                row.append(REFS[f.ref][1][0])
            elif f.type == "enum":
                row.append(f.values[0])
            else:
                row.append(good[f.type])
        rows.append(row)
    return header, rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(case=files())
def test_fast_path_stores_and_rejects_exactly_what_the_python_path_does(store, cfg, tmp_path, case):
    kind, header, rows = case[:3]
    _refs(store, cfg, tmp_path)
    base = write_csv(tmp_path / f"base-{kind}.csv", *_base(kind))
    path = write_csv(tmp_path / f"{kind}.csv", header, rows)
    written = []
    real = staging.FastImport.write

    def spy(self, *args):
        out = real(self, *args)
        written.append(sum(out))
        return out
    with mock.patch.object(staging.FastImport, "write", spy):
        fast = _import(store, cfg, kind, base, path, True, case[3])
    slow = _import(store, cfg, kind, base, path, False, case[3])
    assert fast == slow, json.dumps([header, rows], ensure_ascii=False)
    WRITTEN.append(sum(written))


WRITTEN: list[int] = []          # rows the fast path wrote, per example


def test_the_fast_path_wrote_rows_in_the_generated_examples():
    """The property above proves something only if the fast path wrote rows (runs after it)."""
    if len(WRITTEN) >= 20:
        assert sum(WRITTEN) > 0, WRITTEN


def test_clean_rows_take_the_fast_path_and_doubtful_ones_the_python_path(store, cfg, tmp_path):
    """The fast path is taken (rows written by one statement, no Python validation), and a doubtful
    row still gets its reason."""
    _refs(store, cfg, tmp_path)
    header = ["case_no", "item_code", "org", "channel", "accepted_at", "status"]
    rows = [[f"C{i}", "K1", "500103", "window", "2026-10-09 09:00:00", "processing"] for i in range(20)]
    rows.append(["C99", "K1", "500103", "window", "2026-10-09 09:00:00", "closed"])     # closed without closed_at
    seen = []
    real = importer._Job.guarded_row

    def spy(self, n, raw):
        seen.append(n)
        return real(self, n, raw)
    with mock.patch.object(importer._Job, "guarded_row", spy):
        r = ingest.import_file(store, cfg, "cases", write_csv(tmp_path / "c.csv", header, rows),
                               run=ingest.ImportRun(store, cfg, now=NOW))
    assert (r.inserted, r.rejected) == (20, 1)
    assert seen == [22]                       # only the doubtful row went through Python
    assert "closed_at" in Path(r.rejects_file).read_text("utf-8")
    assert store.get("cases", "C3")["due_at"] == "2026-10-15T23:59:59+08:00"   # 5 working days (10-10 is worked)


def test_a_key_repeated_in_a_batch_goes_to_the_python_path_in_file_order(store, cfg, tmp_path):
    """A key twice in a batch: its rows are the Python path's, in file order (the last one wins), with
    the Python path's table, counts and rejects: when every row of the batch is provably good (its
    written keys counted) and when one is not (the stripped keys of every staged row counted: " C4"
    is C4 to Python)."""
    _refs(store, cfg, tmp_path)
    header = ["case_no", "item_code", "org", "channel", "accepted_at", "status"]
    rows = [[f"C{i}", "K1", "500103", "window", "2026-10-09 09:00:00", "processing"] for i in range(6)]
    rows.insert(3, ["C1", "K1", "500103", "online", "2026-10-09 10:00:00", "accepted"])
    base = write_csv(tmp_path / "base.csv", *_base("cases"))
    seen = []
    real = importer._Job.guarded_row

    def spy(self, n, raw):
        seen.append(n)
        return real(self, n, raw)
    for name, extra, python_rows in (("clean.csv", [], [3, 5]),
                                     ("padded.csv", [[" C4", "K1", "500103", "online", "2026-10-09 11:00:00",
                                                      "accepted"]], [3, 5, 7, 9])):
        path = write_csv(tmp_path / name, header, rows + extra)
        seen.clear()
        with mock.patch.object(importer._Job, "guarded_row", spy):
            fast = _import(store, cfg, "cases", base, path, True, 50_000)
        assert seen[-len(python_rows):] == python_rows and len(seen) == 2 + len(python_rows)   # 2: the base file's
        assert fast == _import(store, cfg, "cases", base, path, False, 50_000)
        assert store.get("cases", "C1")["channel"] == "online"
    assert store.get("cases", "C4")["channel"] == "online"


def _indexes(store) -> list[str]:
    return sorted(store.dialect.deferred_indexes(store.conn, "cases") or [])


def test_a_big_load_builds_the_indexes_after_it_and_keeps_them_on_a_decoding_error(store, cfg, tmp_path):
    """A load big beside the table drops the secondary indexes (PostgreSQL) and builds them again at
    the end, also when the file stops at an undecodable line (the rows before it stay)."""
    _refs(store, cfg, tmp_path)
    before = _indexes(store)
    header = ["case_no", "item_code", "org", "channel", "accepted_at", "status"]
    rows = [[f"C{i}", "K1", "500103", "window", "2026-10-09 09:00:00", "processing"] for i in range(12)]
    path = write_csv(tmp_path / "c.csv", header, rows)
    path.write_bytes(path.read_bytes() + b"C99,K1,500103,window,2026-10-09 09:00:00,\xff\xfe\n")
    with mock.patch.object(staging, "DEFER_ROWS", 1), mock.patch.object(importer, "FAST_BATCH", 5), \
            pytest.raises(ingest.importer.DecodeFailure):
        ingest.import_file(store, cfg, "cases", path, run=ingest.ImportRun(store, cfg, now=NOW))
    assert store.count("cases") == 12
    assert _indexes(store) == before
    if store.is_postgres:         # built on every partition (a partitioned index made ON ONLY the table is invalid)
        assert store.scalar("SELECT bool_and(i.indisvalid) FROM pg_index i JOIN pg_inherits h ON h.inhparent = "
                            "i.indrelid WHERE h.inhparent = 'cases'::regclass OR i.indrelid = 'cases'::regclass") == 1
        assert store.scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'cases_202610' "
                            "AND schemaname = current_schema()") == len(before) + 1
    assert all(store.get("cases", f"C{i}")["due_at"] == "2026-10-15T23:59:59+08:00" for i in range(12))


def _import_steps(tmp_path: Path, rows: int) -> int:
    """SQLite virtual-machine steps (in thousands) of a fast import of `rows` clean cases into a fresh store."""
    db = tmp_path / f"steps-{rows}.db"
    cfg = config_mod.load(None, database=str(db))
    header = ["case_no", "item_code", "org", "channel", "accepted_at", "status"]
    body = [[f"C{i}", "K1", "500103", "window", "2026-10-09 09:00:00", "processing"] for i in range(rows)]
    path = write_csv(tmp_path / f"c{rows}.csv", header, body)
    with Store(str(db)) as store:
        _refs(store, cfg, tmp_path)
        assert isinstance(store.conn, sqlite3.Connection)
        steps = [0]

        def tick() -> int:
            steps[0] += 1
            return 0
        store.conn.set_progress_handler(tick, 1000)
        r = ingest.import_file(store, cfg, "cases", path, run=ingest.ImportRun(store, cfg, now=NOW))
        store.conn.set_progress_handler(None, 0)
    assert (r.inserted, r.rejected) == (rows, 0)
    return steps[0]


def test_the_fast_import_s_work_grows_in_step_with_its_rows(tmp_path):
    """Twice the rows, about twice the database's work, counted in SQLite's steps (no timing): a
    statement that probes an unindexed table for every staged row (the doubtful rows found by a
    correlated NOT EXISTS: 200,000 cases took 373 s instead of 8 s) makes it about four times."""
    small, big = _import_steps(tmp_path, 3000), _import_steps(tmp_path, 6000)
    assert big < 2.6 * small, (small, big)


def test_a_big_load_into_an_empty_table_writes_a_key_met_again_in_a_later_batch_as_an_update(store, cfg, tmp_path):
    """Into an empty table locked by the load (its indexes deferred), a batch's keys are written as
    new ones without the conflict arbiter (PostgreSQL's key table); a batch repeating a key of an
    earlier batch falls back to the upsert: the later row wins, counted as an update, on both stores."""
    _refs(store, cfg, tmp_path)
    header = ["case_no", "item_code", "org", "channel", "accepted_at", "status"]
    rows = [[f"C{i}", "K1", "500103", "window", "2026-10-09 09:00:00", "processing"] for i in range(12)]
    rows += [["C3", "K1", "500103", "online", "2026-09-30 10:00:00", "accepted"], ["C20", "K2", "500103", "window",
                                                                                  "2026-10-09 09:00:00", "processing"]]
    path = write_csv(tmp_path / "c.csv", header, rows)
    with mock.patch.object(staging, "DEFER_ROWS", 1), mock.patch.object(importer, "FAST_BATCH", 5), \
            mock.patch.object(readers, "RAW_CHUNK", 200):
        r = ingest.import_file(store, cfg, "cases", path, run=ingest.ImportRun(store, cfg, now=NOW))
    assert (r.inserted, r.updated, r.rejected) == (13, 1, 0)
    c3 = store.get("cases", "C3")
    assert (c3["channel"], c3["accepted_at"], c3["due_at"]) == ("online", "2026-09-30T10:00:00+08:00",
                                                                "2026-10-13T23:59:59+08:00")    # 5 working days
    assert store.count("cases") == 13
    if store.is_postgres:
        assert store.scalar("SELECT count(*) FROM case_keys") == 13
        assert store.scalar("SELECT accepted_at FROM case_keys WHERE case_no = 'C3'") == "2026-09-30T10:00:00+08:00"
