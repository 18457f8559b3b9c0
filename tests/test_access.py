"""Access scopes: officers see their own findings, supervisors their org subtree, admins all."""
from __future__ import annotations

import pytest

from checker.errors import NotFound
from checker.findings.access import Scope


@pytest.fixture
def db(store):
    store.db["orgs"].insert_all([
        {"code": "330100", "name": "杭州市", "parent": None, "level": "city"},
        {"code": "330102", "name": "上城区", "parent": "330100", "level": "district"},
        {"code": "330102H", "name": "上城区行政服务中心", "parent": "330102", "level": "hall"},
        {"code": "330105", "name": "拱墅区", "parent": "330100", "level": "district"},
    ])
    store.db["officers"].insert_all([
        {"id": "O1", "name": "王一", "org": "330102H", "role": "officer", "telegram_id": 1001},
        {"id": "S2", "name": "区监管", "org": "330102", "role": "supervisor", "telegram_id": 1002},
        {"id": "A1", "name": "管理员", "org": "330100", "role": "admin"},
    ])
    return store


MINE = {"org": "330102H", "assignee": "O1"}
COLLEAGUES = {"org": "330102H", "assignee": "O8"}
OTHER_DISTRICT = {"org": "330105", "assignee": "O5"}
NO_ORG = {"org": None, "assignee": None}


def test_an_officer_sees_and_acts_on_their_own_findings_only(db):
    s = Scope.for_officer(db, "O1")
    assert (s.role, s.org) == ("officer", "330102H")
    assert s.can_see(MINE) and not s.can_see(COLLEAGUES)
    assert s.can_act(MINE, "ack") and s.can_act(MINE, "submit")
    assert not s.can_act(MINE, "verify") and not s.can_act(COLLEAGUES, "ack")


def test_a_supervisor_covers_their_org_and_every_org_below(db):
    s = Scope.for_officer(db, "S2")
    assert s.org_codes == {"330102", "330102H"}
    assert s.can_see(COLLEAGUES) and s.can_act(COLLEAGUES, "verify")
    assert not s.can_see(OTHER_DISTRICT) and not s.can_act(OTHER_DISTRICT, "verify")
    assert not s.can_see(NO_ORG)


def test_an_admin_sees_and_verifies_everything(db):
    s = Scope.for_officer(db, "A1")
    assert s.org_codes is None
    assert all(s.can_see(f) and s.can_act(f, "verify") for f in (MINE, OTHER_DISTRICT, NO_ORG))


def test_telegram_users_map_to_their_officer_and_strangers_to_none(db):
    assert Scope.for_telegram(db, 1002).officer_id == "S2"
    assert Scope.for_telegram(db, 999) is None


def test_an_unknown_officer_id_is_a_chinese_not_found(db):
    with pytest.raises(NotFound, match="未找到工号为 X1 的人员"):
        Scope.for_officer(db, "X1")


def test_unknown_actions_are_a_programming_error(db):
    with pytest.raises(ValueError):
        Scope.for_officer(db, "O1").can_act(MINE, "delete")
