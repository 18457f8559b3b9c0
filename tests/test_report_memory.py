"""A report reads what grows with the data in bounded pages or as counts (issues 11 and 17: the 10M
bulletin held 550,000 open findings and 322,000 overdue cases in memory at once, 1.6 GB): with
many overdue cases and open findings, no single statement of a bulletin returns more than a page."""
from __future__ import annotations

import pytest

from checker.ingest import import_file
from checker.reports import data as report_data

from test_reports import FILES, NOW, _finding, build

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

PAGE = 10
MANY = 120          # overdue cases, and findings open at NOW, each: twelve pages


@pytest.fixture
def big(store, cfg, tmp_path):
    files = dict(FILES)
    files["cases"] = FILES["cases"] + "".join(
        f"M{i:03},IA,{'A1' if i % 3 else 'B'},window,2026-09-{1 + i % 28:02}T10:00,,processing,E1\n" for i in range(MANY))
    for kind, text in files.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        assert import_file(store, cfg, kind, path).rejected == 0, kind
    for i in range(MANY):        # opened before the bulletin's month, open at NOW, due after it
        _finding(store, 100 + i, "A1" if i % 2 else "B", "open", "yellow", f"5.1.{i % 7}", "2026-12-01T23:59:59+08:00",
                 opened="2026-09-15T09:00:00+08:00")
    _finding(store, 1, "A1", "open", "red", "5.2.1.5", "2026-10-20T23:59:59+08:00")        # one overdue rectification
    return store


def test_bulletin_reads_overdue_cases_and_open_findings_in_bounded_pages(big, cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(report_data, "OVERDUE_PAGE", PAGE)
    sizes: list[tuple[int, str]] = []
    rows = big.rows

    def counting(sql, params=()):
        found = rows(sql, params)
        sizes.append((len(found), " ".join(sql.split())[:120]))
        return found

    monkeypatch.setattr(big, "rows", counting)
    r = build(big, cfg, "monthly", tmp_path, formats=("html", "xlsx"))
    html = r.html_path.read_text("utf-8")
    assert f"超过承诺办结时间仍未办结的办件 {MANY + 1} 件" in html              # K1 and the MANY
    assert f"未关闭问题 {MANY + 1} 项，其中超过整改期限 1 项" in html
    worst = max(sizes)      # the largest others: the orgs' indicator snapshots, the open findings' counts (~20)
    assert worst[0] < MANY // 3, f"one statement returned {worst[0]} rows (not a page, not counts): {worst[1]}"


def test_overdue_summary_equals_the_whole_list_sorted(big, cfg, monkeypatch):
    """The one-pass summary (count, per org, longest, the worst) is what the whole sorted list says."""
    monkeypatch.setattr(report_data, "OVERDUE_PAGE", 7)
    names = big.org_names()
    paged = report_data.overdue_cases(big, cfg, None, NOW, names, top=5)
    monkeypatch.setattr(report_data, "OVERDUE_PAGE", 10 * MANY)
    whole = list(report_data.overdue_cases(big, cfg, None, NOW, names, top=5))
    assert list(paged) == whole and len(paged) == len(whole) == MANY + 1
    assert paged.worst == tuple(sorted(whole, key=lambda c: (-c.overdue_wd, c.due_at, c.case_no))[:5])
    assert paged.longest == max(whole, key=lambda c: c.overdue_wd)
    counts: dict[str, int] = {}
    for c in whole:
        counts[c.org] = counts.get(c.org, 0) + 1
    assert paged.by_org == tuple(counts.items())


def test_overdue_pages_keep_one_order_across_the_open_statuses(big):
    """The open statuses are read apart and merged (ReportStore.overdue_cases_at): pages cut inside
    runs of equal deadlines that span the statuses still give the whole list, in (due_at, case_no)
    order, each case once, for every org or for a subtree."""
    for status, rest in (("accepted", 0), ("suspended", 1)):     # each org's cases of each status
        keys = [f"M{i:03}" for i in range(MANY) if i // 3 % 3 == rest]
        big.conn.execute(f"UPDATE cases SET status = ? WHERE case_no IN ({', '.join('?' * len(keys))})",
                         (status, *keys))
    at = NOW.isoformat(timespec="seconds")
    for org in (None, "A1"):
        whole = big.overdue_cases_at(org, at)
        assert {r["status"] for r in whole} == {"accepted", "processing", "suspended"}
        assert [(r["due_at"], r["case_no"]) for r in whole] == sorted((r["due_at"], r["case_no"]) for r in whole)
        paged, after = [], None
        while page := big.overdue_cases_at(org, at, after=after, limit=PAGE):
            paged += page
            after = (page[-1]["due_at"], page[-1]["case_no"])
        assert paged == whole
