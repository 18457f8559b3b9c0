"""The bulk import's raw CSV path (PostgreSQL): whole CSV records go to COPY as the file's bytes, so
Python parses no row the SQL predicate proves good; the doubtful rows come back as the cells COPY
read, to the Python validator. Files with a BOM, CRLF line ends, quoted newlines, commas and quotes,
Chinese text and bad rows at known row numbers must give the same table, counts and rejects (row
numbers included) as the Python path alone, on both stores; files COPY would read otherwise than the
csv module (a short row, a NUL, bytes that are not UTF-8, a stray quote, a value over the csv
module's limit) fall back to the csv module from the chunk that holds them, with the same outcome."""
from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from unittest import mock

import pytest

from checker import ingest
from checker.ingest import importer, readers
from checker.ingest.readers import _whole_records
from checker.store import staging

from csvfile import write_csv
from test_import_fastpath import NOW, _import, _refs

pytestmark = pytest.mark.both_stores

HEADER = ["case_no", "item_code", "org", "hall", "channel", "accepted_at", "closed_at", "status", "handler"]


def _good(i: int) -> list[str]:
    return [f"C{i:03}", "K1", "500103", "大厅, \"一\"号\n窗口" if i % 3 == 0 else "渝中区政务服务中心",
            "window", "2026-10-09 09:00:00", "2026-10-12 10:00:00", "closed", "W1"]


def _cases(n: int = 30) -> list[list[str]]:
    rows = [_good(i) for i in range(n)]
    rows[4][5] = "2026-02-30 09:00:00"          # no such day: row 6
    rows[9][2] = "NOPE"                         # no such org: row 11
    rows[17][7] = "done"                        # no such status: row 19
    rows[22][0] = rows[21][0]                   # a key twice: rows 23 and 24 (the second wins)
    return rows


def _bom_file(path: Path, rows, newline: str = "\r\n") -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(HEADER)
    w.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    return path


def _base(tmp: Path) -> Path:
    return write_csv(tmp / "base.csv", HEADER, [_good(1000), _good(1001)])


class _Spy:
    """Counts the chunks the store staged itself (COPY) and the rows the csv module read."""

    def __init__(self):
        self.raw, self.rows = 0, 0

    def __enter__(self):
        real_csv, real_rows = staging.FastImport.stage_csv, readers.Reader.rows

        def stage_csv(fast, data, first):
            out = real_csv(fast, data, first)
            self.raw += out is not None
            return out

        def rows(reader):
            for row in real_rows(reader):
                self.rows += 1
                yield row
        self._patches = [mock.patch.object(staging.FastImport, "stage_csv", stage_csv),
                         mock.patch.object(readers.Reader, "rows", rows)]
        for p in self._patches:
            p.start()
        return self

    def __exit__(self, *exc):
        for p in self._patches:
            p.stop()


def _both(store, cfg, tmp_path, path: Path, chunk: int = 1 << 24):
    """The file imported by the fast path (raw chunks of `chunk` bytes) and by the Python path alone:
    both outcomes, and the spy of the fast one."""
    _refs(store, cfg, tmp_path)
    base = _base(tmp_path)
    with _Spy() as spy, mock.patch.object(readers, "RAW_CHUNK", chunk):
        fast = _import(store, cfg, "cases", base, path, True, 50_000)
    slow = _import(store, cfg, "cases", base, path, False, 50_000)
    return fast, slow, spy


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_a_clean_export_goes_to_copy_whole_and_rejects_keep_their_row_numbers(store, cfg, tmp_path, newline):
    path = _bom_file(tmp_path / "cases.csv", _cases(), newline)
    fast, slow, spy = _both(store, cfg, tmp_path, path)
    assert fast == slow
    counts, table, rejects = fast
    assert counts == (26, 1, 3)                 # C021 twice: inserted, then updated
    assert [r[0] for r in rejects[1:]] == ["6", "11", "19"]       # 行号: the header is row 1
    assert rejects[0][:3] == ["\ufeff行号", "列", "原因"]       # the rejects file: UTF-8 with a BOM
    assert rejects[2][3:] == _cases()[9]                          # the row as read, quoted newline and all
    quoted = next(r for r in table if r["case_no"] == "C003")
    assert quoted["hall"] == "大厅, \"一\"号\n窗口"
    assert next(r for r in table if r["case_no"] == "C021")["accepted_at"] == "2026-10-09T09:00:00+08:00"
    if store.is_postgres:
        assert (spy.raw, spy.rows) == (1, 2)        # COPY read every row; Python parsed only the base file's
    else:
        assert (spy.raw, spy.rows) == (0, 32)


