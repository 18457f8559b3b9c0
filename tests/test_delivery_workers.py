"""Several delivery workers on one outbox, each its own process (or thread) and connection, on both
stores: every message is delivered, none is lost, and none twice, also when one worker is killed in
the middle of a send. A claim is a lease (channels.claim_timeout_seconds): a worker that stalls
past it loses its rows to another worker, which sends them again: the one duplicate the lease
permits, visible in the fake channel's log and in the stalled worker's `claims_lost`.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.notifiers.console import PlainFormatter
from checker import config as config_mod
from checker import notify
from checker.store import Store

from botworld import DAY, wait_for

pytestmark = pytest.mark.both_stores

RECIPIENTS = 12


class LogChannel:
    """A channel whose every delivery is a line "<row id> <worker>" in a shared file (one write each,
    O_APPEND), so a row delivered twice shows twice. `hang`: the first send writes its row ids to
    that file and then blocks (a worker stalled or about to be killed mid-send, nothing delivered)."""
    channel = "console"
    formatter = PlainFormatter()

    def __init__(self, log: Path, name: str, hang: Path | None = None, stall: threading.Event | None = None):
        self.log, self.name, self.hang, self.stall = log, name, hang, stall
        self.sends = 0

    def address(self, officer: dict):
        return officer.get("id")

    async def send(self, message) -> str:
        self.sends += 1
        if self.sends == 1 and self.hang is not None:
            self.hang.write_text(" ".join(map(str, message.ids)), encoding="utf-8")
            if self.stall is None:
                time.sleep(3600)             # killed here
            else:
                self.stall.wait(60)          # released by the test: the send then completes
        with open(self.log, "a", encoding="utf-8") as f:
            f.write("".join(f"{i} {self.name}\n" for i in message.ids))
        return f"{self.name}:{self.sends}"


def deliveries(log: Path) -> Counter:
    if not log.exists():
        return Counter()
    return Counter(int(line.split()[0]) for line in log.read_text(encoding="utf-8").splitlines())



def enqueue(store, n: int) -> list[int]:
    store.enqueue([{"dedup_key": f"notice:{i}", "finding_id": None, "recipient": f"R{i % RECIPIENTS:02}",
                    "kind": "notice", "severity": None, "created_at": DAY.isoformat(),
                    "payload": {"text": f"通知 {i}"}} for i in range(n)])
    return [r["id"] for r in store.outbox()]


def unfinished(store) -> int:
    return len(store.outbox("pending")) + len(store.outbox("sending"))


def _worker(database: str, name: str, log: str, hang: str | None) -> None:
    """A delivery worker process: deliver until nothing is left to send (or a minute passes)."""
    cfg = config_mod.load(None, database=database)
    store = Store(database)
    channel = LogChannel(Path(log), name, Path(hang) if hang else None)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        asyncio.run(notify.deliver_pending(store, cfg, channel, DAY))
        if not unfinished(store):
            break
        time.sleep(0.02)
    store.close()
    os._exit(0)


def test_workers_deliver_every_message_once_when_one_is_killed_mid_send(cfg, store, tmp_path):
    ids = enqueue(store, 48)
    log, hang = tmp_path / "deliveries.log", tmp_path / "hang"
    fork = multiprocessing.get_context("fork")
    victim = fork.Process(target=_worker, args=(cfg.database, "victim", str(log), str(hang)))
    victim.start()
    wait_for(lambda: hang.exists() and hang.read_text(encoding="utf-8").strip(), "the victim in the middle of its first send")
    held = [int(i) for i in hang.read_text(encoding="utf-8").split()]
    assert {r["id"]: r["status"] for r in store.outbox()}[held[0]] == "sending"
    workers = [fork.Process(target=_worker, args=(cfg.database, f"w{n}", str(log), None)) for n in range(2)]
    for w in workers:
        w.start()
    wait_for(lambda: len(deliveries(log)) >= 6, "the other workers delivering")
    victim.kill()                             # SIGKILL in the middle of a send: its claim stays behind
    victim.join(10)
    for w in workers:
        w.join(90)
        assert w.exitcode == 0
    counts = deliveries(log)
    assert sorted(counts) == ids                        # none lost …
    assert set(counts.values()) == {1}                   # … none twice
    rows = {r["id"]: r for r in store.outbox()}
    assert {r["status"] for r in rows.values()} == {"sent"}
    assert all(not rows[i]["message_ref"].startswith("victim") for i in held)   # taken over from the dead
    lines = log.read_text(encoding="utf-8").split()
    assert "victim" not in lines and {"w0", "w1"} & set(lines)


def test_a_live_workers_claim_is_not_taken_before_its_lease_lapses(cfg, store):
    ids = enqueue(store, 3)
    with Store(cfg.database) as other:
        assert store.claim_outbox(ids[:1]) == ids[:1]
        assert other.reap_claims(cfg.channels.claim_timeout_seconds) == 0
        assert other.claim_outbox(ids) == ids[1:]        # the held row is not claimable by another
        assert other.reap_claims(cfg.channels.claim_timeout_seconds) == 0
        assert store.mark_sent(ids[:1], "a:1", DAY.isoformat()) == 1
        assert other.mark_sent(ids[:1], "b:1", DAY.isoformat()) == 0        # never another's row
        assert store.outbox("sent")[0]["message_ref"] == "a:1"


def test_a_lapsed_claim_not_yet_taken_over_is_still_recorded_by_its_worker(cfg, store):
    ids = enqueue(store, 1)
    with Store(cfg.database) as other:
        store.claim_outbox(ids)
        store.conn.execute("UPDATE outbox SET claimed_at = claimed_at - 3600")     # a stall past the lease
        assert other.reap_claims(cfg.channels.claim_timeout_seconds) == 1
        assert store.outbox()[0]["status"] == "pending"
        assert store.mark_sent(ids, "a:1", DAY.isoformat()) == 1        # the send completed: sent once
        assert other.claim_outbox(ids) == []


def test_a_worker_stalled_past_its_lease_loses_the_rows_and_another_sends_them(cfg, store, tmp_path):
    """The at-least-once window: a send that outlasts the lease is repeated by another worker."""
    ids = enqueue(store, 1)
    log, hang, release = tmp_path / "deliveries.log", tmp_path / "hang", threading.Event()
    stalled = LogChannel(log, "a", hang, release)
    outcome: list = []

    def worker_a():
        with Store(cfg.database) as mine:
            outcome.append(asyncio.run(notify.deliver_pending(mine, cfg, stalled, DAY)))

    a = threading.Thread(target=worker_a)
    a.start()
    try:
        wait_for(hang.exists, "worker a in the middle of its send")
        with Store(cfg.database) as b:
            assert asyncio.run(notify.deliver_pending(b, cfg, LogChannel(log, "b"), DAY)).sent == 0   # a's lease holds
            b.conn.execute("UPDATE outbox SET claimed_at = claimed_at - 3600")             # a stalls past it
            taken = asyncio.run(notify.deliver_pending(b, cfg, LogChannel(log, "b"), DAY))
            assert (taken.reclaimed, taken.sent) == (1, 1)
    finally:
        release.set()
        a.join(30)
    assert outcome[0].sent == 1 and outcome[0].claims_lost == 1           # a's send went out, its record did not
    assert deliveries(log) == Counter({ids[0]: 2})                          # the one duplicate the lease permits
    row = store.outbox()[0]
    assert row["status"] == "sent" and row["message_ref"] == "b:1"
