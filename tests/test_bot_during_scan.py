"""The bot answers while a scan runs: the scan evaluates outside any write transaction (only its
reconcile takes the write lock, briefly) and the bot's SQLite work runs off the event loop.

A full scan over a few thousand seeded records runs in a thread with the reference engine; it is
held inside its evaluation (where it used to hold the write lock) until the bot has answered
/status and recorded an acknowledgement, so "before the scan ends" is checked without timing."""
from __future__ import annotations

import threading

import pytest

from checker.evaluate import scan as scan_mod
from checker.rules import load_packs
from checker.evaluate.scan import run_scan
from checker.store import Store

from botworld import DAY
from test_bot import ADMIN, OFFICER, bot  # noqa: F401  (the fixture)
from test_engines_agree import PACKS, _load, seeded_records


@pytest.fixture
def busy_store(bot, tmp_path):  # noqa: F811
    records = seeded_records(3, 3000)
    records.pop("orgs")
    for rows in records.values():                    # the bot world's orgs
        for r in rows:
            if r.get("org") in ("H1", "H2"):
                r["org"] = "330102001"
            if r.get("hall") in ("H1", "H2"):
                r["hall"] = None
    (tmp_path / "seed").mkdir()
    _load(bot.store, bot.cfg, records, tmp_path / "seed")
    return bot


def test_status_and_an_ack_are_answered_while_a_scan_is_running(busy_store, tmp_path, monkeypatch):
    bot = busy_store
    inside, release = threading.Event(), threading.Event()
    real = scan_mod._durable_subjects

    def held(ctx, kind, rules, selection):
        out = real(ctx, kind, rules, selection)
        inside.set()
        release.wait(60)
        return out
    monkeypatch.setattr(scan_mod, "_durable_subjects", held)
    book = load_packs(PACKS)
    done: dict = {}

    def scan():
        with Store(bot.cfg.database) as store:
            done["result"] = run_scan(store, bot.cfg, book, DAY, full=True, engine="durable")
    worker = threading.Thread(target=scan)
    worker.start()
    try:
        assert inside.wait(120)
        status = bot.send(ADMIN, "/status")
        assert status and "共" in status[0]
        said = bot.press(OFFICER, f"ack:{bot.ids['C001']}")
        assert any("已确认收到" in s for s in said)
        assert worker.is_alive() and "result" not in done        # answered before the scan ended
    finally:
        release.set()
        worker.join(120)
    assert done["result"].evaluated >= 3000 and done["result"].opened > 0
