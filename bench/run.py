"""The benchmark: `python -m bench [--cases N] [--smoke] [--out DIR]`.

Generates a sample with checker.tools.sample, builds the stores, runs every measurement (each repetition
in a fresh process), prints the table and writes it to <out>/results.json. Measurements register
with @measurement in the order they run; each returns its table rows.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

from .lock import FolderBusy, holding
from .runner import Runner, Series
from .steps import copy_store
from .table import MEMORY_LIMIT_MB, Row, judged, render, write_json

NOW = "2026-10-14T08:30:00+08:00"        # the sample's `now`; the first and baseline scans
DAILY = "2026-10-15T08:30:00+08:00"      # the next day's daily scan
OPEN_SHARE = 0.05                        # of the cases, in progress at NOW
RECENT = "2026-09-24"                    # cases put back in progress to reach it were accepted since
PERIOD = "2026-09"                       # the month of P1–P9 and of the monthly bulletin
QUIET_REFERENCE_S = 0.38                 # calibrate() on the 2-core machine of bench/README.md's table, unloaded
MEASUREMENTS: list[Callable] = []


def measurement(fn):
    """Register a measurement (fn(bench) -> list[Row]); they run in registration order."""
    MEASUREMENTS.append(fn)
    return fn


@dataclass(frozen=True)
class Options:
    cases: int = 1_000_000
    touch: int = 10_000
    recipients: int = 1_000
    rate: float = 200
    short_reps: int = 3              # measurements of a few seconds
    long_reps: int = 2               # imports and full rescans
    enforce: bool = True             # judge against the targets (not in a smoke run)
    out: Path = Path(__file__).resolve().parent / "out"
    only: tuple[str, ...] = ()
    history: bool = True             # also the daily scan on a store with twice the history
    reuse_store: bool = False        # keep the imported and scanned store of an earlier run of the same size
    packs: tuple[str, ...] | None = ("db33",)   # the sample city is in Zhejiang: a deployment there enforces DB33/T 2036.7

    @classmethod
    def smoke(cls, out: Path) -> "Options":
        return cls(cases=2_000, touch=100, recipients=20, short_reps=1, long_reps=1, enforce=False, out=out)


class Bench:
    """Paths, the step runner, and the data and stores measurements share (built once, on demand)."""

    def __init__(self, opts: Options):
        self.opts = opts
        self.work = opts.out / "work"
        self.runner = Runner(self.work / "logs")

    def path(self, name: str) -> str:
        return str(self.work / name)

    def step(self, name: str, **params):
        return self.runner.step(name, rejects=self.path("rejects"), packs=self.packs, **params)

    def repeat(self, n: int, name: str, before=None, **params) -> Series:
        return self.runner.repeat(n, name, before, rejects=self.path("rejects"), packs=self.packs, **params)

    @property
    def packs(self) -> list[str] | None:
        return list(self.opts.packs) if self.opts.packs else None

    def row(self, what: str, size: str, s: Series, unit: str, target: str, passed: bool,
            ratio: float | None = None, detail: dict | None = None) -> Row:
        return Row(what, size, s.seconds, s.rate, unit, s.peak_mb, target, ratio,
                   judged(passed, s.peak_mb, self.opts.enforce), len(s.runs), detail or {})

    @cached_property
    def sample(self) -> str:
        """The sample folder (reused when a previous run made the same one: it is deterministic)."""
        folder = self.work / f"sample-{self.opts.cases}"
        stamp, want = folder / ".done", json.dumps({"cases": self.opts.cases, "now": NOW, "seed": 1})
        if not (stamp.exists() and stamp.read_text() == want):
            print(f"generating the sample ({self.opts.cases:,} cases) …", flush=True)
            self.step("sample", dir=str(folder), cases=self.opts.cases, now=NOW)
            stamp.write_text(want)
        return str(folder)

    @cached_property
    def refs(self) -> str:
        db = self.fresh("refs.db")
        self.step("refs_store", db=db, dir=self.sample)
        return db

    @cached_property
    def store_1m(self) -> str:
        """The whole sample imported, then scanned (the first scan is a full one). With --reuse-store
        the store an earlier run built and stamped is kept (what it measured since stays in it: scans)."""
        name = f"store-{self.opts.cases}.db"
        stamp = self.work / f"{name}.done"
        if self.opts.reuse_store and stamp.exists() and Path(self.path(name)).exists():
            self.store_info = json.loads(stamp.read_text())
            print(f"reusing {self.path(name)} ({self.store_info['cases']:,} cases)", flush=True)
            # a store of older code has no kept indicator roll-ups yet: built here, as its first scan would
            self.step("indicators", db=self.path(name), now=NOW, period=PERIOD)
            # the daily scan starts from a full scan of this code: one of older code recorded no basis,
            # or the digests of conditions this code compiles otherwise (every rule evaluated whole)
            self.step("scan", db=self.path(name), now=NOW, full=True)
            return self.path(name)
        stamp.unlink(missing_ok=True)
        db = self.fresh(name)
        self.store_info = self.step("store", db=db, dir=self.sample, open_share=OPEN_SHARE, recent_since=RECENT).out
        self.step("scan", db=db, now=NOW, full=True)
        stamp.write_text(json.dumps(self.store_info))
        return db

    @cached_property
    def store_2m(self) -> str:
        """The base store plus as many closed historical cases, then a baseline scan."""
        db = self.fresh(f"store-{2 * self.opts.cases}.db")
        copy_store(self.store_1m, db)
        self.store2_info = self.step("history", db=db, cases=self.opts.cases).out
        self.step("scan", db=db, now=NOW)
        return db

    def fresh(self, name: str) -> str:
        self.work.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(self.path(name + suffix)).unlink(missing_ok=True)
        return self.path(name)

    def daily_scan(self, store: str) -> Series:
        """Copy the store, change `touch` cases by one import batch, then the incremental scan."""
        db = self.path("daily.db")

        def touch():
            self.fresh("daily.db")
            copy_store(store, db)
            self.step("touch", db=db, dir=self.sample, csv=self.path("touch.csv"), count=self.opts.touch,
                      of=self.opts.cases)
        return self.repeat(self.opts.short_reps, "scan", before=touch, db=db, now=DAILY)


# ------------------------------------------------------------------------------ measurements

@measurement
def imports(b: Bench) -> list[Row]:
    """govwatch import cases FILE against the bare csv + executemany baseline, side by side."""
    ours, bare = [], []
    for _ in range(b.opts.long_reps):
        ours += b.repeat(1, "import_cases", db=b.fresh("import.db"), refs=b.refs, dir=b.sample).runs
        bare += b.repeat(1, "import_bare", db=b.fresh("bare.db"), refs=b.refs, dir=b.sample).runs
    ours, bare = Series(ours), Series(bare)
    ratio = ours.rate / bare.rate
    size = f"{ours.count:,} cases"
    rejected = max(ours.all("rejected"))
    return [b.row("import cases (checker.ingest)", size, ours, "cases/s", "≥ 0.5× bare", ratio >= 0.5 and not rejected,
                  ratio, {"rejected": rejected}),
            Row("  baseline: csv + executemany", size, bare.seconds, bare.rate, "cases/s", bare.peak_mb, "(baseline)",
                None, None, len(bare.runs))]


@measurement
def full_rescan(b: Bench) -> list[Row]:
    s = b.repeat(b.opts.long_reps, "scan", db=b.store_1m, now=NOW, full=True)
    size = f"{s.count:,} records"
    return [b.row("full rescan (scan --full)", size, s, "records/s", "≥ 300,000 records/s", s.rate >= 300_000,
                  detail={"open_findings": s.all("open")[-1]})]


@measurement
def daily_scans(b: Bench) -> list[Row]:
    one = b.daily_scan(b.store_1m)
    bare = b.repeat(b.opts.short_reps, "bare_live", db=b.path("daily.db"), now=DAILY)
    info1 = b.store_info
    to_bare = one.seconds / bare.seconds if bare.seconds else None
    size1 = f"{info1['cases']:,} cases, {info1['open']:,} open, {b.opts.touch:,} changed"
    rows = [b.row("daily scan (incremental)", size1, one, "records/s", "≤ 0.5 s and ≤ 10× bare",
                  one.seconds <= 0.5 and (to_bare or 0) <= 10, to_bare,
                  detail={"evaluated": one.count, "open_share": info1["open"] / info1["cases"]}),
            Row("  baseline: sqlite3 read of the live + changed rows", f"{bare.count:,} rows", bare.seconds,
                bare.rate, "rows/s", bare.peak_mb, "(baseline)", None, None, len(bare.runs))]
    if not b.opts.history:
        return rows
    two = b.daily_scan(b.store_2m)
    info2 = b.store2_info
    ratio = two.seconds / one.seconds
    size2 = f"{info2['cases']:,} cases, {info2['open']:,} open, {b.opts.touch:,} changed"
    return rows + [b.row("daily scan, double history", size2, two, "records/s", "≤ 1.3× the first row", ratio <= 1.3, ratio,
                  {"evaluated": two.count, "open_share": info2["open"] / info2["cases"]})]


@measurement
def answers_during_scan(b: Bench) -> list[Row]:
    """The bot's /status and a button press, answered on their own connection during a full rescan."""
    db = b.fresh("answer.db")
    copy_store(b.store_1m, db)
    s = b.repeat(1, "answer_during_scan", db=db, now=NOW)
    r = s.runs[0].out
    return [b.row("bot answer during a full rescan (longest)", f"{r['answers']} answers during {r['scan_seconds']:.1f} s",
                  s, "", "< 1 s", s.seconds < 1, detail={"median": r["median"], "scan_seconds": r["scan_seconds"]})]


