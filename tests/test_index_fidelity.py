"""The efficacy index compares like with like (issue 13 item 9): one scale, incomplete orgs not
ranked, peer groups by org level, weights fixed per evaluation year, no ranking without data."""
from __future__ import annotations

import json

import pytest

from checker.reports.index import NoIndexData, compute_index, load_index, run_index
from checker.store import Store
from govwatch import cli

TREE = """\
index:
  name: 测试指数
  clause: "6.3"
  scope: {levels: [district, department]}
  weighting: {method: entropy}
  children:
    - name: 完备度
      weighting: {method: given}
      children:
        - {name: 渠道数, weight: 1.0, input: {metric: channels}, normalize: {method: minmax}}
    - name: 成效度
      weighting: {method: given}
      children:
        - {name: 使用度, weight: 1.0, input: {metric: usage}, normalize: {method: efficacy, best: 1.0, worst: 0.2}}
"""


def _seed(store, metrics):
    store.db["orgs"].insert_all([
        {"code": "R", "name": "市", "level": "city"},
        {"code": "D1", "name": "甲县", "parent": "R", "level": "district"},
        {"code": "D2", "name": "乙县", "parent": "R", "level": "district"},
        {"code": "D3", "name": "丙县", "parent": "R", "level": "district"},
        {"code": "B1", "name": "市人社局", "parent": "R", "level": "department"},
        {"code": "B2", "name": "市市场监管局", "parent": "R", "level": "department"},
    ])
    store.db["metrics"].insert_all([{"org": o, "period": p, "metric": m, "value": v} for o, p, m, v in metrics])


YEAR_2027 = [  # period, channels, usage per org; D3 has no usage at all (a dimension without data)
    ("D1", "2027", "channels", 4), ("D1", "2027", "usage", 0.6),
    ("D2", "2027", "channels", 2), ("D2", "2027", "usage", 1.0),
    ("D3", "2027", "channels", 6),
    ("B1", "2027", "channels", 3), ("B1", "2027", "usage", 0.8),
    ("B2", "2027", "channels", 1), ("B2", "2027", "usage", 0.4),
]


def test_leaves_share_one_scale_and_incomplete_orgs_are_listed_not_ranked(store, cfg, tmp_path):
    _seed(store, YEAR_2027)
    (tmp_path / "i.yaml").write_text(TREE, encoding="utf-8")
    rows = {r.org: r for r in compute_index(store, cfg, None, "2027", tree=load_index(tmp_path / "i.yaml"))}
    # efficacy 0.6 between worst 0.2 and best 1.0 → 50 on the common 0–100 scale (not 80)
    assert rows["D1"].dimensions["成效度"] == pytest.approx(50.0)
    assert rows["D2"].dimensions["成效度"] == pytest.approx(100.0)
    # D3 lacks 成效度: no total, no rank, listed with what is missing, after the complete districts
    assert (rows["D3"].score, rows["D3"].rank, rows["D3"].complete) == (None, None, False)
    assert rows["D3"].missing_dimensions == ("成效度",)
    assert rows["D3"].as_json()["group"] == "district" and rows["D3"].as_json()["complete"] is False


def test_districts_and_departments_are_ranked_in_their_own_groups(store, cfg, tmp_path):
    _seed(store, YEAR_2027)
    (tmp_path / "i.yaml").write_text(TREE, encoding="utf-8")
    rows = compute_index(store, cfg, None, "2027", tree=load_index(tmp_path / "i.yaml"))
    by_group = {}
    for r in rows:
        by_group.setdefault(r.group, []).append((r.org, r.rank))
    assert [g for g in by_group] == ["district", "department"]
    assert sorted(rank for _, rank in by_group["district"] if rank) == [1, 2]
    assert sorted(rank for _, rank in by_group["department"] if rank) == [1, 2]
    assert by_group["district"][-1] == ("D3", None)


def test_weights_are_fixed_for_the_evaluation_year_and_stored(store, cfg, tmp_path):
    _seed(store, YEAR_2027 + [
        ("D1", "2028-Q1", "channels", 4), ("D1", "2028-Q1", "usage", 0.3),
        ("D2", "2028-Q1", "channels", 5), ("D2", "2028-Q1", "usage", 0.9),
        ("D1", "2028-Q2", "channels", 1), ("D1", "2028-Q2", "usage", 0.9),
        ("D2", "2028-Q2", "channels", 9), ("D2", "2028-Q2", "usage", 0.2)])
    (tmp_path / "i.yaml").write_text(TREE, encoding="utf-8")
    tree = load_index(tmp_path / "i.yaml")
    q1 = run_index(store, cfg, None, "2028-Q1", tree=tree)
    q2 = run_index(store, cfg, None, "2028-Q2", tree=tree)
    assert q1.year == q2.year == 2028 and q1.base_period == q2.base_period == "2027"    # the year before
    assert q1.weights == q2.weights and set(q1.weights["测试指数"]) == {"完备度", "成效度"}
    stored = store.rows("SELECT period, year, base_period, weights FROM index_runs ORDER BY id")
    assert [(r["period"], r["base_period"]) for r in stored][-2:] == [("2028-Q1", "2027"), ("2028-Q2", "2027")]
    assert json.loads(stored[-1]["weights"]) == q2.weights


def test_a_period_without_data_is_not_ranked(store, cfg, tmp_path, capsys):
    _seed(store, YEAR_2027)
    (tmp_path / "i.yaml").write_text(TREE, encoding="utf-8")
    with pytest.raises(NoIndexData) as err:
        compute_index(store, cfg, None, "2025", tree=load_index(tmp_path / "i.yaml"))
    assert "2025年没有效能指数所需的数据" in str(err.value)


def test_index_command_says_there_is_no_data(tmp_path, capsys):
    db = str(tmp_path / "gw.db")
    Store(db).close()
    assert cli.main(["--db", db, "index", "--period", "2024", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [] and "没有效能指数所需的数据" in captured.err
