"""Wiring the jobs into an APScheduler AsyncIOScheduler, and running `govwatch serve`.

The scheduler is an AsyncIOScheduler on the service's loop; with a token the bot's polling runs on
the same loop, brought up (and retried) beside the jobs, so a messenger outage never stops them;
without a token or channel the console notifier prints what would be sent. Either way SIGTERM and SIGINT stop the
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
from .lease import ServiceLease
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
    environment; with neither, the console notifier prints what would be sent. One service per
    database: the lease is taken first (a second service exits 2)."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:   # one line per 5-second tick is noise
        logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    check_secrets(cfg)
    lease = ServiceLease(cfg.database).acquire()
    try:
        if cfg.telegram.token():
            log.info("starting with the Telegram bot (token from $%s)", cfg.telegram.token_env)
            return asyncio.run(serve_bot(cfg, holder))
        if not cfg.channels.enabled():
            log.info("no channel enabled and no token in $%s: notifications are printed (console notifier)",
                     cfg.telegram.token_env)
        return asyncio.run(serve_channels(cfg, holder))
    finally:
        lease.release()


async def serve_channels(cfg, holder, clock=None) -> int:
    """The scheduler on a plain asyncio loop, delivering through the enabled channels (or the console)."""
    channels = build_channels(cfg)
    log.info("channels: %s", ", ".join(n.channel for n in channels))
    scheduler = AsyncIOScheduler(timezone=cfg.tz)
    rt = install(scheduler, cfg, holder, channels, clock)
    inbound = start_inbound(cfg, holder, clock)
    stop = _start(scheduler, cfg)
    await stop.wait()
    await stop_inbound(inbound)
    await _stop(scheduler, rt)
    await close_channels(channels)
    return 0


def _start(scheduler, cfg) -> asyncio.Event:
    """Start the scheduler; the returned event is set on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    log.info("govwatch serve: %s scheduled", ", ".join(s.name for s in enabled(cfg)))
    return stop


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


async def serve_bot(cfg, holder, clock=None) -> int:
    """The scheduler on our own loop from the start, delivering through every enabled channel
    (Telegram among them); the bot's polling is brought up beside it and retried with back-off, so
    a Bot API that is unreachable or refuses the token at start-up stops neither the scans nor the
    reports (issue 12 item 7). DingTalk inbound runs beside."""
    app = build_application(cfg, rules=holder, clock=clock)   # the bot's /reload and our watcher share the holder
    channels = build_channels(cfg, telegram_bot=app.bot)
    scheduler = AsyncIOScheduler(timezone=cfg.tz)
    rt = install(scheduler, cfg, holder, channels, clock)
    app.bot_data["scheduler_runtime"] = rt
    inbound = start_inbound(cfg, holder, clock)
    stop = _start(scheduler, cfg)
    bot = asyncio.create_task(keep_bot_up(app, stop, cfg.telegram.reconnect_base_seconds,
                                          cfg.telegram.reconnect_max_seconds), name="telegram-bot")
    await stop.wait()
    bot.cancel()
    try:
        await bot
    except asyncio.CancelledError:
        pass
    await stop_bot(app)
    await stop_inbound(inbound)
    await _stop(scheduler, rt)
    await close_channels(channels)
    return 0


BOT_WATCH_SECONDS = 1.0


async def keep_bot_up(app, stop: asyncio.Event, first: float, most: float) -> None:
    """Start the bot (getMe, command menu, polling) and keep it polling: on failure wait `first`
    seconds and try again, doubling the wait up to `most` (config telegram.reconnect_base_seconds,
    telegram.reconnect_max_seconds); polling that python-telegram-bot gave up (a 401) is started
    again. One log line when the state changes (unreachable, token refused, connected), not one a try."""
    from telegram.error import InvalidToken, NetworkError
    wait, state = first, None
    while not stop.is_set():
        try:
            if not app.bot_data.get("initialized"):
                await app.initialize()
                await app.post_init(app)
                app.bot_data["initialized"] = True
            if app.updater.running and not _polling(app):     # python-telegram-bot gave up (a 401)
                await _reset_polling(app.updater)
            if not app.updater.running:
                await app.updater.start_polling(drop_pending_updates=False)
            if not app.running:
                await app.start()
            if state != "up":
                log.info("Telegram bot connected (@%s): commands and buttons answered", app.bot.username)
            state, wait = "up", first
            await _wait(stop, BOT_WATCH_SECONDS)
            continue
        except InvalidToken:
            now_state = ("the Bot API refuses the token (401): the bot does not answer; scans, reports and "
                         "other channels go on, Telegram messages stay queued")
        except (NetworkError, OSError) as exc:
            now_state = (f"the Bot API is unreachable ({type(exc).__name__}): scans and reports go on, "
                         "Telegram messages stay queued")
        if now_state != state:
            log.warning("%s; retrying with back-off", now_state)
            state = now_state
        await _wait(stop, wait)
        wait = min(wait * 2, most)


def _polling(app) -> bool:
    """Whether python-telegram-bot's polling task still runs (it ends itself on a refused token)."""
    return any(t.get_name() == POLLING_TASK for t in asyncio.all_tasks())


POLLING_TASK = "Updater:start_polling:polling_task"     # python-telegram-bot 22's name for it


async def _reset_polling(updater) -> None:
    """Stop an updater whose polling ended itself, so that polling can start again. Its stop()
    re-raises what ended the polling and then skips clearing the task and the stop event, and a new
    polling loop would see the old stop event and end at once (python-telegram-bot 22): clear both."""
    try:
        await updater.stop()
    except Exception:   # noqa: BLE001 — the error that ended the polling, logged by the library
        pass
    event = getattr(updater, "_Updater__polling_task_stop_event", None)
    if event is not None:
        event.clear()
    if hasattr(updater, "_Updater__polling_task"):
        updater._Updater__polling_task = None


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


async def stop_bot(app) -> None:
    """Stop what of the bot is running, and close the store it opened."""
    try:
        if app.updater and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        if app.bot_data.get("initialized"):
            await app.shutdown()
    except Exception:   # noqa: BLE001 — shutting down; the process exits next
        log.warning("bot did not stop cleanly", exc_info=True)
    await app.post_shutdown(app)
    log.info("stopped cleanly")