@measurement
def indicators(b: Bench) -> list[Row]:
    s = b.repeat(b.opts.short_reps, "indicators", db=b.store_1m, now=DAILY, period=PERIOD)
    orgs = s.all("orgs")[0]
    return [b.row(f"P1–P9, {PERIOD}, every org", f"{b.opts.cases:,} cases, {orgs} orgs", s, "values/s", "< 2 s",
                  s.seconds < 2)]


@measurement
def bulletin(b: Bench) -> list[Row]:
    s = b.repeat(b.opts.short_reps, "bulletin", db=b.store_1m, now=DAILY, period=PERIOD, out=b.path("reports"))
    return [b.row(f"monthly bulletin {PERIOD}", f"{b.opts.cases:,} cases", s, "", "< 10 s", s.seconds < 10,
                  detail={"html_bytes": s.all("bytes")[0]})]


@measurement
def delivery(b: Bench) -> list[Row]:
    o = b.opts
    params = dict(work=b.path("delivery"), recipients=o.recipients, rate=o.rate, now=DAILY)
    clean = b.repeat(o.short_reps, "deliver", **params)
    flaky = b.repeat(o.long_reps, "deliver", fail_every=5, **params)
    ratio = clean.rate / o.rate
    exact = all(r.out["lost"] == 0 and r.out["duplicated"] == 0 and r.out["count"] == o.recipients for r in flaky.runs)
    size = f"{o.recipients:,} digests"
    return [b.row("deliver digests (AIORateLimiter)", size, clean, "msgs/s", f"≥ 0.9× {o.rate:g}/s limit",
                  ratio >= 0.9, ratio),
            b.row("  … 20% of sends fail (429/500)", size, flaky, "msgs/s", "none lost, none twice", exact,
                  detail={"lost": flaky.all("lost"), "duplicated": flaky.all("duplicated"),
                          "failed_requests": flaky.all("failed_requests"), "rounds": flaky.all("rounds")})]


