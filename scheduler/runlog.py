"""The run log: a scheduled job claims its slot before it runs, so a slot never runs twice.

A slot is named by its period (``2026-10-08``, ``2026-W41``, ``2026-10``, ``2026-Q4``, ``2026``:
see `Cadence.slot_key`). Claims are rows of `job_runs` with UNIQUE(job, slot), so two processes
can never both run one slot. While a job runs its row names its owner (``host:pid``); a row whose
owner is gone (the process crashed or was killed) is marked `abandoned` when the service starts,
and its slot may then be claimed once more.
"""
from __future__ import annotations

import logging
import os
import socket
from datetime import datetime

log = logging.getLogger(__name__)


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def claim(store, job: str, slot: str, now: datetime) -> int | None:
    """The run id when this process may run (job, slot); None when it already ran or runs."""
    return store.claim_run(job, slot, _iso(now), owner())


def finish(store, run_id: int, ok: bool, detail: str | None, now: datetime) -> None:
    store.finish_run(run_id, "ok" if ok else "failed", _iso(now), detail)


def abandon_dead(store, now: datetime) -> list[dict]:
    """Mark `running` rows whose owning process is gone as abandoned; return them."""
    gone = [r for r in store.running_runs() if not _alive(r.get("detail") or "")]
    for r in gone:
        store.abandon_run(r["id"], _iso(now), f"进程 {r.get('detail') or '?'} 已不在运行，任务中断")
        log.warning("job %s slot %s was left running by %s: marked abandoned", r["job"], r["slot"], r["detail"])
    return gone


def _alive(who: str) -> bool:
    """Whether the owner host:pid still runs. Another host's process cannot be checked: assume alive."""
    host, _, pid = who.rpartition(":")
    if host != socket.gethostname():
        return bool(host)
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def missed(store, job: str, slot: str) -> bool:
    """Whether a job that ran before has not run `slot` (no row, or an abandoned one): catch it up."""
    if not store.has_job_runs(job):
        return False
    row = store.job_run(job, slot)
    return row is None or row["status"] == "abandoned"
