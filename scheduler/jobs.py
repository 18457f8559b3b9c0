"""The scheduled jobs: the cadence of DB50/T 957.7 §4.2 and the service's housekeeping.

Each job is a small function, listed in JOBS at the bottom; it takes a `Run` (config, rules, store, the
clock and, for cadence jobs, the slot) and calls one checker function. Its return value is the
detail written to the run log. Times and enabled flags come from `cfg.schedule`.

    daily_scan          日扫描  every working day         scan, then the daily report
    weekly_dispatch     周调度  Friday (or the working weekday before it)  weekly report of this week
    monthly_bulletin    月通报  first working day/month   monthly report of the previous month
    quarterly_analysis  季分析  first working day/quarter quarterly report of the previous quarter
    annual_evaluation   年考评  first working day/year    annual report of the previous year
    reminders           整改提醒 every working day         reminders and escalation (checker.findings.reminders)
    deliver             通知投递 every deliver_interval_seconds
    watch_rules         规则热加载 every rules_watch_seconds
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from checker.calendar import WorkCalendar
from checker.errors import GovwatchError
from checker.evaluate.scan import run_scan
from checker.findings.reminders import run_reminders
from checker.notify import announce_report, deliver_pending
from checker.periods import Period
from checker.reports import build_report
from checker.store import Store

from .triggers import Cadence, cadence

log = logging.getLogger(__name__)

INTERVALS = {"deliver": "deliver_interval_seconds", "watch_rules": "rules_watch_seconds"}


@dataclass(frozen=True)
class JobSpec:
    name: str              # also the cfg.schedule key of a cadence job
    title: str             # what people read: 日扫描 …
    cadence: str | None    # daily weekly monthly quarterly yearly; None = every N seconds
    run: Callable
    order: int             # catch-up order within one slot time


class Run:
    """One run of a job: the runtime, `now`, the slot, and a store opened on first use."""

    def __init__(self, rt, now: datetime, slot: datetime | None):
        self.rt, self.now, self.slot = rt, now, slot
        self._store = None

    @property
    def cfg(self):
        return self.rt.cfg

    @property
    def rulebook(self):
        return self.rt.rules.rulebook

    @property
    def store(self):
        if self._store is None:
            self._store = Store(self.cfg.database, password_env=self.cfg.database_password_env)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def enabled(cfg) -> list[JobSpec]:
    """The jobs to schedule: cadence jobs whose cfg.schedule entry is enabled, and the interval jobs."""
    return [s for s in JOBS.values() if not s.cadence or getattr(cfg.schedule, s.name).enabled]


def interval_seconds(cfg, spec: JobSpec) -> float:
    return float(getattr(cfg.schedule, INTERVALS[spec.name]))


def cadence_for(cfg, spec: JobSpec) -> Cadence:
    """The working-day cadence of a job at its configured time, on the configured calendar."""
    cal = WorkCalendar.from_config(cfg.calendar, cfg.tz)
    return cadence(spec.cadence, getattr(cfg.schedule, spec.name).time, cal)


# -- the cadence of DB50/T 957.7 §4.2 ------------------------------------------------------

def daily_scan(run: Run) -> str:
    result = run_scan(run.store, run.cfg, run.rulebook, run.now)
    run.store.checkpoint()            # the scan's WAL folded back here, not in a bot button's commit (run_scan)
    scanned = (f"扫描 #{result.scan_id}：评估 {result.evaluated}，新增 {result.opened}，"
               f"消除 {result.resolved}，重开 {result.reopened}，未结 {result.open}")
    try:
        return f"{scanned}；{report(run, 'daily', Period.containing('day', run.slot.date()))}"
    except Exception as exc:
        raise GovwatchError(f"{scanned}；日报生成失败：{exc}") from exc


def reminders(run: Run) -> str:
    return str(run_reminders(run.store, run.cfg, run.now))


def weekly_dispatch(run: Run) -> str:
    return report(run, "weekly", Period.containing("week", run.slot.date()))


def monthly_bulletin(run: Run) -> str:
    return report(run, "monthly", Period.containing("month", run.slot.date()).previous())


def quarterly_analysis(run: Run) -> str:
    return report(run, "quarterly", Period.containing("quarter", run.slot.date()).previous())


def annual_evaluation(run: Run) -> str:
    return report(run, "annual", Period.containing("year", run.slot.date()).previous())


def report(run: Run, kind: str, period: Period) -> str:
    """Write a report to cfg.reports.out_dir and tell the supervisors."""
    result = build_report(run.store, run.cfg, run.rulebook, kind, period, now=run.now,
                          out_dir=run.cfg.reports.out_dir)
    path = getattr(result, "html_path", None)
    log.info("%s report %s written to %s", kind, period.code, path)
    announce_report(run.store, run.cfg, kind, period, result, run.now)
    return f"{period.label}报表：{path}"


# -- housekeeping ---------------------------------------------------------------------------

async def deliver(run: Run):
    return await deliver_pending(run.store, run.cfg, run.rt.notifier, run.now)


def watch_rules(run: Run) -> str | None:
    """Reload edited rule files all or nothing; a refused edit is logged and told to the admins."""
    outcome = run.rt.rules.reload_if_changed()
    if not outcome.changed:
        return None
    if outcome.loaded:
        log.info("rules reloaded from %s (version %s)", run.rt.rules.path, outcome.version)
        return f"规则已重新加载（版本 {outcome.version}）"
    log.error("rule edit refused, the old rules stay in use:\n%s", "\n".join(outcome.problems))
    tell_admins(run, outcome.problems)
    return "规则修改有错误，未加载，继续使用原规则"


def tell_admins(run: Run, problems) -> int:
    """A notice to every admin: the rule edit was refused and why (file:line: problem)."""
    text = ("规则文件修改未通过校验，已拒绝加载，服务继续使用原有规则。请修正后保存，系统将自动重新加载：\n"
            + "\n".join(problems[:20]) + ("\n…" if len(problems) > 20 else ""))
    admins = [o["id"] for o in run.store.officers_with_role("admin")]
    key = f"rules:{run.now.isoformat(timespec='seconds')}"
    return run.store.enqueue([{"dedup_key": f"{key}:{who}", "finding_id": None, "recipient": who,
                               "kind": "notice", "severity": None,
                               "created_at": run.now.isoformat(timespec="seconds"),
                               "payload": {"title": "规则重新加载失败", "text": text}} for who in admins])


# Every job in catch-up order (within one slot time): name (also the cfg.schedule key of a cadence
# job), title, cadence (None: every N seconds, see INTERVALS), function.
JOBS: dict[str, JobSpec] = {name: JobSpec(name, title, cadence, fn, order) for order, (name, title, cadence, fn)
                            in enumerate((
    ("daily_scan", "日扫描", "daily", daily_scan),
    ("reminders", "整改提醒与督办", "daily", reminders),
    ("weekly_dispatch", "周调度", "weekly", weekly_dispatch),
    ("monthly_bulletin", "月通报", "monthly", monthly_bulletin),
    ("quarterly_analysis", "季分析", "quarterly", quarterly_analysis),
    ("annual_evaluation", "年考评", "yearly", annual_evaluation),
    ("deliver", "通知投递", None, deliver),
    ("watch_rules", "规则热加载", None, watch_rules),
))}
