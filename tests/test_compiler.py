"""The condition compiler: durable-rules JSON and SQL for every operator; the schema knows every
operator and rule kind the code knows."""
from __future__ import annotations

import pytest

from checker.rules import compiler, kinds, schema
from checker.rules.model import All, Any, Leaf, Param


@pytest.mark.parametrize("op, value, dr, sql, bound", [
    ("eq", "closed", {"status": "closed"}, '("status" = :_c0)', {"_c0": "closed"}),
    ("ne", "closed", {"$neq": {"status": "closed"}}, '("status" != :_c0)', {"_c0": "closed"}),
    ("lt", 3, {"$lt": {"status": 3}}, '("status" < :_c0)', {"_c0": 3}),
    ("lte", 3, {"$lte": {"status": 3}}, '("status" <= :_c0)', {"_c0": 3}),
    ("gt", 3, {"$gt": {"status": 3}}, '("status" > :_c0)', {"_c0": 3}),
    ("gte", 3, {"$gte": {"status": 3}}, '("status" >= :_c0)', {"_c0": 3}),
    ("in", ("a", "b"), {"$or": [{"status": "a"}, {"status": "b"}]}, '("status" IN (:_c0, :_c1))',
     {"_c0": "a", "_c1": "b"}),
    ("not_in", ("a", "b"), {"$and": [{"$neq": {"status": "a"}}, {"$neq": {"status": "b"}}]},
     '("status" NOT IN (:_c0, :_c1))', {"_c0": "a", "_c1": "b"}),
    ("exists", True, {"$ex": {"status": 1}}, '("status" IS NOT NULL)', {}),
    ("exists", False, {"$nex": {"status": 1}}, '("status" IS NULL)', {}),
    ("matches", "acc.*", {"$mt": {"status": "acc.*"}}, '(regexp_full(:_c0, "status"))', {"_c0": "acc.*"}),
])
def test_each_operator_compiles_to_durable_rules_and_sql(op, value, dr, sql, bound):
    leaf = Leaf("status", op, value)
    assert compiler.to_dr(leaf) == dr
    assert compiler.to_sql("cases", leaf) == (sql, bound)


def test_trees_params_and_derived_fields():
    cond = All((Leaf("status", "in", ("accepted",)), Any((Leaf("concluded", "eq", True),
                                                          Leaf("visits", "gt", Param("max_visits"))))))
    assert compiler.to_dr(cond, {"max_visits": 1}) == {"$and": [
        {"$or": [{"status": "accepted"}]}, {"$or": [{"concluded": True}, {"$gt": {"visits": 1}}]}]}
    sql, bound = compiler.to_sql("cases", cond, {"max_visits": 1})
    assert sql == ('(("status" IN (:_c0)) AND ((CAST((cases.status IN (\'closed\', \'rejected\') AND cases.closed_at IS NOT NULL) AS INT) = :_c1)'
                   ' OR ("visits" > :_c2)))')
    assert bound == {"_c0": "accepted", "_c1": 1, "_c2": 1}


def test_every_derived_field_has_its_sql_form_and_unknown_names_are_refused():
    assert compiler.to_sql("cases", Leaf("wd_left", "lt", 0))[0].startswith("(((SELECT ord FROM workdays")
    with pytest.raises(compiler.SQLError, match="wd_gone"):
        compiler.to_sql("cases", Leaf("wd_gone", "lt", 0))
    with pytest.raises(compiler.SQLError):
        compiler.to_sql("cases", Leaf('x" OR 1=1 --', "eq", 1))


def test_sql_runs_against_sqlite(store):
    store.db["cases"].insert_all([
        {"case_no": "C1", "item_code": "I", "org": "O", "channel": "window", "accepted_at": "2026-10-09T09:00:00+08:00",
         "status": "processing"},
        {"case_no": "C2", "item_code": "I", "org": "O", "channel": "online", "accepted_at": "2026-10-09T09:00:00+08:00",
         "status": "closed", "closed_at": "2026-10-10T09:00:00+08:00"}])
    sql, bound = compiler.to_sql("cases", Any((Leaf("case_no", "matches", "C1"), Leaf("concluded", "eq", True))))
    assert [r["case_no"] for r in store.rows(f"SELECT case_no FROM cases WHERE {sql} ORDER BY 1", bound)] == ["C1", "C2"]
    sql, bound = compiler.to_sql("cases", Leaf("case_no", "matches", "C"))
    assert store.rows(f"SELECT case_no FROM cases WHERE {sql}", bound) == []      # a full match


def test_schema_knows_every_operator_and_rule_kind():
    defs = schema()["$defs"]
    assert set(compiler.OPERATORS) <= set(defs["condition"]["properties"])
    assert set(defs["condition"]["properties"]) - {"all", "any", "field"} == set(compiler.OPERATORS)
    assert set(kinds.RULE_KINDS) == set(defs["rule"]["properties"]["kind"]["enum"])
    assert all(f"{k}_rule" in defs for k in kinds.RULE_KINDS)


def test_every_definition_refuses_unknown_keys():
    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, node
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    defs = dict(schema()["$defs"])
    defs.pop("rule")        # dispatches on `kind` to the <kind>_rule definitions, which refuse them
    walk(defs)