# ------------------------------------------------------------------------------ main

def run(opts: Options) -> list[Row]:
    bench = Bench(opts)
    rows = []
    for fn in MEASUREMENTS:
        if not opts.only or fn.__name__ in opts.only:
            print(f"{fn.__name__} …", flush=True)
            rows += fn(bench)
    return rows


def parse(argv) -> Options:
    ap = argparse.ArgumentParser(prog="python -m bench", description="govwatch benchmarks at provincial scale")
    ap.add_argument("--cases", type=int, default=1_000_000, help="cases in the sample (default 1,000,000)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition, targets not enforced")
    ap.add_argument("--out", type=Path, help="where results.json and the work files go (default bench/out)")
    ap.add_argument("--only", nargs="*", default=(), help=f"run only these ({', '.join(f.__name__ for f in MEASUREMENTS)})")
    ap.add_argument("--packs", nargs="*", default=["db33"],
                    help="rule packs enforced (default db33, the sample city's standard; none given = every pack)")
    ap.add_argument("--no-history", dest="history", action="store_false",
                    help="skip the daily scan on a store with twice the history (the --cases 10000000 run)")
    ap.add_argument("--reuse-store", action="store_true",
                    help="keep the store an earlier run of the same size built and scanned (re-measure on it)")
    ns = ap.parse_args(argv)
    out = ns.out or Options.out
    opts = Options.smoke(out) if ns.smoke else Options(cases=ns.cases, out=out)
    return Options(**{**opts.__dict__, "only": tuple(ns.only), "packs": tuple(ns.packs) or None,
                      "history": ns.history, "reuse_store": ns.reuse_store})


