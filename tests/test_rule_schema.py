"""The rule language's JSON Schema is generated from the code that reads it (checker.rules.rule_schema),
and where two parts of the code must agree on a list, a test says so here."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import jsonschema

from checker import ingest
from checker.evaluate import indicators, supervision
from checker.evaluate.scan import evaluate
from checker.ingest.records import KINDS
from checker.rules import load_configured, schema
from checker.rules.compiler import OPERATORS
from checker.rules.kinds import ALWAYS, EVERY_UNITS, RECORD_RULE_KINDS, RULE_KINDS, TARGET_OPS, kind_fields
from checker.rules.loader import COMMON
from checker.rules.rule_schema import generate
from checker.store.scan import LIVE_SQL
from checker.tools.sample import write_sample
from govwatch.cli import main


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(generate())
    assert schema() == generate()


def test_each_kind_rule_is_the_common_keys_and_the_kinds_own():
    defs = generate()["$defs"]
    for name, kind in RULE_KINDS.items():
        assert set(defs[f"{name}_rule"]["properties"]) == set(COMMON) | set(kind.properties)
        assert set(kind.required) <= set(kind.properties)
    assert set(defs["condition"]["properties"]) == {"all", "any", "field"} | set(OPERATORS)
    assert set(defs["tests_file"]["properties"]["tests"]["items"]["properties"]["records"]["properties"]) == set(KINDS)


def test_govwatch_rules_schema_prints_the_generated_schema(capsys):
    assert main(["rules", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == generate()


def test_lists_that_must_agree():
    assert set(RECORD_RULE_KINDS) == set(LIVE_SQL)          # a record rule's kind has live-record SQL
    assert set(TARGET_OPS) == set(indicators._COMPARE)      # every target op can be compared
    assert set(EVERY_UNITS) == set(supervision._UNITS)      # every cadence unit has a name


def test_template_names_are_the_facts_the_scan_builds(tmp_path, cfg, store):
    """A message may name exactly what the scan puts in a firing's facts: every name a kind allows
    is a fact of some firing of that kind, and every fact is a name a message may use."""
    now = datetime(2026, 10, 14, 9, 0, tzinfo=cfg.tz)
    write_sample(tmp_path / "data", now, cases=300, seed=1, tz=cfg.tz)
    ingest.import_dir(store, cfg, tmp_path / "data")
    facts: dict[str, set[str]] = defaultdict(set)
    for firing in evaluate(store, cfg, load_configured(cfg), now).firings:
        rule = firing.rule
        named = {k for k in firing.facts if not k.startswith("_")}      # _template: the scan's own
        nameable = kind_fields(rule.record) if rule.kind == "record" else RULE_KINDS[rule.kind].template_names({})
        assert named <= nameable | ALWAYS | set(rule.params), (rule.id, named - nameable)
        facts[rule.kind] |= named
    assert set(facts) == set(RULE_KINDS)
    for name in ("indicator", "checklist", "cadence"):
        assert RULE_KINDS[name].template_names({}) <= facts[name], name
