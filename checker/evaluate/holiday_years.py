"""Years without a published 调休 schedule: said loudly, never silently computed as plain weekends.

The State Council publishes each year's 放假调休 arrangement (国务院办公厅关于 YYYY 年部分节假日安排的
通知) in November of the year before; the `holidays` package ships it some weeks later. Until then a
year's Spring Festival and National Day weeks come out wrong: the worked weekend days (补班) are
missing and the package guesses the holidays. A year "has 调休 data" when the package knows at least
one worked Saturday or Sunday in it (every year since 2001 has some), or config names days of that
year (`calendar.extra_holidays` / `extra_workdays`: the admin typed the schedule in).

`scan`, `schedule` and `serve` print a warning for each year that `now` or an open case's deadline
reaches and that has no such data, and the scan keeps one finding for admins per missing year.
"""
from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import holidays

from ..calendar import _as_date
from ..config import Config
from ..findings import Firing
from ..rules.model import Rule

RULE = Rule(id="govwatch.calendar_schedule", kind="system", clause="4.2", title="调休安排未配置",
            severity="red", responsible="admin", standard="DB50/T 957.7", pack="govwatch",
            rectify_days=5,
            message="{year} 年调休安排未配置：holidays 包与 config.yaml 的 calendar 中都没有 {year} 年的放假调休"
                    "（补班）数据，该年的工作日按普通周末推算，办件期限、工作日计数与“日扫描、周调度、月通报、"
                    "季分析、年考评”日程（DB50/T 957.7 §4.2）都可能算错。请在 calendar.extra_holidays / "
                    "extra_workdays 中录入国务院办公厅公布的 {year} 年节假日安排，或升级 holidays 包。")
class HolidayYearsRepo(Protocol):
    """What the 调休 years read from the store: the open cases' latest deadline, the top orgs."""
    def latest_open_case_due(self) -> str | None: ...
    def root_orgs(self) -> list[str]: ...


_FAR = 5          # years ahead at most: a deadline further out is bad data, not a schedule to ask for


@functools.lru_cache(maxsize=None)
def package_has_schedule(year: int) -> bool:
    """Whether the holidays package knows a worked weekend day (补班) in `year`."""
    china = holidays.China(years=year)
    d = date(year, 1, 1)
    while d.year == year:
        if d.weekday() >= 5 and china.is_working_day(d):
            return True
        d += timedelta(days=1)
    return False


def has_schedule(cfg: Config, year: int) -> bool:
    configured = {_as_date(d).year for d in (*cfg.calendar.extra_holidays, *cfg.calendar.extra_workdays)}
    return year in configured or package_has_schedule(year)


def years_reached(store: HolidayYearsRepo | None, cfg: Config, now: datetime) -> list[int]:
    """The years of `now` and of open cases' deadlines (up to _FAR years ahead)."""
    first = now.astimezone(cfg.tz).year
    last = first
    if store is not None:
        due = store.latest_open_case_due()
        if due and due[:4].isdigit():
            last = min(max(first, int(due[:4])), first + _FAR)
    return list(range(first, last + 1))


def missing_years(store: HolidayYearsRepo | None, cfg: Config, now: datetime, also: tuple[datetime, ...] = ()) -> list[int]:
    """Years reached (by `now`, open deadlines and the datetimes in `also`) without 调休 data."""
    years = set(years_reached(store, cfg, now)) | {d.astimezone(cfg.tz).year for d in also}
    return sorted(y for y in years if not has_schedule(cfg, y))


def warning(years: list[int]) -> str | None:
    """The warning printed by scan, schedule and serve; None when nothing is missing."""
    if not years:
        return None
    names = "、".join(str(y) for y in years)
    return (f"警告：{names} 年调休安排未配置（holidays {holidays.__version__} 与 config.yaml 的 calendar 均无该年补班数据），"
            f"该年工作日按普通周末推算，期限与日程可能算错；请在 calendar.extra_holidays / extra_workdays 中录入，"
            f"或升级 holidays 包。")


def firings(store: HolidayYearsRepo, cfg: Config, now: datetime,
            rectify_due: str) -> tuple[list[Firing], dict[str, Any]]:
    """The admin findings of missing years, as a scan reconciles them: (firings, evaluated)."""
    org = next(iter(store.root_orgs()), None)
    out: list[Firing] = []
    for year in missing_years(store, cfg, now):
        facts = {"year": year, "rule_title": RULE.title, "title": RULE.title, "clause": RULE.clause,
                 "standard": RULE.standard, "org": org}
        out.append(Firing(rule=RULE, subject=f"calendar:{year}", subject_kind="calendar", org=org,
                          message=RULE.message.replace("{year}", str(year)), due_at=rectify_due, handler=None, facts=facts))
    return out, {RULE.id: None}

