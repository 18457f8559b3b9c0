"""The per-consumer Protocols at the store seam (docs/ARCHITECTURE.md "Types") are what the Store
really provides: every member exists on Store, with the same parameters in the same order."""
from __future__ import annotations

import inspect

import pytest

from checker.evaluate import scan as scan_mod
from checker.evaluate import holiday_years, indicators, scanclock, supervision, surveys
from checker.findings import repo as findings_repo
from checker.ingest import deadlines, importer, refs, workdays
from checker.notify import backlog, binding, digest, silences
from checker.notify import reports as notify_reports
from checker.notify import model as notify_model
from checker.reports import data as report_data
from checker.rules import choice
from checker.reports import index as index_mod
from checker.reports import model as report_model
from checker.store import Store

PROTOCOLS = [findings_repo.FindingRepo, findings_repo.DirectoryRepo, findings_repo.ReviewRepo, findings_repo.CaseworkRepo,
             notify_model.OutboxRepo, index_mod.IndexRepo, scanclock.ScanClock, scan_mod.ScanRepo,
             importer.ImportRepo, findings_repo.MessageRepo, findings_repo.EvidenceRepo, backlog.BacklogRepo,
             refs.KnownRepo, workdays.WorkdaysRepo, deadlines.DeadlineRepo, silences.MuteRepo, silences.SilenceRepo,
             binding.BindingRepo, notify_reports.ReportNoticeRepo, digest.PagesRepo, holiday_years.HolidayYearsRepo,
             supervision.SupervisionRepo, surveys.SurveyRepo, report_model.ReportRepo, report_data.TableRepo,
             choice.ChoiceRepo, indicators.IndicatorRepo]


ATTRIBUTE = object()          # a data attribute the Protocol declares (an annotation, no value)


def members(protocol: type) -> dict[str, object]:
    out: dict[str, object] = {}
    for klass in reversed(protocol.__mro__):
        if klass is not object and getattr(klass, "_is_protocol", False):
            out.update({k: ATTRIBUTE for k in vars(klass).get("__annotations__", {}) if not k.startswith("_")})
            out.update({k: v for k, v in vars(klass).items() if not k.startswith("_") and k != "__annotations__"})
    return out


def store_attributes() -> set[str]:
    """The data attributes Store's classes annotate (set on each instance by StoreBase.__init__)."""
    return {k for klass in Store.__mro__ for k in vars(klass).get("__annotations__", {})}


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_the_store_provides_the_protocol(protocol):
    for name, member in members(protocol).items():
        if (member is ATTRIBUTE or isinstance(member, property)) and name in store_attributes():
            continue
        have = inspect.getattr_static(Store, name, None)
        assert have is not None, f"Store has no {name} ({protocol.__name__})"
        if isinstance(member, property):
            assert isinstance(have, property), name
            continue
        want = list(inspect.signature(member).parameters)
        got = list(inspect.signature(getattr(Store, name)).parameters)
        assert want == got[:len(want)] and all(
            inspect.signature(getattr(Store, name)).parameters[p].default is not inspect.Parameter.empty
            for p in got[len(want):]), f"{protocol.__name__}.{name}{want} vs Store.{name}{got}"
