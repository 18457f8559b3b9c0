"""Property: whatever rows a file holds, the importer never raises, every row is either stored or
rejected with a reason, and a scan afterwards completes (issue 12, "what the trusted systems do")."""
from __future__ import annotations

import csv
import json
import tempfile
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import config as config_mod
from checker import ingest
from checker.evaluate.scan import run_scan
from checker.ingest.coerce import compact
from checker.ingest.records import KINDS
from checker.rules import load_configured
from checker.store import Store

NOW = datetime.fromisoformat("2026-10-14T09:00:00+08:00")
BASE = {"orgs": [{"code": "500100", "name": "重庆市", "level": "city"},
                 {"code": "500103", "name": "渝中区", "parent": "500100", "level": "district"}],
        "officers": [{"id": "W1", "name": "陈一", "org": "500103", "role": "officer"}],
        "items": [{"code": "K1", "name": "许可", "org": "500103", "promised_days": 5, "statutory_days": 20}]}

HOSTILE_TEXT = st.sampled_from([
    "", " ", "9999-12-30 23:00", "0001-01-01", "2026-02-29", "2026-10-09 09:00", "2026-10-09T25:00",
    "1e309", "nan", "-0", "10" * 30, "=cmd|' /C calc'!A0", "@SUM(1)", "是", "closed", "window",
    "K1", "500103", "W1", "\x00", "\ufeff", "解绑", "2099-12-31T23:59:59-12:00", "3651", "1000",
])
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), HOSTILE_TEXT)
VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=2), st.dictionaries(st.text(max_size=3), SCALAR, max_size=2))


def rows_of(kind: str):
    names = [f.name for f in KINDS[kind].fields]
    return st.lists(st.dictionaries(st.sampled_from(names + ["junk"]), VALUE, max_size=len(names)),
                    min_size=1, max_size=12)


def blank(kind: str, row) -> bool:
    aliases = KINDS[kind].aliases()
    return not compact({k: v for k, v in row.items() if k in aliases})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=rows_of("items"), cases=rows_of("cases"), as_jsonl=st.booleans())
def test_hostile_rows_are_stored_or_rejected_and_the_scan_completes(items, cases, as_jsonl):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = config_mod.load(None, database=str(tmp / "p.db"))
        with Store(cfg.database) as store:
            run = ingest.ImportRun(store, cfg, now=NOW)
            for kind, rows in (*BASE.items(), ("items", items), ("cases", cases)):
                path = tmp / f"{kind}-{len(rows)}.{'jsonl' if as_jsonl else 'json'}"
                text = ("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) if as_jsonl
                        else json.dumps(rows, ensure_ascii=False))
                path.write_text(text, encoding="utf-8")
                result = ingest.import_file(store, cfg, kind, path, rejects_dir=tmp / "rej", run=run)
                expected = sum(not blank(kind, r) for r in rows if isinstance(r, dict))
                assert result.inserted + result.updated + result.rejected == expected, result
                if result.rejects_file:
                    rejected = list(csv.reader(open(result.rejects_file, encoding="utf-8-sig")))[1:]
                    assert len(rejected) == result.rejected
                    assert all(r[0].isdigit() and r[2].strip() for r in rejected), rejected
            scan = run_scan(store, cfg, load_configured(cfg), NOW, full=True)
            assert scan.scan_id
