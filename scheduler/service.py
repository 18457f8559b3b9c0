"""Wiring the jobs into an APScheduler AsyncIOScheduler, and running `govwatch serve`.

With a bot, the scheduler is python-telegram-bot's own (`application.job_queue.scheduler`, an
AsyncIOScheduler on the bot's event loop) and the notifier is the Telegram one; without a token
a plain AsyncIOScheduler runs with the console notifier. Either way SIGTERM and SIGINT stop the
service cleanly: no new job starts, the running one finishes and records its outcome, exit 0.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import build_application
from bot.channels import build_channels, check_secrets, close_channels
from bot.dingtalk_inbound import run_stream

from .jobs import JOBS, JobSpec, cadence_for, enabled, interval_seconds
from .runner import Runtime
from .triggers import WorkdayTrigger

log = logging.getLogger(__name__)


def trigger_for(cfg, spec: JobSpec):
    if spec.cadence:
        return WorkdayTrigger(cadence_for(cfg, spec))
    return IntervalTrigger(seconds=interval_seconds(cfg, spec), timezone=cfg.tz)


def install(scheduler, cfg, holder, notifier=None, clock=None) -> Runtime:
    """Add every enabled job with its trigger, and a one-off catch-up at start; return the runtime."""
    rt = Runtime(cfg, holder, notifier, clock)
    specs = enabled(cfg)
    for spec in specs:
        scheduler.add_job(rt.fire, trigger_for(cfg, spec), args=[spec.name], id=spec.name, name=spec.title,
                          coalesce=True, misfire_grace_time=None, max_instances=1, replace_existing=True)
    scheduler.add_job(rt.catch_up, args=[[s.name for s in specs if s.cadence]], id="catch_up",
                      name="补跑", misfire_grace_time=None, replace_existing=True)
    return rt


def next_runs(cfg, now: datetime) -> list[dict]:
    """Every job's next run after `now` (None when disabled): `govwatch schedule`."""
    on = {s.name for s in enabled(cfg)}
    return [_next(cfg, spec, now, spec.name in on) for spec in JOBS.values()]


def _next(cfg, spec: JobSpec, now: datetime, on: bool) -> dict:
    if spec.cadence:
        c = cadence_for(cfg, spec)
        when, how = (c.next_run(now) if on else None), c.describe()
    else:
        seconds = interval_seconds(cfg, spec)
        when, how = now + timedelta(seconds=seconds), f"every {seconds:g} s"
    return {"job": spec.name, "title": spec.title, "next_run": when.isoformat() if when else None,
            "enabled": on, "trigger": how}


# -- govwatch serve ------------------------------------------------------------------------

def serve(cfg, holder) -> int:
    """Run until SIGTERM / SIGINT: every enabled channel, with the Telegram bot when a token is in the
    environment; with neither, the console notifier prints what would be sent."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:   # one line per 5-second tick is noise
        logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    check_secrets(cfg)
    if cfg.telegram.token():
        log.info("starting with the Telegram bot (token from $%s)", cfg.telegram.token_env)
        return serve_bot(cfg, holder)
    if not cfg.channels.enabled():
        log.info("no channel enabled and no token in $%s: notifications are printed (console notifier)",
                 cfg.telegram.token_env)
    return asyncio.run(serve_channels(cfg, holder))


async def serve_channels(cfg, holder, clock=None) -> int:
    """The scheduler on a plain asyncio loop, delivering through the enabled channels (or the console)."""
    channels = build_channels(cfg)
    log.info("channels: %s", ", ".join(n.channel for n in channels))
    scheduler = AsyncIOScheduler(timezone=cfg.tz)
    rt = install(scheduler, cfg, holder, channels, clock)
    inbound = start_inbound(cfg, holder, clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    log.info("govwatch serve: %s scheduled", ", ".join(s.name for s in enabled(cfg)))
    await stop.wait()
    await stop_inbound(inbound)
    await _stop(scheduler, rt)
    await close_channels(channels)
    return 0


def start_inbound(cfg, holder, clock=None) -> asyncio.Task | None:
    """DingTalk's Stream-mode inbound as a task on the running loop, when DingTalk is enabled."""
    if not (cfg.channels.dingtalk.enabled and cfg.channels.dingtalk.stream):
        return None
    log.info("dingtalk inbound: Stream mode at %s", cfg.channels.dingtalk.url)
    return asyncio.get_running_loop().create_task(run_stream(cfg, str(cfg.database), holder, clock),
                                                  name="dingtalk-stream")


async def stop_inbound(task: asyncio.Task | None) -> None:
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        log.exception("dingtalk inbound ended with an error")


async def _stop(scheduler, rt: Runtime) -> None:
    log.info("stopping: no new jobs; waiting for a running job to finish")
    scheduler.pause()
    await rt.drain()
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0.05)      # AsyncIOScheduler shuts down on the next loop turn
    log.info("stopped cleanly")


def serve_bot(cfg, holder) -> int:
    """python-telegram-bot's Application: its job queue's scheduler runs our jobs, delivering through
    every enabled channel (Telegram among them); polling until a signal. DingTalk inbound runs beside."""
    app = build_application(cfg, rules=holder)      # the bot's /reload and our watcher share the holder
    channels = build_channels(cfg, telegram_bot=app.bot)
    rt = install(app.job_queue.scheduler, cfg, holder, channels)
    app.bot_data["scheduler_runtime"] = rt
    post_init, post_shutdown = app.post_init, app.post_shutdown

    async def with_inbound(application):
        await post_init(application)
        application.bot_data["inbound"] = start_inbound(cfg, holder)

    async def without_inbound(application):
        await stop_inbound(application.bot_data.pop("inbound", None))
        await close_channels(channels)
        await post_shutdown(application)
    app.post_init, app.post_shutdown = with_inbound, without_inbound
    app.run_polling(stop_signals=(signal.SIGINT, signal.SIGTERM))
    log.info("stopped cleanly")
    return 0
