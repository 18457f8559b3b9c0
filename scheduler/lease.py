"""One `govwatch serve` per database (issue 12 item 9): a lease row with a heartbeat.

`ServiceLease.acquire()` takes the lease or raises ServiceRunning (exit 2, naming the live holder).
A daemon thread renews the heartbeat on its own connection, so a long job never starves it; a
crashed service stops renewing and its lease is stale after `ttl` seconds, so the next start is not
locked out. Should the lease ever be lost (this process stalled past `ttl` and another took over),
the service stops itself rather than send beside the other one.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid

from checker.errors import GovwatchError
from checker.store import Store

log = logging.getLogger(__name__)
NAME = "serve"
TTL_SECONDS = 30.0
HEARTBEAT_SECONDS = 5.0


class ServiceRunning(GovwatchError):
    """Another service holds the database's lease (exit 2)."""


class ServiceLease:
    def __init__(self, database: str, ttl: float = TTL_SECONDS, every: float = HEARTBEAT_SECONDS,
                 on_lost=None):
        self.database, self.ttl, self.every = str(database), ttl, every
        self.holder = uuid.uuid4().hex
        self.on_lost = on_lost or _stop_this_process
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> "ServiceLease":
        host = socket.gethostname()
        with Store(self.database) as store:
            other = store.acquire_lease(NAME, self.holder, host, os.getpid(), time.time(), self.ttl)
            if other is not None and other["host"] == host and not _alive(other["pid"]):
                # Killed on this machine (kill -9, a crash): its lease need not run out first.
                log.info("service lease of process %s (no longer running) taken over", other["pid"])
                other = store.acquire_lease(NAME, self.holder, host, os.getpid(), time.time(), 0)
        if other is not None:
            age = max(0.0, time.time() - other["heartbeat_at"])
            raise ServiceRunning(
                f"数据库 {self.database} 已有一个 govwatch serve 在运行（主机 {other['host']}，进程 {other['pid']}，"
                f"{age:.0f} 秒前仍有心跳）。同一数据库只能运行一个服务，否则通知会重复发送。"
                f"若该进程已经退出，请在 {self.ttl:g} 秒后重试。")
        self._thread = threading.Thread(target=self._beat, name="govwatch-lease", daemon=True)
        self._thread.start()
        log.info("service lease taken on %s", self.database)
        return self

    def _beat(self) -> None:
        failing = False
        with Store(self.database) as store:
            while not self._stop.wait(self.every):
                try:
                    ours = store.renew_lease(NAME, self.holder, time.time())
                except Exception as exc:   # noqa: BLE001 — a busy database: try again at the next beat
                    if not failing:
                        log.warning("service lease heartbeat failed (%s); retrying", type(exc).__name__)
                    failing = True
                    continue
                if failing:
                    log.info("service lease heartbeat works again")
                failing = False
                if not ours:
                    log.error("service lease on %s was taken by another service: stopping this one", self.database)
                    self.on_lost()
                    return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.every + 5)
        try:
            with Store(self.database) as store:
                store.release_lease(NAME, self.holder)
        except Exception:   # noqa: BLE001 — a stale lease expires by itself
            log.warning("service lease not released; it expires in %g s", self.ttl)


def _alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, ValueError):
        return True
    return True


def _stop_this_process() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
