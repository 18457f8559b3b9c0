"""Running scheduled jobs: claim the slot, run the job, record the outcome; catch up; drain.

A `Runtime` lives as long as `govwatch serve`. APScheduler calls `Runtime.fire(name)` (a
coroutine, so it runs on the service's event loop, the bot's loop when there is a bot); the
checker work of a job runs in a worker thread with its own store connection, one job at a time
(`lock`), so the bot stays responsive and the durable-rules engine is never used by two jobs at
once. The claim, the work and the outcome all happen in that thread: if the service stops while
a job runs, the job still finishes and records its outcome before the process exits.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from checker import redact
from checker.errors import GovwatchError
from checker.store import DatabaseBusy, is_busy

from . import runlog
from .jobs import JOBS, JobSpec, Run, cadence_for
from .triggers import Cadence

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the jobs share: config, the rules holder, the notifier, the clock."""
    cfg: object
    rules: object                         # checker.rules.holder.RulesHolder
    notifier: object | None = None        # checker.notify Channels (or one Notifier): where deliver sends
    clock: Callable[[], datetime] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tasks: set = field(default_factory=set)
    stopping: bool = False

    def now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(self.cfg.tz)

    def cadence(self, spec: JobSpec) -> Cadence:
        return cadence_for(self.cfg, spec)

    # -- synchronous core (a worker thread; tests call it directly) ---------------------

    def run_slot(self, spec: JobSpec, slot: datetime) -> str | None:
        """Run a cadence job for one slot unless that slot was already claimed: the run's status."""
        key = self.cadence(spec).slot_key(slot)
        run = Run(self, self.now(), slot)
        try:
            try:
                run_id = runlog.claim(run.store, spec.name, key, run.now)
            except (sqlite3.OperationalError, DatabaseBusy) as exc:
                if isinstance(exc, sqlite3.OperationalError) and not is_busy(exc):
                    raise
                log.error("%s %s: slot %s not run: %s", spec.name, spec.title, key, DatabaseBusy(self.cfg.database))
                return None
            if run_id is None:
                log.info("%s %s: slot %s already ran, skipped", spec.name, spec.title, key)
                return None
            ok, detail = _call(spec, run)
            runlog.finish(run.store, run_id, ok, redact.text(detail) if detail else detail, self.now())
            return "ok" if ok else "failed"
        finally:
            run.close()

    def run_interval(self, spec: JobSpec) -> object:
        run = Run(self, self.now(), None)
        try:
            return _call(spec, run)
        finally:
            run.close()

    # -- on the event loop --------------------------------------------------------------

    async def fire(self, name: str) -> None:
        """APScheduler's entry: run a job now (cadence jobs for their latest slot)."""
        spec = JOBS[name]
        if spec.cadence:
            await self._track(self._slot(spec, self.cadence(spec).last_run(self.now())))
        elif not self.lock.locked() and not self.stopping:   # an interval tick is skipped while busy
            await self._track(self._interval(spec))

    async def _slot(self, spec: JobSpec, slot: datetime | None) -> None:
        if slot is None or self.stopping:
            return
        async with self.lock:
            await asyncio.to_thread(self.run_slot, spec, slot)

    async def _interval(self, spec: JobSpec) -> None:
        async with self.lock:
            if inspect.iscoroutinefunction(spec.run):
                await self._async_interval(spec)
            else:
                await asyncio.to_thread(self.run_interval, spec)

    async def _async_interval(self, spec: JobSpec) -> None:
        run = Run(self, self.now(), None)
        try:
            await _acall(spec, run)
        finally:
            run.close()

    async def _track(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        try:
            await asyncio.shield(task)      # cancelling the caller never interrupts a running job
        finally:
            if task.done():
                self.tasks.discard(task)

    async def drain(self) -> None:
        """Stop starting jobs and wait for the running one to finish (clean shutdown)."""
        self.stopping = True
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
            self.tasks = {t for t in self.tasks if not t.done()}

    # -- start-up -----------------------------------------------------------------------

    def missed_slots(self, specs) -> list[tuple[datetime, JobSpec]]:
        """For each cadence job that ran before: its latest slot, when that slot never ran."""
        now, out = self.now(), []
        run = Run(self, now, None)
        try:
            runlog.abandon_dead(run.store, now)
            for spec in specs:
                slot = self.cadence(spec).last_run(now) if spec.cadence else None
                if slot and runlog.missed(run.store, spec.name, self.cadence(spec).slot_key(slot)):
                    out.append((slot, spec))
        finally:
            run.close()
        return sorted(out, key=lambda pair: (pair[0], pair[1].order))

    async def catch_up(self, names) -> None:
        """Once at start: mark crashed runs abandoned, then run each job's latest missed slot once."""
        specs = [JOBS[n] for n in names]
        missed = await asyncio.to_thread(self.missed_slots, specs)
        for slot, spec in missed:
            log.info("catching up %s %s for %s (missed while the service was down)",
                     spec.name, spec.title, slot.isoformat())
            await self._track(self._slot(spec, slot))


def _call(spec: JobSpec, run: Run) -> tuple[bool, str]:
    """Run a job function; a failure is logged and returned, never raised into the scheduler."""
    try:
        return True, _text(spec.run(run))
    except sqlite3.OperationalError as exc:
        if not is_busy(exc):
            log.exception("%s %s failed", spec.name, spec.title)
            return False, f"{spec.title}失败：{type(exc).__name__}: {exc}"
        busy = DatabaseBusy(run.cfg.database)
        log.error("%s %s failed: %s", spec.name, spec.title, busy)
        return False, f"{spec.title}失败：{busy}"
    except GovwatchError as exc:
        log.error("%s %s failed: %s", spec.name, spec.title, exc)
        return False, f"{spec.title}失败：{exc}"
    except Exception as exc:   # noqa: BLE001 — a job's bug must not stop the service
        log.exception("%s %s failed", spec.name, spec.title)
        return False, f"{spec.title}失败：{type(exc).__name__}: {exc}"


async def _acall(spec: JobSpec, run: Run) -> tuple[bool, str]:
    try:
        return True, _text(await spec.run(run))
    except Exception as exc:   # noqa: BLE001
        log.exception("%s %s failed", spec.name, spec.title)
        return False, f"{spec.title}失败：{type(exc).__name__}: {exc}"


def _text(result) -> str:
    return result if isinstance(result, str) or result is None else repr(result)
