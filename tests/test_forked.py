"""checker.forked: half of a job in a forked child, with the same result as one process, and the
parent computing that half itself when the child fails or hangs."""
from __future__ import annotations

import os
import time
from datetime import datetime

import pytest

from checker import forked
from checker.ingest import import_dir
from checker.rules import load_configured
from checker.sample import write_sample
from checker.scan import evaluate

pytestmark = pytest.mark.skipif(not forked.available(), reason="needs fork() and two CPUs")


def tagged(part):
    return [(os.getpid(), x * 2) for x in part]


def test_the_second_half_is_computed_in_a_child_and_the_result_is_in_order():
    out = forked.halves(tagged, list(range(101)), min_items=2)
    assert [x for _, x in out] == [x * 2 for x in range(101)]
    assert {pid for pid, _ in out[:50]} == {os.getpid()} and os.getpid() not in {pid for pid, _ in out[50:]}


def test_small_jobs_stay_in_this_process():
    assert {pid for pid, _ in forked.halves(tagged, list(range(10)), min_items=11)} == {os.getpid()}


def test_a_failing_child_is_recomputed_here(caplog):
    parent = os.getpid()

    def fails_in_child(part):
        if os.getpid() != parent:
            raise RuntimeError("boom")
        return [x + 1 for x in part]
    assert forked.halves(fails_in_child, list(range(20)), min_items=2) == [x + 1 for x in range(20)]
    assert "computing it in this process" in caplog.text


def test_a_hanging_child_is_killed_and_recomputed_here():
    parent = os.getpid()

    def hangs_in_child(part):
        if os.getpid() != parent:
            time.sleep(60)
        return list(part)
    start = time.monotonic()
    assert forked.halves(hangs_in_child, list(range(20)), min_items=2, timeout=0.5) == list(range(20))
    assert time.monotonic() - start < 30


def test_encode_and_decode_wrap_only_the_childs_half():
    out = forked.halves(lambda part: [str(x) for x in part], list(range(6)), min_items=2,
                        encode=lambda xs: ",".join(xs), decode=lambda text: text.split(","))
    assert out == [str(x) for x in range(6)]


def test_a_scan_split_with_a_child_finds_exactly_what_one_process_finds(store, cfg, tmp_path, monkeypatch):
    now = datetime(2026, 10, 14, 9, tzinfo=cfg.tz)
    write_sample(tmp_path / "s", now, cases=600, seed=11, tz=cfg.tz)
    import_dir(store, cfg, tmp_path / "s", rejects_dir=tmp_path / "rejects")
    rulebook = load_configured(cfg)

    def findings():
        return sorted((f.rule.id, f.subject, f.message, f.due_at, f.handler, tuple(sorted(f.facts.items())))
                      for f in evaluate(store, cfg, rulebook, now).firings)
    alone = findings()
    monkeypatch.setattr(forked, "MIN_ITEMS", 2)
    pids = []
    real_start = forked._start
    monkeypatch.setattr(forked, "_start", lambda fn, part: pids.append(1) or real_start(fn, part))
    assert findings() == alone and len(alone) > 50
    assert pids                                    # the split really happened


def test_a_child_evaluates_even_while_another_thread_holds_the_engine(tmp_path):
    import threading

    from checker.engine import Engine
    from test_engine import book

    engine = Engine.instance()
    engine.load(book(tmp_path))
    held, release = threading.Event(), threading.Event()

    def hold():
        with engine._lock:
            held.set()
            release.wait(30)
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        parent = os.getpid()

        def matched(part):
            if os.getpid() == parent:          # this half waits for the lock like any caller would
                return [None] * len(part)
            return [(os.getpid(), i) for _, i in engine.evaluate(["t.case.near"], list(part))]
        events = [{"status": "accepted", "wd_left": 0, "case_no": f"C{i}"} for i in range(4)]
        out = forked.halves(matched, events, min_items=2, timeout=10)
    finally:
        release.set()
        holder.join()
    assert [i for pid, i in out[2:]] == [0, 1] and all(pid != parent for pid, _ in out[2:])
