"""A finding's statuses (DESIGN.md "Findings", DB33/T 2036.7 §8): the one place they are spelled.

    open → acknowledged → submitted → verified | rejected;  any active status → resolved
"""
from __future__ import annotations

STATUSES = ("open", "acknowledged", "submitted", "verified", "rejected", "resolved")
STATUS_NAMES = {"open": "待处理", "acknowledged": "已确认", "submitted": "已提交整改",
                "verified": "复查通过", "rejected": "已退回", "resolved": "已消除"}
# Still being worked on: what a scan keeps, resolves or reminds about.
ACTIVE_STATUSES = ("open", "acknowledged", "submitted", "rejected")
# With the responsible officer: may be acknowledged or rectified, and is reminded.
WITH_OFFICER = ("open", "acknowledged", "rejected")
# Closed: fires again only as a reopen (or a rebound after a verification).
CLOSED_STATUSES = ("verified", "resolved")


def sql_list(statuses: tuple[str, ...]) -> str:
    """The statuses as an SQL list literal: 'open', 'acknowledged', …"""
    return ", ".join(f"'{s}'" for s in statuses)
