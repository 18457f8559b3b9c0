"""Delivering digests through the real bot stack to the fake Bot API server (tests/fakebotapi.py).

`recipients` officers with a Telegram chat each get one digest (one pending outbox row each). The
real `bot.app.build_application` (python-telegram-bot with AIORateLimiter at the configured rate)
and `checker.notify.deliver_pending` send them over HTTP to the fake server on 127.0.0.1. With
`fail_every` = 5, every fifth send fails (alternately 429 with a small retry_after, and 500): the
step delivers again (the clock moved past the retry back-off) until nothing is pending, then
counts what each chat received: every digest exactly once, none lost.
"""
from __future__ import annotations

import asyncio
import csv
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from .worker import step, timed

ROOT = Path(__file__).resolve().parent.parent
CHAT0 = 700_000_000
ORG = "330000"
RETRY_AFTER = 0.05            # seconds: a small 429 retry_after, so the run stays short
MAX_ROUNDS = 50


def fake_api(fail_every: int):
    """A FakeBotAPI whose every `fail_every`-th sendMessage fails (429 and 500 in turn)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakebotapi import FakeBotAPI

    class FlakyAPI(FakeBotAPI):
        sends = 0

        def handle(self, method, params):
            if method == "sendMessage":
                with self.lock:
                    self.sends += 1
                    n = self.sends
                if fail_every and n % fail_every == 0:
                    self.fail(1, 429 if (n // fail_every) % 2 else 500, retry_after=RETRY_AFTER)
            return super().handle(method, params)
    return FlakyAPI()


def write_people(folder: Path, recipients: int) -> None:
    """One org, its supervisor and `recipients` officers, each with a Telegram chat."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "orgs.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("code", "name", "level"), (ORG, "浙江省", "province")])
    with open(folder / "officers.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(("id", "name", "org", "role", "telegram_id"))
        w.writerow(("S0001", "督查员", ORG, "supervisor", CHAT0))
        w.writerows((f"E{i:05d}", f"窗口人员{i}", ORG, "officer", CHAT0 + i) for i in range(1, recipients + 1))


def outbox_rows(recipients: int, now: str) -> list[dict]:
    """One new-finding digest per officer, shaped as checker.notify.route writes them."""
    return [{"dedup_key": f"bench:{i}", "finding_id": None, "recipient": f"E{i:05d}", "kind": "new",
             "severity": "yellow", "created_at": now,
             "payload": {"rule": "db33.case.near_due", "title": "办件临近承诺时限", "clause": "5.2.1.5",
                         "standard": "DB33/T 2036.7", "subject": f"BJ{i:08d}", "org": ORG, "severity": "yellow",
                         "message": f"办件 BJ{i:08d}（企业设立登记）距承诺办结时间仅剩 1 个工作日，请抓紧办理。",
                         "due_at": "2026-10-16T23:59:59+08:00", "assignee": f"E{i:05d}", "finding_id": i}}
            for i in range(1, recipients + 1)]


def _config(db, base_url: str, rate: float):
    from checker import config
    return config.load(None, database=str(db), telegram={
        "base_url": base_url, "quiet_hours": {"start": "00:00", "end": "00:00"},
        "rate_limit": {"overall_per_second": rate, "per_chat_per_minute": 60, "max_retries": 3}})


def prepare(p: dict):
    from checker.ingest import ImportRun, import_file
    from checker.store import Store
    folder = Path(p["work"])
    write_people(folder, p["recipients"])
    db = folder / "delivery.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    cfg = _config(db, "http://127.0.0.1:9/bot", p["rate"])
    with Store(db) as store:
        run = ImportRun(store, cfg)
        for kind in ("orgs", "officers"):
            import_file(store, cfg, kind, folder / f"{kind}.csv", rejects_dir=folder, run=run)
        store.enqueue(outbox_rows(p["recipients"], p["now"]))
    return db


async def _deliver_all(app, now: datetime) -> tuple[int, int]:
    """Deliver until nothing is pending; each round a little later (past any retry back-off)."""
    from bot.app import deliver
    sent = rounds = 0
    while rounds < MAX_ROUNDS:
        r = await deliver(app, now + timedelta(hours=rounds))
        sent, rounds = sent + r.sent, rounds + 1
        if r.retried == 0 and r.sent == 0:
            break
    return sent, rounds


async def _run(p: dict, db, server) -> dict:
    from bot.app import build_application, start, stop
    cfg = _config(db, server.base_url, p["rate"])
    app = build_application(cfg, store_path=db, rules=_NoRules())
    await start(app)
    try:
        with timed() as t:
            sent, rounds = await _deliver_all(app, datetime.fromisoformat(p["now"]))
        statuses = app.bot_data["store"].outbox()
    finally:
        await stop(app)
    return {"seconds": t.seconds, "sent": sent, "rounds": rounds,
            "not_sent": sum(1 for r in statuses if r["status"] != "sent")}


class _NoRules:
    """The bot's rule holder; delivering needs no rules."""
    rulebook = None


@step("deliver")
def deliver(p: dict) -> dict:
    os.environ.setdefault("GOVWATCH_TELEGRAM_TOKEN", "123456:BENCH-TOKEN")
    db = prepare(p)
    sys.path.insert(0, str(ROOT / "tests"))
    from fakebotapi import FakeServer
    api = fake_api(p.get("fail_every", 0))
    with FakeServer(api) as server:
        out = asyncio.run(_run(p, db, server))
    received = [len(api.messages.get(CHAT0 + i, [])) for i in range(1, p["recipients"] + 1)]
    return {**out, "count": sum(received), "lost": received.count(0),
            "duplicated": sum(1 for n in received if n > 1), "requests": api.sends,
            "failed_requests": api.sends // p["fail_every"] if p.get("fail_every") else 0}
