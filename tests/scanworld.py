"""Changes to a seeded city's data, shared by the scan tests (tests/test_incremental_scan.py,
tests/test_citus_schema.py, …): records imported through the real importer, findings moved by
people, a batch of touched records to re-import."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from checker.ingest import ImportRun, import_file


def load(store, cfg, records: dict, tmp_path, run=None) -> None:
    """Import `records` (kind → rows) as JSON files through the real importer; no row may be rejected."""
    run = run or ImportRun(store, cfg)
    for kind, rows in records.items():
        path = tmp_path / f"{kind}-{store.current_seq()}-{random.random()}.json"
        path.write_text(json.dumps([{k: v for k, v in r.items() if v is not None} for r in rows],
                                   ensure_ascii=False), encoding="utf-8")
        result = import_file(store, cfg, kind, path, rejects_dir=tmp_path / "rejects", run=run)
        assert result.rejected == 0


def active(store) -> set[str]:
    """The fingerprints of the active findings."""
    return {r["fingerprint"] for r in store.rows(
        "SELECT fingerprint FROM findings WHERE status IN ('open', 'acknowledged', 'submitted', 'rejected')")}


def people(rng: random.Random, stores, now: datetime) -> None:
    """Findings moved by people: some verified (复查通过), some acknowledged, the same in both stores."""
    live = sorted(active(stores[0]) & active(stores[1]))
    for fp in rng.sample(live, min(len(live), rng.randint(1, 6))):
        status = rng.choice(["verified", "verified", "acknowledged"])
        for s in stores:
            fid = s.scalar("SELECT id FROM findings WHERE fingerprint = ?", (fp,))
            with s.transaction():
                extra = {"verified_at": now.isoformat(timespec="seconds"), "cleared_at": None} if status == "verified" else {}
                s.update_finding(fid, status, **extra)


def touch(rng: random.Random, records: dict, now: datetime) -> dict:
    """An import batch: some cases, consultations and appointments changed, some new."""
    out: dict[str, list] = {"cases": [], "consultations": [], "appointments": []}
    for c in rng.sample(records["cases"], 12):
        c = dict(c)
        c["status"] = rng.choice(["accepted", "processing", "closed", "suspended"])
        closed = max(now - timedelta(hours=rng.randint(1, 30)), datetime.fromisoformat(c["accepted_at"]) + timedelta(hours=1))
        c["closed_at"] = closed.isoformat() if c["status"] == "closed" else None
        out["cases"].append(c)
    for i in range(rng.randint(0, 4)):
        accepted = (now - timedelta(days=rng.randint(0, 12), hours=rng.randint(0, 8))).isoformat()
        out["cases"].append({"case_no": f"N{now:%m%d%H}{i}", "item_code": f"I{rng.randrange(12)}", "org": "H1",
                             "hall": rng.choice([None, "H2"]), "channel": "window", "accepted_at": accepted,
                             "status": "processing"})
    for q in rng.sample(records["consultations"], 4):
        answered = max(now, datetime.fromisoformat(q["received_at"]) + timedelta(hours=1)).isoformat()
        out["consultations"].append({**q, "answered_at": rng.choice([None, answered])})
    for a in rng.sample(records["appointments"], 4):
        out["appointments"].append({**a, "slot_at": (now + timedelta(hours=rng.randint(-20, 80))).isoformat(),
                                    "status": "booked", "reminded_at": None})
    return out
