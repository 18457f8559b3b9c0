"""Shared fixtures: a real SQLite file per test, the real config loader."""
from __future__ import annotations

from pathlib import Path

import pytest

from checker import config as config_mod
from checker.store import Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cfg(tmp_path):
    """Default configuration with the database in the test's temp dir."""
    return config_mod.load(None, database=str(tmp_path / "govwatch.db"))


@pytest.fixture
def store(cfg):
    s = Store(cfg.database)
    yield s
    s.close()
