"""`python -m bench --store postgresql://… [--cases N]`: the same steps on both stores, side by side.

One generated sample (checker.tools.sample) is imported into a fresh SQLite file and into a fresh schema of
the PostgreSQL database at the URL; then the full rescan, the next day's daily scan, P1–P9 of a
month for every org, the monthly bulletin, and each database's size. Each store runs in a process
of its own, so the peak memory is govwatch's for that store alone. The import's baselines on
PostgreSQL, in the same run: a bare `COPY` of the same cases CSV into a table of text columns, and a
bare load of it into govwatch's schema (`bare_load`: what the schema and the import's atomicity cost
with no validation at all).

A 10M run takes an hour or more: each step's figures go to stderr as the step ends, and OUT/stores.json
is written after each store and each baseline, so that what was measured survives a later failure.
A sample already in OUT/data (a `cases.csv` there) is used as it is.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

NOW = "2026-10-14T08:30:00+08:00"
DAILY = "2026-10-15T08:30:00+08:00"
PERIOD = "2026-09"


def schema_url(base: str, schema: str) -> str:
    return f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"


STEPS = ("import", "full_rescan", "daily_scan", "p1_p9", "bulletin")


def run_store(database: str, data: str, out: str, packs, only=()) -> dict:
    """Every step on one store (in this process), or those of `only` (the import always runs);
    seconds per step and what it did."""
    from datetime import datetime

    from checker import config
    from checker.evaluate.indicators import compute
    from checker.ingest import ImportRun, folder_files, import_file
    from checker.periods import Period
    from checker.reports import build_report
    from checker.rules import load_configured
    from checker.evaluate.scan import run_scan
    from checker.store import Store
    cfg = config.load(None, database=database, packs=packs)
    book = load_configured(cfg)
    res: dict = {}
    store_name = "PostgreSQL" if database.startswith("postgresql") else "SQLite"

    def done(step: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {store_name} {step}: {res[step]}", file=sys.stderr, flush=True)
    with Store(database) as store:
        t, run, results = time.perf_counter(), ImportRun(store, cfg), []
        for kind, path in folder_files(Path(data)):        # govwatch import all FOLDER, each file timed
            begin = time.perf_counter()
            results.append(import_file(store, cfg, kind, path, run=run))
            if kind == "cases":
                res["import_cases"] = (time.perf_counter() - begin, results[-1].inserted + results[-1].updated,
                                       results[-1].rejected)
                done("import_cases")
        res["import"] = (time.perf_counter() - t, sum(r.inserted + r.updated for r in results),
                         next(r.inserted + r.updated for r in results if r.kind == "cases"))
        done("import")
        res["size_mb"] = store.size_bytes() / 2**20
        if only and set(only) <= {"import"}:
            res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return res
        t = time.perf_counter()
        r = run_scan(store, cfg, book, datetime.fromisoformat(NOW), full=True)
        res["full_rescan"] = (time.perf_counter() - t, r.evaluated, r.opened)
        store.checkpoint()                 # as `govwatch scan` does after reporting
        done("full_rescan")
        t = time.perf_counter()
        r = run_scan(store, cfg, book, datetime.fromisoformat(DAILY))
        res["daily_scan"] = (time.perf_counter() - t, r.evaluated, r.opened)
        store.checkpoint()
        done("daily_scan")
        t = time.perf_counter()
        values = compute(store, cfg, book, Period.parse(PERIOD), now=datetime.fromisoformat(NOW))
        res["p1_p9"] = (time.perf_counter() - t, len(values), 0)
        done("p1_p9")
        t = time.perf_counter()
        build_report(store, cfg, book, "monthly", PERIOD, now=datetime.fromisoformat(NOW), out_dir=out,
                     formats=("html",))
        res["bulletin"] = (time.perf_counter() - t, 0, 0)
        done("bulletin")
        res["size_mb"] = store.size_bytes() / 2**20
        done("size_mb")
    res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def bare_copy(url: str, cases_csv: Path) -> tuple[float, int]:
    """COPY of the cases CSV into a table of text columns: no validation, no upsert."""
    import psycopg
    header = cases_csv.open(encoding="utf-8-sig").readline().strip().split(",")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE bare (" + ", ".join(f'"{h}" text' for h in header) + ")")
        t = time.perf_counter()
        with conn.cursor().copy("COPY bare FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                cases_csv.open("rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - t
        return seconds, conn.execute("SELECT count(*) FROM bare").fetchone()[0]


def bare_load(url: str, cases_csv: Path) -> tuple[float, int]:
    """The floor govwatch's schema and its import's atomicity impose, with zero validation: into the
    cases table of a fresh schema migrated by govwatch, in one transaction as a big import runs, the CSV
    by COPY into a temporary table of text columns, its months' partitions made, the secondary indexes
    dropped (the dialect's own list, as the import drops them), one INSERT … SELECT with plain casts
    (change number 1, no deadline), the indexes built again, the key table's rows, then ANALYZE
    (the import's bulk session). `url`: a fresh, empty schema."""
    from checker.ingest.records import KINDS
    from checker.store import Store
    from checker.store.dialect import KEYED, MONTHLY, key_columns
    header = cases_csv.open(encoding="utf-8-sig").readline().strip().split(",")
    types = {f.name: f.type for f in KINDS["cases"].fields}
    cols = ", ".join(f'"{h}"' for h in header)
    cast = ", ".join(f'CAST("{h}" AS BIGINT)' if types[h] in ("int", "bool") else f'"{h}"' for h in header)
    key, org, at = key_columns("cases")
    with Store(url) as store:
        conn, dialect, raw = store.conn, store.dialect, store.conn.raw
        t = time.perf_counter()
        with store.bulk_writes():
            raw.execute("CREATE TEMP TABLE _bare (" + ", ".join(f'"{h}" text' for h in header) + ")")
            with raw.cursor().copy(f"COPY _bare ({cols}) FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                    cases_csv.open("rb") as f:
                while block := f.read(1 << 20):
                    copy.write(block)
            dialect.ensure_partitions(conn, "cases", [r[0] for r in raw.execute(
                f'SELECT DISTINCT substr("{MONTHLY["cases"]}", 1, 7) FROM _bare')])
            indexes = dialect.deferred_indexes(conn, "cases") or []
            for name, _ in indexes:
                raw.execute(f'DROP INDEX "{name}"')
            raw.execute(f'INSERT INTO cases ({cols}, _seq) SELECT {cast}, 1 FROM _bare')
            dialect.build_indexes(conn, [sql for _, sql in indexes])
            raw.execute(f'INSERT INTO "{KEYED["cases"]}" ("{key}", "{org}", "{at}") SELECT "{key}", "{org}", "{at}" FROM _bare')
            conn.bulk_loaded.update(("cases", KEYED["cases"]))       # analysed as the import's are
        seconds = time.perf_counter() - t
        return seconds, int(store.scalar("SELECT count(*) FROM cases"))


def bare_sqlite(work: Path, cases_csv: Path) -> tuple[float, int]:
    """The SQLite baseline: the cases CSV read with `csv` and executemany'd raw into the cases table
    of a fresh store (bench/steps.py `import_bare`)."""
    import csv
    import sqlite3

    from checker.store import Store
    db = work / "bare.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    Store(str(db)).close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    t = time.perf_counter()
    with cases_csv.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        header = [*next(rows), "_seq"]          # with a change number, as the import's rows (import_bare)
        conn.execute("BEGIN")
        conn.executemany(f'INSERT INTO cases ({", ".join(header)}) VALUES ({", ".join("?" * len(header))})',
                         ([*r, 1] for r in rows))
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t
    count = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    conn.close()
    for suffix in ("", "-wal", "-shm"):         # several GB at 10M: measured, not kept
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return seconds, count


def main(url: str, cases: int, packs, out: Path | None = None, only=()) -> int:
    import psycopg
    from datetime import datetime

    from checker.tools.sample import write_sample
    work = Path(out or tempfile.mkdtemp(prefix="govwatch-bench-stores-"))
    data = work / "data"
    if not (data / "cases.csv").exists():
        write_sample(data, datetime.fromisoformat(NOW), cases=cases, seed=1)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    pg = schema_url(url, schema)
    results: dict = {}
    bare: tuple | None = None
    loaded: tuple | None = None
    bare_lite: tuple | None = None

    def save() -> None:                         # after each store and baseline: a later failure keeps them
        (work / "stores.json").write_text(json.dumps({"cases": cases, "results": results, "bare_copy": bare,
                                                      "bare_load": loaded, "bare_sqlite": bare_lite}), "utf-8")
    try:
        for name, database in (("SQLite", str(work / "bench.db")), ("PostgreSQL", pg)):
            Path(work / "bench.db").unlink(missing_ok=True)
            proc = subprocess.run([sys.executable, "-c", "import json, sys; from bench.stores import run_store; "
                                   "print(json.dumps(run_store(*json.loads(sys.argv[1]))))",
                                   json.dumps([database, str(data), str(work / "out"), packs, list(only)])],
                                  stdout=subprocess.PIPE, text=True, check=True)    # stderr: each step as it ends
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
            save()
        bare = bare_copy(pg, data / "cases.csv")
        print(f"{time.strftime('%H:%M:%S')} bare COPY: {bare}", file=sys.stderr, flush=True)
        save()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}_load"')
        loaded = bare_load(schema_url(url, f"{schema}_load"), data / "cases.csv")
        print(f"{time.strftime('%H:%M:%S')} bare load: {loaded}", file=sys.stderr, flush=True)
        save()
        bare_lite = bare_sqlite(work, data / "cases.csv")
        print(f"{time.strftime('%H:%M:%S')} bare sqlite: {bare_lite}", file=sys.stderr, flush=True)
        save()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}_load" CASCADE')
    assert bare is not None
    print(render(results, bare, cases, bare_lite, loaded))
    return 0


def render(results: dict, bare: tuple, cases: int, bare_lite: tuple | None = None, loaded: tuple | None = None) -> str:
    lines = [f"{cases:,} cases            | {'SQLite':>22} | {'PostgreSQL':>22}", "-" * 74]
    for step, label in (("import", "import (all kinds)"), ("import_cases", "import cases.csv"),
                        ("full_rescan", "full rescan"),
                        ("daily_scan", "daily scan (next day)"), ("p1_p9", "P1–P9, one month"),
                        ("bulletin", "monthly bulletin")):
        if step not in results["SQLite"]:
            continue
        cells = []
        for name in ("SQLite", "PostgreSQL"):
            seconds, n, extra = results[name][step]
            rate = f"{results[name]['import'][2] / seconds:,.0f} cases/s" if step.startswith("import") else \
                (f"{n / seconds:,.0f} rec/s" if step in ("full_rescan", "daily_scan") and seconds else "")
            cells.append(f"{seconds:7.2f} s {rate:>12}")
        lines.append(f"{label:<22} | {cells[0]:>22} | {cells[1]:>22}")
    lines.append(f"{'govwatch peak memory':<22} | {results['SQLite']['peak_mb']:>19.0f} MB | "
                 f"{results['PostgreSQL']['peak_mb']:>19.0f} MB")
    lines.append(f"{'database size':<22} | {results['SQLite']['size_mb']:>19.0f} MB | "
                 f"{results['PostgreSQL']['size_mb']:>19.0f} MB")
    lines.append(f"baseline: bare COPY of cases.csv into text columns: {bare[0]:.2f} s, "
                 f"{bare[1] / bare[0]:,.0f} rows/s")
    if loaded:
        ours = results["PostgreSQL"].get("import_cases")
        ratio = f"; govwatch's import of cases.csv {ours[0] / loaded[0]:.2f}× its time" if ours else ""
        lines.append(f"baseline: bare load of cases.csv into govwatch's schema (one transaction, no validation): "
                     f"{loaded[0]:.2f} s, {loaded[1] / loaded[0]:,.0f} rows/s{ratio}")
    if bare_lite:
        lines.append(f"baseline: cases.csv by csv + executemany into SQLite's cases table: {bare_lite[0]:.2f} s, "
                     f"{bare_lite[1] / bare_lite[0]:,.0f} rows/s")
    return "\n".join(lines)
