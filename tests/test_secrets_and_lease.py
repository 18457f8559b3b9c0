"""Issue 12 items 3 and 9: no secret in any log line or traceback; one service per database."""
from __future__ import annotations

import io
import logging
import os
import socket
import sys
import time

import pytest

from checker import config as config_mod
from checker import redact
from checker.store import Store
from scheduler.lease import NAME, ServiceLease, ServiceRunning

TOKEN = "5550123:QwErTyUiOpAsDfGhJkLzXcVbNm-987654"


def test_every_log_line_and_traceback_is_redacted(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVWATCH_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("GOVWATCH_WEBHOOK_SECRET", "hook-secret-4711")
    cfg = config_mod.load(None, database=str(tmp_path / "x.db"), channels={"webhook": {"enabled": True,
                                                                                      "url": "http://127.0.0.1:9/h"}})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    redact.install(cfg, handlers=[handler])
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("GET https://api.telegram.org/bot%s/getMe", TOKEN)
        log.warning("signed with %s", "hook-secret-4711")
        try:
            raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
        except RuntimeError:
            log.exception("serve failed")
        log.warning("an unregistered token 1234567:AAbbCCddEEffGGhhIIjjKKllMMnn still looks like one")
        text = stream.getvalue()
        assert TOKEN not in text and TOKEN.split(":")[1] not in text and "hook-secret-4711" not in text
        assert "AAbbCCddEEffGGhhIIjjKKllMMnn" not in text and text.count("***") >= 4
        assert "Traceback" in text                              # the traceback is kept, only masked
        err = io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        try:
            raise ValueError(f"bot{TOKEN}/sendMessage")
        except ValueError:
            sys.excepthook(*sys.exc_info())
        assert TOKEN.split(":")[1] not in err.getvalue() and "ValueError" in err.getvalue()
    finally:
        log.removeHandler(handler)
        monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)


@pytest.mark.both_stores
def test_a_second_service_on_the_database_is_refused(database):
    db = database
    Store(db).close()
    first = ServiceLease(db, ttl=60, every=0.05).acquire()
    try:
        with pytest.raises(ServiceRunning, match="已有一个 govwatch serve 在运行") as exc:
            ServiceLease(db, ttl=60).acquire()
        assert exc.value.exit_code == 2 and str(os.getpid()) in str(exc.value)
        time.sleep(0.2)                                          # heartbeats went on
        with Store(db) as s:
            row = s.row("SELECT * FROM service_lease WHERE name = ?", (NAME,))
        assert row["heartbeat_at"] > row["acquired_at"]
    finally:
        first.release()
    ServiceLease(db).acquire().release()                       # released: the next one starts


@pytest.mark.both_stores
def test_a_crashed_services_lease_does_not_lock_the_next_one_out(database):
    db = database
    with Store(db) as s:
        # stale: another machine, its heartbeat older than the ttl
        s.acquire_lease(NAME, "gone", "other-host", 4242, time.time() - 120, 30)
    ServiceLease(db, ttl=30).acquire().release()
    with Store(db) as s:
        # fresh heartbeat, but on this machine and its process no longer runs (kill -9)
        s.acquire_lease(NAME, "killed", socket.gethostname(), _dead_pid(), time.time(), 30)
    ServiceLease(db, ttl=30).acquire().release()


@pytest.mark.both_stores
def test_a_lost_lease_stops_the_service(database):
    db = database
    Store(db).close()
    lost = []
    lease = ServiceLease(db, ttl=60, every=0.05, on_lost=lambda: lost.append(True)).acquire()
    with Store(db) as s:
        s.conn.execute("UPDATE service_lease SET holder = 'someone-else'")
    deadline = time.monotonic() + 10
    while not lost and time.monotonic() < deadline:
        time.sleep(0.05)
    lease.release()
    assert lost == [True]


def _dead_pid() -> int:
    import subprocess
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
