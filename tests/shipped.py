"""The shipped rule packs, loaded once for tests that need a real rule (not a stand-in)."""
from __future__ import annotations

import functools
from pathlib import Path

from checker.rules import load_packs

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def rulebook():
    return load_packs(ROOT / "rules")


def rule(rule_id: str):
    """A rule of the shipped packs, e.g. rule("db33.case.overdue")."""
    return rulebook().rule(rule_id)
