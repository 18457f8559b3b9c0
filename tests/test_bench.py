"""The benchmark's smoke run (tiny sizes, one repetition, targets not enforced), so it cannot rot:
every measurement runs in its own process through the real library and fills its table row."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))      # bench/ is not an installed package

from bench import lock, run  # noqa: E402

WHAT = ("import cases", "baseline", "full rescan", "daily scan (incremental)", "sqlite3 read of the live",
        "daily scan, double history", "bot answer during a full rescan",
        "P1–P9", "monthly bulletin", "deliver digests", "20% of sends fail")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = run.main(["--smoke", "--out", str(out)])
    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"]
    return code, {r["what"].strip(): r for r in rows}


def test_smoke_run_fills_every_row(smoke):
    code, rows = smoke
    assert code == 0
    assert [any(w in what for what in rows) for w in WHAT] == [True] * len(WHAT)
    assert all(r["seconds"] > 0 and r["peak_mb"] > 0 and r["status"] == "—" for r in rows.values())


def test_smoke_run_imports_every_case(smoke):
    imported = smoke[1]["import cases (checker.ingest)"]
    assert imported["size"] == "2,000 cases" and imported["detail"]["rejected"] == 0


def test_smoke_run_delivers_each_digest_exactly_once_despite_failures(smoke):
    flaky = smoke[1]["… 20% of sends fail (429/500)"]["detail"]
    assert flaky["lost"] == [0] and flaky["duplicated"] == [0] and flaky["failed_requests"][0] > 0


def test_daily_scan_sees_the_changed_cases_and_the_same_open_count_in_both_stores(smoke):
    one, two = smoke[1]["daily scan (incremental)"], smoke[1]["daily scan, double history"]
    assert "2,000 cases" in one["size"] and "4,000 cases" in two["size"]
    assert one["size"].split(", ")[1:] == two["size"].split(", ")[1:]      # same open, same changed


def test_a_second_bench_on_a_busy_out_folder_stops_at_once(tmp_path, capsys):
    """Two benches sharing one work folder once left a malformed daily.db: the second stops before
    it writes anything there, with a message naming the holder; once the holder is gone (killed,
    here), the folder is free again."""
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path; from bench import lock\n"
                               "with lock.holding(Path(sys.argv[1])):\n    print('held', flush=True); sys.stdin.read()",
                               str(out)], cwd=Path(run.__file__).parent.parent, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run.main(["--smoke", "--out", str(out)]) == 2
        assert run.main(["--store", "postgresql://nowhere/x", "--out", str(out), "--cases", "10"]) == 2
        err = capsys.readouterr().err
        assert f"another bench is running in {out} (process {holder.pid} holds" in err and "--out" in err
        assert sorted(p.name for p in out.iterdir()) == [lock.LOCK]          # no work folder, no results
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with lock.holding(out):                  # the kernel dropped the killed holder's lock
        assert (out / lock.LOCK).read_text().strip() == str(os.getpid())