def main(argv=None) -> int:
    """The run, holding its --out folder's lock (bench/lock.py): 2 at once when another bench holds it."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _main(argv)
    except FolderBusy as busy:
        print(f"python -m bench: {busy}", file=sys.stderr)
        return 2


def _main(argv: list[str]) -> int:
    if "--store" in argv:                      # both stores side by side (bench/stores.py)
        from . import stores
        ap = argparse.ArgumentParser(prog="python -m bench --store")
        ap.add_argument("--store", required=True, help="a postgresql:// URL (a fresh schema is made and dropped)")
        ap.add_argument("--cases", type=int, default=1_000_000)
        ap.add_argument("--packs", nargs="*", default=["db33"])
        ap.add_argument("--out", type=Path)
        ap.add_argument("--only", nargs="*", default=(), help=f"only these steps ({', '.join(stores.STEPS)}; "
                        "the import always runs)")
        ns = ap.parse_args(argv)
        with holding(ns.out) if ns.out else nullcontext():      # without --out: a fresh temporary folder
            return stores.main(ns.store, ns.cases, tuple(ns.packs) or None, ns.out, tuple(ns.only))
    opts = parse(argv)
    with holding(opts.out):
        return _run(opts)


def _run(opts: Options) -> int:
    start, speed = time.perf_counter(), [calibrate()]
    rows = run(opts)
    total, speed = time.perf_counter() - start, speed + [calibrate()]
    print()
    print(render(rows))
    print(f"\nrule packs enforced: {', '.join(opts.packs) if opts.packs else 'all'}; "
          f"total {total / 60:.1f} min; memory limit {MEMORY_LIMIT_MB} MB per measurement; "
          f"results in {opts.out / 'results.json'}")
    print(f"machine speed: the reference loop took {speed[0]:.2f} s at the start and {speed[1]:.2f} s at the end "
          f"(quiet, this kind of machine: {QUIET_REFERENCE_S:.2f} s; more means the times above are inflated)")
    meta = {"total_seconds": round(total, 1), "cases": opts.cases, "smoke": not opts.enforce, "packs": opts.packs,
            "python": platform.python_version(), "machine": platform.machine(), "cpus": _cpus(),
            "reference_loop_seconds": [round(s, 3) for s in speed]}
    write_json(opts.out / "results.json", rows, meta)
    return 1 if any(r.passed is False for r in rows) else 0


def calibrate() -> float:
    """The machine's speed now: seconds for a fixed pure-Python loop (10 million additions). Shared
    machines drift (measured here: the same work took from 1× to 2× as long within an hour), so a
    run prints it beside its figures; it judges nothing."""
    begin, total = time.perf_counter(), 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - begin


def _cpus() -> int:
    import os
    return len(os.sched_getaffinity(0))
