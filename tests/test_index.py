"""The efficacy index of DB50/T 957.7 §6.3: each normalisation and weighting method against figures
computed by hand, the validation of index.yaml (file:line errors), and synthesis with ranking on a
real SQLite store."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from checker.errors import RuleError
from checker.reports import index_math as im
from checker.reports.index import COMPUTED, INPUTS, NORMALISE, compute_index, load_index
from checker.reports.index import schema as index_schema

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- normalisation (§6.3.2.1)

def test_efficacy_coefficient_scores_between_disallowed_and_satisfactory_values():
    assert im.efficacy(0.9, best=1.0, worst=0.5) == pytest.approx(92.0)      # 60 + 40 × 0.4/0.5
    assert im.efficacy(0.3, best=1.0, worst=0.5) == 60.0                     # below 不允许值
    assert im.efficacy(1.2, best=1.0, worst=0.5) == 100.0                    # above 满意值


def test_efficacy_coefficient_when_lower_is_better():
    # 时效异常 5%: x_h = 0, x_s = 0.2 → 60 + 40 × (0.05 − 0.2)/(0 − 0.2) = 90
    assert im.efficacy(0.05, best=0.0, worst=0.2) == pytest.approx(90.0)


def test_graded_band_formula_interpolates_inside_the_band():
    bands = [(0.5, 60), (0.8, 80), (0.9, 90), (1.0, 100)]
    assert im.banded(0.85, bands) == pytest.approx(85.0)    # 80 + (0.85 − 0.8)/(0.9 − 0.8) × (90 − 80)
    assert im.banded(0.65, bands) == pytest.approx(70.0)    # 60 + 0.15/0.3 × 20
    assert im.banded(0.40, bands) == 60.0
    assert im.banded(1.00, bands) == 100.0


def test_graded_band_with_descending_values_for_lower_is_better():
    bands = [(0.3, 60), (0.1, 90), (0.0, 100)]
    assert im.banded(0.2, bands) == pytest.approx(75.0)     # 60 + (0.2 − 0.3)/(0.1 − 0.3) × 30


def test_min_max_z_score_log_and_atan():
    assert im.min_max(4, [2, 4, 6]) == pytest.approx(50.0)
    assert im.min_max(6, [2, 4, 6], higher_better=False) == pytest.approx(0.0)
    z = (6 - 4) / math.sqrt(8 / 3)                           # population σ of 2, 4, 6
    assert im.z_score(6, [2, 4, 6]) == pytest.approx(50 + 10 * z)
    assert im.z_score(6, [2, 4, 6], higher_better=False) == pytest.approx(50 - 10 * z)
    assert im.log_scale(100, [10, 100, 1000]) == pytest.approx(100 * 2 / 3)
    assert im.atan_scale(1.0) == pytest.approx(50.0)         # atan(1) × 2/π = 0.5


# ---------------------------------------------------------------- weights (§6.3.2.2)

def test_ahp_consistent_matrix_gives_its_exact_weight_vector():
    a = im.ahp([[1, 2, 4], [1 / 2, 1, 2], [1 / 4, 1 / 2, 1]])
    assert a.weights == pytest.approx((4 / 7, 2 / 7, 1 / 7))
    assert a.lambda_max == pytest.approx(3.0)
    assert a.cr == pytest.approx(0.0, abs=1e-9)


def test_ahp_saaty_textbook_matrix_weights_and_consistency_ratio():
    a = im.ahp([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]])
    assert a.weights == pytest.approx((0.6370, 0.2583, 0.1047), abs=5e-4)
    assert a.lambda_max == pytest.approx(3.0385, abs=5e-4)
    assert a.ci == pytest.approx(0.0193, abs=5e-4)
    assert a.cr == pytest.approx(0.0193 / 0.58, abs=1e-3)    # RI(3) = 0.58


def test_ahp_inconsistent_matrix_is_rejected():
    with pytest.raises(im.IndexMathError, match="CR"):
        im.ahp([[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]])   # A > B > C > A


def test_ahp_matrix_must_be_reciprocal():
    with pytest.raises(im.IndexMathError, match="倒数"):
        im.ahp([[1, 2], [2, 1]])


def test_weights_of_a_level_must_sum_to_one():
    im.check_weights([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(im.IndexMathError, match="之和应为 1"):
        im.check_weights([0.5, 0.4])


def test_entropy_weights_by_hand():
    # column 1: p = 1/6, 2/6, 3/6 → e = 0.920619, d = 0.079381
    # column 2: p = 1/4, 1/4, 1/2 → e = 0.946395, d = 0.053605
    w = im.entropy_weights([[1, 2, 3], [2, 2, 4]])
    assert w == pytest.approx((0.079381 / 0.132986, 0.053605 / 0.132986), abs=1e-4)


def test_entropy_gives_no_weight_to_an_indicator_that_does_not_vary():
    assert im.entropy_weights([[5, 5, 5], [1, 2, 3]]) == pytest.approx((0.0, 1.0))


def test_coefficient_of_variation_weights_by_hand():
    # cv1 = 0.816497/2 = 0.408248, cv2 = 0.942809/2.666667 = 0.353553
    w = im.cv_weights([[1, 2, 3], [2, 2, 4]])
    assert w == pytest.approx((0.408248 / 0.761801, 0.353553 / 0.761801), abs=1e-5)


# ---------------------------------------------------------------- synthesis and ranking (§6.3.2.3–4)

def test_weighted_sum_reweights_parts_without_data():
    assert im.weighted_sum([80, 60], [0.7, 0.3]) == pytest.approx(74.0)
    assert im.weighted_sum([80, None, 60], [0.5, 0.3, 0.2]) == pytest.approx((40 + 12) / 0.7)
    assert im.weighted_sum([None, None], [0.5, 0.5]) is None


def test_rank_shares_places_on_ties():
    assert im.rank({"a": 90, "b": 95, "c": 90, "d": None}) == {"a": 2, "b": 1, "c": 2, "d": None}


# ---------------------------------------------------------------- index.yaml validation

TREE = """\
index:
  name: 测试指数
  clause: "6.3"
  scope: {levels: [district]}
  weighting: {method: given}
  children:
    - name: 甲度
      weight: 0.6
      weighting: {method: given}
      children:
        - {name: 指标一, weight: 1.0, input: {metric: m1}, normalize: {method: efficacy, best: 1.0, worst: 0.0}}
    - name: 乙度
      weight: 0.4
      weighting: {method: given}
      children:
        - {name: 三级网上办理, weight: 1.0, input: {computed: online_depth_at_least, depth: 3},
           normalize: {method: efficacy, best: 1.0, worst: 0.0}}
