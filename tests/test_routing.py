"""Routing: who is responsible for a finding (DB33/T 2036.7 §8.1 明确相关负责人)."""
from __future__ import annotations

from pathlib import Path

import pytest

from checker import config as config_mod
from checker.findings.routing import assign
from checker.rules import load_packs


BOOK = load_packs(Path(__file__).resolve().parent.parent / "rules")
HANDLER = BOOK.rule("db33.case.overdue")                 # responsible: handler
ORG = BOOK.rule("db33.indicator.p1")                     # responsible: org
SUPERVISOR = BOOK.rule("db33.cadence.self")          # responsible: supervisor
OTHER = BOOK.rule("db33.case.near_due")


@pytest.fixture
def db(store):
    store.db["orgs"].insert_all([
        {"code": "330100", "name": "杭州市", "parent": None, "level": "city"},
        {"code": "330102", "name": "上城区", "parent": "330100", "level": "district"},
        {"code": "330102H", "name": "上城区行政服务中心", "parent": "330102", "level": "hall"},
        {"code": "330102T", "name": "小营街道", "parent": "330102", "level": "township"},
    ])
    store.db["officers"].insert_all([
        {"id": "O9", "name": "窗口九", "org": "330102H", "role": "officer"},
        {"id": "O3", "name": "窗口三", "org": "330102H", "role": "officer"},
        {"id": "O7", "name": "区级七", "org": "330102", "role": "officer"},
        {"id": "S2", "name": "区监管", "org": "330102", "role": "supervisor"},
        {"id": "S0", "name": "市监管", "org": "330100", "role": "supervisor"},
    ])
    return store


def test_the_case_handler_is_responsible_and_the_nearest_supervisor_above(db, cfg):
    assert assign(db, cfg, HANDLER, "330102H", "O9") == ("O9", "S2")


def test_an_unknown_handler_falls_back_to_the_lowest_id_officer_of_the_org(db, cfg):
    assert assign(db, cfg, HANDLER, "330102H", "NOBODY") == ("O3", "S2")
    assert assign(db, cfg, HANDLER, "330102H", None) == ("O3", "S2")


def test_an_org_rule_ignores_the_handler(db, cfg):
    assert assign(db, cfg, ORG, "330102H", "O9") == ("O3", "S2")


def test_an_org_without_officers_walks_up_to_an_ancestor(db, cfg):
    assert assign(db, cfg, ORG, "330102T", None) == ("O7", "S2")


def test_a_supervisor_rule_goes_to_the_supervisor_with_the_next_one_above(db, cfg):
    assert assign(db, cfg, SUPERVISOR, "330102H", None) == ("S2", "S0")


def test_with_nobody_else_the_supervisor_is_responsible(db, cfg):
    assert assign(db, cfg, ORG, "330100", None) == ("S0", "S0")


def test_the_first_matching_override_wins_for_the_org_and_orgs_below(db, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "routing:\n  overrides:\n"
        "    - {rule: db33.case.near_due, org: '330102', assignee: O7}\n"
        "    - {org: '330102', assignee: O9}\n"
        "    - {assignee: S0}\n", encoding="utf-8")
    cfg = config_mod.load(path, database=str(tmp_path / "g.db"))
    assert assign(db, cfg, OTHER, "330102H", "O3") == ("O7", "S2")
    assert assign(db, cfg, HANDLER, "330102H", "O3") == ("O9", "S2")
    assert assign(db, cfg, HANDLER, "330100", "O3") == ("S0", "S0")
