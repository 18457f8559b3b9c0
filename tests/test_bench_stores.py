"""`python -m bench --store postgresql://…` (bench/stores.py) on a tiny sample: both stores run every
step, each step is reported as it ends, and OUT/stores.json holds what was measured so far."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))      # bench/ is not an installed package

from bench import stores  # noqa: E402


def test_both_stores_run_every_step_and_each_result_is_saved(pg_url, tmp_path, capfd):
    assert stores.main(pg_url, 300, ("db33",), tmp_path) == 0
    saved = json.loads((tmp_path / "stores.json").read_text(encoding="utf-8"))
    assert saved["cases"] == 300 and saved["bare_copy"][1] == 300 and saved["bare_sqlite"][1] == 300
    for name in ("SQLite", "PostgreSQL"):
        res = saved["results"][name]
        assert res["import_cases"][1:] == [300, 0]
        assert {"full_rescan", "daily_scan", "p1_p9", "bulletin", "size_mb", "peak_mb"} <= set(res)
    err = capfd.readouterr().err
    for step in ("import_cases", "import", "full_rescan", "daily_scan", "p1_p9", "bulletin"):
        assert f"SQLite {step}: " in err and f"PostgreSQL {step}: " in err
    assert "bare COPY: " in err and "bare sqlite: " in err
    assert not list(tmp_path.glob("*.db*"))                  # neither store nor baseline file is left behind
    # the sample already in OUT/data is used as it is: a second import-only run reads the same cases
    before = (tmp_path / "data" / "cases.csv").stat().st_mtime_ns
    assert stores.main(pg_url, 300, ("db33",), tmp_path, ("import",)) == 0
    assert (tmp_path / "data" / "cases.csv").stat().st_mtime_ns == before