"""


def _write(tmp_path, text) -> Path:
    p = tmp_path / "index.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_index_tree_has_the_five_dimensions_of_appendix_a():
    tree = load_index(ROOT / "rules" / "db50" / "index.yaml")
    assert [d.name for d in tree.root.children] == ["服务方式完备度", "服务事项覆盖度", "办事指南准确度",
                                                    "在线办理深度", "在线服务成效度"]
    assert tree.root.weighting.method == "ahp" and tree.root.weighting.cr < 0.1
    leaves = {leaf.name: leaf for leaf in tree.root.leaves()}
    assert leaves["即办程度"].input.indicator == "P6"
    assert leaves["承诺办结"].input.indicator == "P5"
    assert leaves["综合窗口"].input.indicator == "P2"
    assert leaves["时效异常"].input.computed == "overdue_share" and not leaves["时效异常"].higher_better


def test_weights_not_summing_to_one_are_rejected_with_file_and_line(tmp_path):
    p = _write(tmp_path, TREE.replace("weight: 0.4", "weight: 0.3"))
    with pytest.raises(RuleError) as err:
        load_index(p)
    assert f"{p}:5:" in str(err.value) and "之和应为 1" in str(err.value)


def test_inconsistent_ahp_matrix_in_yaml_is_rejected(tmp_path):
    text = TREE.replace("  weighting: {method: given}\n  children:",
                        "  weighting: {method: ahp, matrix: [[1, 0.2], [5, 1]]}\n  children:", 1)
    text = text.replace("      weight: 0.6\n", "").replace("      weight: 0.4\n", "")
    load_index(_write(tmp_path, text))                          # order 2 is always consistent
    bad = TREE.replace("  weighting: {method: given}\n  children:",
                       "  weighting: {method: ahp, matrix: [[1, 9, 0.1111111], [0.1111111, 1, 9], [9, 0.1111111, 1]]}"
                       "\n  children:", 1)
    bad = bad.replace("      weight: 0.6\n", "").replace("      weight: 0.4\n", "")
    bad += "    - name: 丙度\n      weighting: {method: given}\n      children:\n" \
           "        - {name: 指标三, weight: 1.0, input: {metric: m3}, normalize: {method: atan}}\n"
    with pytest.raises(RuleError, match="CR"):
        load_index(_write(tmp_path, bad))


def test_unknown_key_is_rejected_with_its_line(tmp_path):
    p = _write(tmp_path, TREE.replace("      weight: 0.6\n", "      weight: 0.6\n      colour: red\n"))
    with pytest.raises(RuleError) as err:
        load_index(p)
    assert f"{p}:7:" in str(err.value) and "colour" in str(err.value)


def test_a_duplicate_key_is_rejected_with_its_line_like_a_rule_file(tmp_path):
    p = _write(tmp_path, TREE.replace("      weight: 0.6\n", "      weight: 0.6\n      weight: 0.5\n"))
    with pytest.raises(RuleError) as err:
        load_index(p)
    assert f"{p}:9: 重复的键 'weight'" in str(err.value)


def test_a_node_cannot_be_both_group_and_leaf(tmp_path):
    p = _write(tmp_path, TREE.replace("      weighting: {method: given}\n      children:\n        - {name: 指标一",
                                      "      input: {metric: x}\n      weighting: {method: given}\n      children:\n"
                                      "        - {name: 指标一", 1))
    with pytest.raises(RuleError, match="分组"):
        load_index(p)


# ---------------------------------------------------------------- compute_index on a store

def _seed(store):
    store.db["orgs"].insert_all([
        {"code": "C", "name": "市", "level": "city"},
        {"code": "A", "name": "甲区", "parent": "C", "level": "district"},
        {"code": "B", "name": "乙区", "parent": "C", "level": "district"},
    ])
    store.db["items"].insert_all([
        {"code": "IA1", "name": "事项1", "org": "A", "in_scope": 1, "online_depth": 4},
        {"code": "IA2", "name": "事项2", "org": "A", "in_scope": 1, "online_depth": 2},
        {"code": "IB1", "name": "事项3", "org": "B", "in_scope": 1, "online_depth": 3},
    ])
    store.db["metrics"].insert_all([
        {"org": "A", "period": "2026-07", "metric": "m1", "value": 0.4},     # Q3 mean 0.5
        {"org": "A", "period": "2026-08", "metric": "m1", "value": 0.6},
        {"org": "B", "period": "2026-Q3", "metric": "m1", "value": 1.0},
        {"org": "A", "period": "2026-Q2", "metric": "m1", "value": 1.0},
    ])


def test_compute_index_synthesises_ranks_and_compares_with_the_previous_period(store, cfg, tmp_path):
    _seed(store)
    tree = load_index(_write(tmp_path, TREE))
    rows = {r.org: r for r in compute_index(store, cfg, None, "2026-Q3", tree=tree)}
    # One scale (0–100) for every leaf: efficacy 60–100 maps onto 0–100.
    # A: m1 0.5 → 50; depth ≥ 3 share 1/2 → 50; 0.6 × 50 + 0.4 × 50 = 50
    # B: m1 1.0 → 100; share 1 → 100
    assert rows["A"].score == pytest.approx(50.0) and rows["B"].score == pytest.approx(100.0)
    assert (rows["B"].rank, rows["A"].rank) == (1, 2)
    assert rows["A"].dimensions == pytest.approx({"甲度": 50.0, "乙度": 50.0})
    # Q2: A m1 1.0 → 100 → 0.6 × 100 + 0.4 × 50 = 80; B has no m1 in Q2: incomplete then, no change
    assert rows["A"].change == pytest.approx(50.0 - 80.0)
    assert rows["B"].change is None
    assert "C" not in rows                                         # scope: districts


def test_index_json_shape(store, cfg, tmp_path):
    _seed(store)
    tree = load_index(_write(tmp_path, TREE))
    out = [r.as_json() for r in compute_index(store, cfg, None, "2026-Q3", tree=tree)]
    assert set(out[0]) >= {"org", "score", "rank", "dimensions", "change"}
    json.dumps(out, ensure_ascii=False)


def test_index_schema_names_what_the_code_computes():
    """index_schema.json's input kinds, computed inputs and normalisation methods are the tables of
    checker.reports.index (a name only the schema knew would pass validation and fail the computation)."""
    defs = index_schema()["$defs"]
    assert set(defs["input"]["properties"]) == set(INPUTS) | {"depth"}      # depth: a computed input's argument
    assert set(defs["input"]["properties"]["computed"]["enum"]) == set(COMPUTED)
    assert set(defs["normalize"]["properties"]["method"]["enum"]) == set(NORMALISE)
