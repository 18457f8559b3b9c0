"""The benchmark's steps on data and stores: make the sample, build stores, import, scan,
indicators, the monthly bulletin. Each runs in its own process (bench.worker).

Everything goes through the library as a user's command would (checker.tools.sample, checker.ingest,
checker.evaluate.scan, checker.evaluate.indicators, checker.reports). Two steps use SQL directly, on purpose: the
bare-insert baseline the import is compared with, and making the test data: the open share set to
5 % (the sample has no option for it) and the history added to make the 2,000,000-case store.
"""
from __future__ import annotations

import csv
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

from .worker import step, timed

HISTORY_YEARS = 4          # history cases are shifted back whole leap cycles, so every date stays valid


def _cfg(db, packs=None):
    """The default config on this store, enforcing `packs` (short names; None = every pack)."""
    from checker import config
    return config.load(None, database=str(db), packs=packs)


def _store(db):
    from checker.store import Store
    return Store(db)


def _now(p: dict, key: str = "now") -> datetime:
    return datetime.fromisoformat(p[key])


def copy_store(src, dst) -> None:
    """A store file and its WAL (if any) copied to a fresh path."""
    for suffix in ("-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    if Path(f"{src}-wal").exists():
        shutil.copyfile(f"{src}-wal", f"{dst}-wal")
    os.sync()       # the copy's write-back (hundreds of MB) must not land inside the next measured step


def _rulebook(cfg):
    from checker.evaluate.engine import Engine
    from checker.rules import load_configured
    from checker.calendar import WorkCalendar
    rulebook = load_configured(cfg)
    Engine.instance().ensure(rulebook)           # compiled once per process, as in `govwatch serve`
    WorkCalendar().is_working_day(datetime(2026, 1, 1).date())   # the holidays package loaded, as in serve
    return rulebook


# ------------------------------------------------------------------------------ setup

@step("sample")
def sample(p: dict) -> dict:
    """govwatch sample: every record kind as CSV, `cases` cases over the six months before `now`."""
    from checker.tools.sample import write_sample
    with timed() as t:
        counts = write_sample(p["dir"], _now(p), cases=p["cases"], seed=p.get("seed", 1))
    return {"seconds": t.seconds, "counts": counts}


@step("refs_store")
def refs_store(p: dict) -> dict:
    """A store holding what cases refer to (orgs, officers, items), the start of every import run."""
    from checker.ingest import ImportRun, import_file
    cfg, folder = _cfg(p["db"]), Path(p["dir"])
    with _store(p["db"]) as store:
        run = ImportRun(store, cfg)
        for kind in ("orgs", "officers", "items"):
            import_file(store, cfg, kind, folder / f"{kind}.csv", rejects_dir=p["rejects"], run=run)
    return {}


@step("store")
def full_store(p: dict) -> dict:
    """The whole sample imported (govwatch import all FOLDER)."""
    from checker.ingest import import_dir
    cfg = _cfg(p["db"])
    with _store(p["db"]) as store, timed() as t:
        results = import_dir(store, cfg, p["dir"], rejects_dir=p["rejects"])
    reopened = open_share(p["db"], p["open_share"], p["recent_since"]) if p.get("open_share") else 0
    return {"seconds": t.seconds, "rejected": sum(r.rejected for r in results), "reopened": reopened,
            **case_counts(p["db"])}


def open_share(db, share: float, since: str) -> int:
    """The sample leaves about 4–5 % of its cases open; make it exactly `share` by putting back in
    progress the most recently accepted closed cases (accepted on or after `since`)."""
    conn = sqlite3.connect(db, isolation_level=None)
    total, open_ = conn.execute(f"SELECT count(*), sum(status IN ({_OPEN})) FROM cases").fetchone()
    missing = max(0, round(total * share) - open_)
    conn.execute("BEGIN")
    conn.execute("UPDATE cases SET status = 'processing', closed_at = NULL WHERE case_no IN (SELECT case_no "
                 "FROM cases WHERE status = 'closed' AND accepted_at >= ? ORDER BY accepted_at DESC, case_no "
                 "LIMIT ?)", (since, missing))
    conn.execute("COMMIT")
    conn.close()
    return missing


_OPEN = "'accepted', 'processing', 'suspended'"


def case_counts(db) -> dict:
    with _store(db) as store:
        open_ = store.scalar(f"SELECT count(*) FROM cases WHERE status IN ({_OPEN})")
        return {"cases": store.count("cases"), "open": open_}


@step("history")
def history(p: dict) -> dict:
    """Add `cases` closed cases, HISTORY_YEARS years older than the sample's, that no scan has to
    look at again (_seq 1: a change number every scan since has covered; 0 would be stamped as new
    by the store's triggers)."""
    cols = [r[1] for r in sqlite3.connect(p["db"]).execute("PRAGMA table_info(cases)")]
    shifted = {c: _older(c) for c in ("accepted_at", "promised_at", "due_at")}
    shifted.update(case_no="'H' || substr(case_no, 3)", status="'closed'", _seq="1",
                   closed_at=f"COALESCE({_older('closed_at')}, {_older('due_at')}, {_older('accepted_at')})")
    select = ", ".join(shifted.get(c, f'"{c}"') for c in cols)
    conn = sqlite3.connect(p["db"], isolation_level=None)
    with timed() as t:
        conn.execute("BEGIN")
        conn.execute(f'INSERT INTO cases ({", ".join(cols)}) SELECT {select} FROM cases '
                     f'WHERE case_no NOT LIKE \'H%\' ORDER BY case_no LIMIT ?', (p["cases"],))
        conn.execute("COMMIT")
    conn.close()
    return {"seconds": t.seconds, **case_counts(p["db"])}


def _older(col: str) -> str:
    return (f"CASE WHEN \"{col}\" IS NULL THEN NULL ELSE "
            f"printf('%04d', CAST(substr(\"{col}\", 1, 4) AS INTEGER) - {HISTORY_YEARS}) || substr(\"{col}\", 5) END")


@step("touch")
def touch(p: dict) -> dict:
    """Re-import `count` existing cases, evenly spread over the file, as one import batch: they are
    what changed since the last scan."""
    from checker.ingest import import_file
    src, out = Path(p["dir"]) / "cases.csv", Path(p["csv"])
    with open(src, encoding="utf-8", newline="") as f, open(out, "w", encoding="utf-8", newline="") as g:
        rows, w = csv.reader(f), csv.writer(g, lineterminator="\n")
        w.writerow(next(rows))
        every = max(1, p["of"] // p["count"])
        w.writerows(r for i, r in enumerate(rows) if i % every == 0 and i // every < p["count"])
    with _store(p["db"]) as store:
        r = import_file(store, _cfg(p["db"]), "cases", out, rejects_dir=p["rejects"])
    return {"updated": r.updated, "inserted": r.inserted}


# ------------------------------------------------------------------------------ measurements

@step("import_cases")
def import_cases(p: dict) -> dict:
    """govwatch import cases FILE into a fresh store (orgs, officers, items already in)."""
    from checker.ingest import import_file
    copy_store(p["refs"], p["db"])
    cfg = _cfg(p["db"])
    with _store(p["db"]) as store:
        with timed() as t:
            r = import_file(store, cfg, "cases", Path(p["dir"]) / "cases.csv", rejects_dir=p["rejects"])
    return {"seconds": t.seconds, "count": r.inserted + r.updated, "rejected": r.rejected}


@step("import_bare")
def import_bare(p: dict) -> dict:
    """The baseline: the same CSV read with the csv module, the raw rows executemany'd into the
    same table (same schema and indexes) of a fresh store, one transaction. Each row carries a change
    number, as the import's rows do (a row without one would be stamped by the store's trigger: an
    extra write per row that the import never pays)."""
    copy_store(p["refs"], p["db"])
    conn = sqlite3.connect(p["db"], isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    with timed() as t, open(Path(p["dir"]) / "cases.csv", encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        header = [*next(rows), "_seq"]
        sql = f'INSERT INTO cases ({", ".join(header)}) VALUES ({", ".join("?" * len(header))})'
        conn.execute("BEGIN")
        conn.executemany(sql, ([*r, 1] for r in rows))
        conn.execute("COMMIT")
    count = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    conn.close()
    return {"seconds": t.seconds, "count": count}


@step("scan")
def scan(p: dict) -> dict:
    """checker.evaluate.scan.run_scan (govwatch scan [--full]) at `now`."""
    from checker.evaluate.scan import run_scan
    cfg = _cfg(p["db"], p.get("packs"))
    rulebook = _rulebook(cfg)
    with _store(p["db"]) as store:
        with timed() as t:
            r = run_scan(store, cfg, rulebook, _now(p), full=p.get("full", False))
        with timed() as c:            # what `govwatch scan` does after reporting (run_scan)
            store.checkpoint()
    return {"seconds": t.seconds, "count": r.evaluated, "opened": r.opened, "resolved": r.resolved, "open": r.open,
            "checkpoint_seconds": c.seconds}


@step("indicators")
def indicators(p: dict) -> dict:
    """P1–P9 of one month for every org (checker.evaluate.indicators.compute)."""
    from checker.evaluate.indicators import compute
    from checker.periods import Period
    cfg = _cfg(p["db"], p.get("packs"))
    rulebook = _rulebook(cfg)
    with _store(p["db"]) as store:
        with timed() as t:
            values = compute(store, cfg, rulebook, Period.parse(p["period"]), now=_now(p))
    return {"seconds": t.seconds, "count": len(values), "orgs": len({v.org for v in values})}


@step("bulletin")
def bulletin(p: dict) -> dict:
    """The monthly bulletin (checker.reports.build_report(..., "monthly", ...)), HTML written."""
    from checker.reports import build_report
    cfg = _cfg(p["db"], p.get("packs"))
    rulebook = _rulebook(cfg)
    with _store(p["db"]) as store:
        with timed() as t:
            r = build_report(store, cfg, rulebook, "monthly", p["period"], now=_now(p), out_dir=p["out"])
    return {"seconds": t.seconds, "bytes": Path(r.html_path).stat().st_size}


@step("bare_live")
def bare_live(p: dict) -> dict:
    """The baseline of the daily scan: a bare sqlite3 read of the rows it looks at (the live rows of
    every kind a record rule reads, and the rows changed since the last scan), fetched, nothing else."""
    from checker.store.scan import LIVE_SQL
    conn = sqlite3.connect(p["db"], isolation_level=None)
    since_seq = conn.execute("SELECT to_seq FROM scans WHERE finished_at IS NOT NULL ORDER BY id DESC "
                             "LIMIT 1 OFFSET 1").fetchone()[0]         # the scan before the daily scan
    params = {"since": p["now"][:10], "until": "9999", "since_seq": since_seq}
    count = 0
    with timed() as t:
        for kind, live in LIVE_SQL.items():
            count += len(conn.execute(f'SELECT * FROM "{kind}" WHERE ({live}) OR _seq > :since_seq',
                                      params).fetchall())
    conn.close()
    return {"seconds": t.seconds, "count": count}


@step("answer_during_scan")
def answer_during_scan(p: dict) -> dict:
    """What the bot does for /status and for a button press, done again and again on its own
    connection while a full rescan runs in another thread: the longest answer is the figure."""
    import threading
    import time as time_
    from checker import findings
    from checker.findings.access import Scope
    from checker.evaluate.scan import run_scan
    cfg = _cfg(p["db"], p.get("packs"))
    rulebook = _rulebook(cfg)
    done = threading.Event()
    result: dict = {}

    def scan():
        with _store(p["db"]) as store:
            with timed() as t:
                r = run_scan(store, cfg, rulebook, _now(p), full=True)
            store.checkpoint()
            result.update(scan_seconds=t.seconds, count=r.evaluated)
        done.set()
    answers = []
    with _store(p["db"]) as bot_store:
        admin = bot_store.scalar("SELECT id FROM officers WHERE role = 'admin' ORDER BY id LIMIT 1")
        scope = Scope.for_officer(bot_store, admin)
        worker = threading.Thread(target=scan)
        worker.start()
        while not done.is_set():
            with timed() as t:
                rows = findings.list_findings(bot_store, scope=scope, status="active", limit=50)
                with bot_store.transaction():          # a button press writes an audit event
                    bot_store.add_events([{"finding_id": rows[0]["id"] if rows else 0, "at": p["now"],
                                           "actor": admin, "action": "bench", "from_status": "open",
                                           "to_status": "open"}] if rows else [])
            answers.append(t.seconds)
            time_.sleep(0.1)
        worker.join()
    return {"seconds": max(answers) if answers else 0.0, "count": len(answers), "answers": len(answers),
            "median": sorted(answers)[len(answers) // 2] if answers else 0.0, **result}
