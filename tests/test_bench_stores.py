"""`python -m bench --store postgresql://…` (bench/stores.py) on a tiny sample: both stores run every
step, each step is reported as it ends, and OUT/stores.json holds what was measured so far."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import psycopg

from checker.store import Store
from checker.tools.sample import write_sample

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))      # bench/ is not an installed package

from bench import stores  # noqa: E402


def _bench_schemas(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'")}


def test_both_stores_run_every_step_and_each_result_is_saved(pg_url, tmp_path, capfd):
    schemas = _bench_schemas(pg_url)
    assert stores.main(pg_url, 300, ("db33",), tmp_path) == 0
    saved = json.loads((tmp_path / "stores.json").read_text(encoding="utf-8"))
    assert saved["cases"] == 300 and saved["bare_copy"][1] == 300 and saved["bare_sqlite"][1] == 300
    assert saved["bare_load"][1] == 300          # the bare load into govwatch's schema: every row in its table
    for name in ("SQLite", "PostgreSQL"):
        res = saved["results"][name]
        assert res["import_cases"][1:] == [300, 0]
        assert {"full_rescan", "daily_scan", "p1_p9", "bulletin", "size_mb", "peak_mb"} <= set(res)
    out, err = capfd.readouterr()
    assert "bare load of cases.csv into govwatch's schema" in out and "govwatch's import of cases.csv" in out
    for step in ("import_cases", "import", "full_rescan", "daily_scan", "p1_p9", "bulletin"):
        assert f"SQLite {step}: " in err and f"PostgreSQL {step}: " in err
    assert "bare COPY: " in err and "bare load: " in err and "bare sqlite: " in err
    assert not list(tmp_path.glob("*.db*"))                  # neither store nor baseline file is left behind
    assert _bench_schemas(pg_url) == schemas                 # nor a schema of the run (the bare load's too)
    # the sample already in OUT/data is used as it is: a second import-only run reads the same cases
    before = (tmp_path / "data" / "cases.csv").stat().st_mtime_ns
    assert stores.main(pg_url, 300, ("db33",), tmp_path, ("import",)) == 0
    assert (tmp_path / "data" / "cases.csv").stat().st_mtime_ns == before


def test_the_bare_load_leaves_the_schema_as_the_import_does(pg_url, tmp_path):
    """The bare load into govwatch's schema drops the cases' secondary indexes and builds them again
    (the dialect's own list) and writes the key rows: the table is as an import leaves it, without the
    checks and the deadlines."""
    write_sample(tmp_path, datetime.fromisoformat(stores.NOW), cases=200, seed=1)
    schema = "bare_load_test"        # not bench_…: the other test counts those
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = stores.schema_url(pg_url, schema)
    index_sql = ("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                 "WHERE indrelid = 'cases'::regclass ORDER BY 1")
    try:
        with Store(url) as store:
            before = store.conn.raw.execute(index_sql).fetchall()
        seconds, rows = stores.bare_load(url, tmp_path / "cases.csv")
        assert rows == 200 and seconds > 0
        with Store(url) as store:
            assert store.conn.raw.execute(index_sql).fetchall() == before
            assert store.scalar("SELECT count(*) FROM case_keys") == 200
            assert store.scalar("SELECT count(*) FROM cases WHERE _seq = 1 AND due_at IS NULL") == 200
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
