"""A report reads many findings' clock-moving figures ("超期 N 个工作日") in one statement per batch
(checker.ingest.derived.read_values_many): the same values as reading them one finding at a time."""
from __future__ import annotations

import pytest

from checker.ingest import derived, workdays

from botworld import DAY

pytestmark = pytest.mark.both_stores


def test_a_batch_reads_the_same_figures_as_one_finding_at_a_time(store, cfg):
    workdays.ensure(store, cfg, DAY)
    params = {**derived.params(cfg), "now": DAY.isoformat(timespec="seconds"), "today": DAY.date().isoformat()}
    wanted = ("wd_left", "overdue_wd", "elapsed_wd")
    facts = [{"status": status, "due_at": due, "accepted_at": accepted, "hall": None}
             for status, due, accepted in (("processing", "2026-10-09T23:59:59+08:00", "2026-09-28T10:00:00+08:00"),
                                           ("accepted", "2026-10-20T23:59:59+08:00", "2026-10-12T09:00:00+08:00"),
                                           ("closed", "2026-10-13T23:59:59+08:00", "2026-10-01T09:00:00+08:00"),
                                           ("processing", None, None))]
    one_by_one = [derived.read_values(store, "cases", f, wanted, params) for f in facts]
    assert derived.read_values_many(store, "cases", facts, wanted, params) == one_by_one
    assert one_by_one[0]["overdue_wd"] > 0 and one_by_one[1]["wd_left"] > 0
    assert derived.read_values_many(store, "cases", [], wanted, params) == []
