"""A scan's clock never runs backwards (issue 12 item 4).

A scan at a `now` earlier than the last completed scan's would resolve findings that are still
true, open ones that stay open for good, and make the next real scan "reopen" them: the audit
trail of DB33/T 2036.7 §8 would record things that never happened. `run_scan` calls
`refuse_backdated` first; a look at an earlier moment is a dry run (`govwatch scan --dry-run`),
which evaluates and writes nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ..errors import InputError


class ScanClock(Protocol):
    """What the check needs of the store: the `now` of the last completed scan."""
    def last_scan_now(self) -> str | None: ...


class BackdatedScan(InputError):
    """`now` is earlier than the last completed scan's (exit 2)."""


def refuse_backdated(store: ScanClock, now: datetime) -> None:
    last = store.last_scan_now()
    if last and now < datetime.fromisoformat(last):
        raise BackdatedScan(
            f"拒绝扫描：扫描时间 {now.isoformat(timespec='seconds')} 早于上次完成的扫描时间 {last}。"
            "倒拨时钟会把仍存在的问题错误地消除、再在下次扫描时“重开”，使整改记录失真"
            "（DB33/T 2036.7 §8）。如只想查看某一时刻的结果，请用 govwatch scan --dry-run --now …，"
            "试运行只计算、不写入任何数据。")