@pytest.mark.parametrize("damage, row", [
    (b"C900,K1,500103\r\n", "short row"),
    (b"C900,K1,500103,H,window,2026-10-09 09:00:00,,processing,W1,extra\r\n", "long row"),
    (b"C900,K1,500103,H\x00,window,2026-10-09 09:00:00,,processing,W1\r\n", "NUL"),
    (b'C900,K1,500103,a"b,window,2026-10-09 09:00:00,,processing,W1\r\n', "stray quote"),
    (b'C900,K1,500103,"a"b,window,2026-10-09 09:00:00,,processing,W1\r\n', "text after a closing quote"),
    (b"\\.\r\n", "COPY's end-of-data marker"),
    (b"\r\n", "blank line"),
    (b"C900,K1,500103,H,window,2026-10-09 09:00:00,,processing,W1\n", "another line end"),
    (b"C900,K1,500103," + b"x" * 140_000 + b",window,2026-10-09 09:00:00,,processing,W1\r\n", "a value too long"),
])
def test_what_copy_might_read_otherwise_falls_back_to_the_csv_module_with_the_same_outcome(
        store, cfg, tmp_path, damage, row):
    path = _bom_file(tmp_path / "cases.csv", _cases(60))
    data = path.read_bytes()
    at = data.index(b"C040,")                       # row 42: in the middle of the fourth chunk
    path.write_bytes(data[:at] + damage + data[at:])
    fast, slow, spy = _both(store, cfg, tmp_path, path, chunk=600)
    assert fast == slow, row
    if store.is_postgres:
        assert spy.raw >= 2 and spy.rows > 2, row     # chunks before the damage by COPY, the rest by Python


def test_a_long_value_in_a_column_of_no_field_is_rejected_as_the_csv_module_rejects_it(store, cfg, tmp_path):
    header = [*HEADER, "备注"]
    rows = [[*_good(i), "x" * (140_000 if i == 2 else 3)] for i in range(6)]
    path = write_csv(tmp_path / "cases.csv", header, rows)
    fast, slow, _ = _both(store, cfg, tmp_path, path)
    assert fast == slow
    assert fast[0] == (5, 0, 1)


def test_an_undecodable_line_keeps_the_rows_before_it_and_reports_its_line(store, cfg, tmp_path):
    path = _bom_file(tmp_path / "cases.csv", _cases(60), "\n")
    data = path.read_bytes()
    at = data.index(b"C040,")
    path.write_bytes(data[:at] + b"C900,K1,500103,\xff\xfe,window,2026-10-09 09:00:00,,processing,W1\n" + data[at:])
    _refs(store, cfg, tmp_path)
    with mock.patch.object(readers, "RAW_CHUNK", 600), pytest.raises(ingest.importer.DecodeFailure) as failure:
        ingest.import_file(store, cfg, "cases", path, run=ingest.ImportRun(store, cfg, now=NOW))
    lines = data[:at].count(b"\n") + 1
    assert failure.value.line == lines
    kept = store.count("cases")
    store.conn.execute("DELETE FROM cases")
    with mock.patch.object(staging, "supported", lambda rk: False), pytest.raises(ingest.importer.DecodeFailure):
        ingest.import_file(store, cfg, "cases", path, run=ingest.ImportRun(store, cfg, now=NOW))
    assert store.count("cases") == kept == 36       # the 40 rows before it, less the 4 rejected or repeated


def test_whole_records_count_the_records_the_csv_module_reads():
    """`_whole_records` cuts at record ends and counts the records as the csv module does, or gives up."""
    rng = random.Random(17)
    alphabet = [b"a", b",", b"\n", b'"', b"\r\n", "中".encode()]
    for _ in range(20_000):
        buf = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        for final in (True, False):
            whole = _whole_records(buf, final)
            if whole is None:
                continue
            end, records = whole
            assert end == len(buf) if final else buf[:end].endswith(b"\n") or end == 0
            assert len(list(csv.reader(io.StringIO(buf[:end].decode(), newline="")))) == records, (buf, final)
    assert _whole_records(b'a,"b"c\n', True) is None            # text after a closing quote
    assert _whole_records(b'a,b"c\n', True) is None             # a quote inside an unquoted field
    assert _whole_records(b'a,"b\n', True) is None              # a quoted field that never ends
    assert _whole_records(b'a,"b\n', False) == (0, 0)           # … or does in the next chunk
    assert _whole_records(b'1,2\n3,"x\ny"\n4,"z', False) == (12, 2)
    assert _whole_records(b"\\.\n", True) is None
