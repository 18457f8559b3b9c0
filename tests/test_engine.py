"""The durable-rules engine, for real: batches, the sink, versioned reloads, swallowed exceptions."""
from __future__ import annotations

import pytest

from checker.evaluate.engine import BATCH, Engine, EngineError
from checker.rules import load_packs

from test_rules_loader import GOOD_RULE, make_pack

NEAR = GOOD_RULE.replace("t.case.overdue", "t.case.near")
OPEN = """\
  - id: t.case.open
    kind: record
    record: cases
    clause: "5.2.1.5"
    title: 办件未办结
    severity: blue
    responsible: handler
    when: {field: status, ne: closed}
    message: "办件 {case_no}"
"""


@pytest.fixture
def engine():
    return Engine()          # a fresh Host per test (the process-wide one is Engine.instance())


def book(tmp_path, rules=NEAR + OPEN):
    return load_packs(make_pack(tmp_path, rules))


def test_many_batches_each_match_collected_once(tmp_path, engine):
    engine.load(book(tmp_path))
    events = [{"status": "accepted", "wd_left": i % 4, "case_no": f"C{i}"} for i in range(2 * BATCH + 7)]
    matched = engine.evaluate(["t.case.near"], events)
    assert [i for _, i in matched] == [i for i in range(len(events)) if i % 4 <= 1]


def batch_sizes(engine, monkeypatch) -> list[int]:
    """The size of every batch the engine posts from now on (the real post still runs)."""
    sizes, post = [], engine.host.post_batch
    monkeypatch.setattr(engine.host, "post_batch", lambda name, batch: sizes.append(len(batch)) or post(name, batch))
    return sizes


def test_equal_events_are_posted_once_and_answered_for_each(tmp_path, engine, monkeypatch):
    engine.load(book(tmp_path))
    posted = batch_sizes(engine, monkeypatch)
    events = [{"status": "accepted", "wd_left": i % 4} for i in range(3 * BATCH)]
    matched = engine.evaluate(["t.case.near"], events)
    assert [i for _, i in matched] == [i for i in range(len(events)) if i % 4 <= 1]
    assert posted == [4]                      # four distinct events, one batch


def test_events_equal_in_python_but_not_in_type_are_posted_apart(tmp_path, engine, monkeypatch):
    engine.load(book(tmp_path))
    events = [{"status": "accepted", "wd_left": 1}, {"status": "accepted", "wd_left": True},
              {"status": "accepted", "wd_left": 1.0}, {"status": "accepted", "wd_left": 1}]
    alone = [i for i, e in enumerate(events) if engine.evaluate(["t.case.near"], [e])]
    posted = batch_sizes(engine, monkeypatch)
    assert [i for _, i in engine.evaluate(["t.case.near"], events)] == alone
    assert posted == [3]


def test_an_event_matching_two_rules_fires_both_and_unmatched_events_do_not_raise(tmp_path, engine):
    engine.load(book(tmp_path))
    events = [{"status": "accepted", "wd_left": 0}, {"status": "closed"}, {}]
    assert engine.evaluate(["t.case.near", "t.case.open"], events) == [("t.case.near", 0), ("t.case.open", 0)]


def test_reposting_the_same_events_matches_again(tmp_path, engine):
    engine.load(book(tmp_path))
    events = [{"status": "processing", "wd_left": 1}]
    assert engine.evaluate(["t.case.near"], events) == engine.evaluate(["t.case.near"], events) == [("t.case.near", 0)]


def test_reload_registers_new_versioned_rulesets_and_swaps(tmp_path, engine):
    first = book(tmp_path / "a")
    engine.load(first)
    old = engine.compiled["t.case.near"].ruleset
    second = book(tmp_path / "b", NEAR.replace("near_days: 1", "near_days: 3"))
    engine.load(second)
    assert old == "t.case.near@2026.1#1" and engine.compiled["t.case.near"].ruleset == "t.case.near@2026.1#2"
    assert "t.case.open" not in engine.compiled
    assert engine.evaluate(["t.case.near"], [{"status": "accepted", "wd_left": 3}]) == [("t.case.near", 0)]


def test_a_failed_reload_keeps_the_loaded_rules(tmp_path, engine, monkeypatch):
    engine.load(book(tmp_path / "a"))
    loaded = dict(engine.compiled)
    from checker.rules import compiler
    monkeypatch.setattr(compiler, "ruleset", lambda rule: {"fire": {"match": {"m": {"$lt": {"a": 1}}}},
                                                           "sink": {"all": [{"m": {"$ex": {"_gw": 1}}}]}})
    with pytest.raises(EngineError, match="无法编译"):
        engine.load(book(tmp_path / "b"))
    assert engine.compiled == loaded


def test_an_exception_inside_an_action_surfaces(tmp_path, engine):
    engine.load(book(tmp_path))
    from durable.engine import Promise

    def boom(c):
        raise ValueError("boom")
    ruleset = engine.host.get_ruleset(engine.compiled["t.case.near"].ruleset)
    ruleset._actions["fire"] = Promise(boom)          # an action that fails inside durable-rules
    with pytest.raises(EngineError, match="t.case.near 的动作出错"):
        engine.evaluate(["t.case.near"], [{"status": "accepted", "wd_left": 0}])
    assert engine.evaluate(["t.case.open"], [{"status": "accepted"}]) == [("t.case.open", 0)]


def test_one_engine_per_process():
    assert Engine.instance() is Engine.instance()
