"""The per-consumer Protocols at the store seam (docs/ARCHITECTURE.md "Types") are what the Store
really provides: every member exists on Store, with the same parameters in the same order."""
from __future__ import annotations

import inspect

import pytest

from checker.evaluate import scan as scan_mod
from checker.evaluate import scanclock
from checker.findings import repo as findings_repo
from checker.ingest import importer
from checker.notify import backlog
from checker.notify import model as notify_model
from checker.reports import index as index_mod
from checker.store import Store

PROTOCOLS = [findings_repo.FindingRepo, findings_repo.DirectoryRepo, findings_repo.ReviewRepo, findings_repo.CaseworkRepo,
             notify_model.OutboxRepo, index_mod.IndexRepo, scanclock.ScanClock, scan_mod.ScanRepo,
             importer.ImportRepo, findings_repo.MessageRepo, findings_repo.EvidenceRepo, backlog.BacklogRepo]


def members(protocol: type) -> dict[str, object]:
    out: dict[str, object] = {}
    for klass in reversed(protocol.__mro__):
        if klass is not object and getattr(klass, "_is_protocol", False):
            out.update({k: v for k, v in vars(klass).items() if not k.startswith("_")})
    return out


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_the_store_provides_the_protocol(protocol):
    for name, member in members(protocol).items():
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
