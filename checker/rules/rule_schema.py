"""The JSON Schema of rule packs (pack.yaml, rule files, YAML tests, coverage.yaml), generated from the
code that reads them, as Cloud Custodian's c7n/schema.py walks its registries: the common rule keys
below, each kind's own keys (checker.rules.kinds.RULE_KINDS), the condition operators
(checker.rules.compiler.OPERATORS), the record kinds and org levels of the record contract
(checker.ingest.records). `govwatch rules schema` prints it; the loader validates with it.

Nothing is checked in: the schema is made when first asked for, so it cannot drift from the registries.
"""
from __future__ import annotations

from ..ingest.records import KINDS, ORG_LEVELS
from .compiler import OPERATORS
from .fragments import DOTTED_ID, IDENTIFIER, SCALAR, TEXT, Schema, array, enum, integer, obj, ref
from .kinds import RULE_KINDS
from .model import RESPONSIBLE, SEVERITIES

# What an operator's YAML value must be (Operator.value) → its schema.
OPERATOR_VALUES: dict[str, Schema] = {
    "scalar": ref("value"),
    "list": array(ref("value")),
    "bool": {"type": "boolean"},
    "regex": {"type": "string"},
}
COMMON_REQUIRED = ("id", "kind", "clause", "title", "severity", "responsible", "message")


def common_properties() -> Schema:
    """The keys every rule has, whatever its kind (DESIGN.md "Rules")."""
    return {
        "id": DOTTED_ID,
        "kind": enum(list(RULE_KINDS)),
        "clause": TEXT,
        "title": TEXT,
        "severity": enum(SEVERITIES),
        "responsible": enum(RESPONSIBLE),
        "message": TEXT,
        "params": {"type": "object", "additionalProperties": False,
                   "patternProperties": {IDENTIFIER["pattern"]: SCALAR}},
        "enabled": {"type": "boolean"},
        "rectify_days": integer(0),
    }


def generate() -> Schema:
    """The whole schema: `$defs` pack, rules_file, rule → <kind>_rule, condition, tests_file, coverage."""
    defs: Schema = {
        "param_ref": obj({"param": IDENTIFIER}, ("param",)),
        "value": {"anyOf": [SCALAR, ref("param_ref")]},
        "condition": _condition(),
        "measure": {"anyOf": [{"const": "count"}, obj({"sum": IDENTIFIER}, ("sum",))]},
        "scope": obj({"levels": array(enum(ORG_LEVELS), minItems=1)}, ("levels",)),
    }
    for kind in RULE_KINDS.values():
        defs[f"{kind.name}_rule"] = obj({**common_properties(), **kind.properties},
                                        COMMON_REQUIRED + kind.required)
    defs["rule"] = {"type": "object", "required": ["kind"],
                    "allOf": [{"if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                               "then": ref(f"{name}_rule")} for name in RULE_KINDS],
                    "properties": {"kind": enum(list(RULE_KINDS))}}
    defs["rules_file"] = obj({"rules": array(ref("rule"))}, ("rules",))
    defs["pack"] = obj({"standard": obj({"number": TEXT, "title": TEXT, "version": {"type": ["string", "number"]},
                                         "short": {"type": "string", "pattern": "^[a-z0-9_]+$"}},
                                        ("number", "title", "version", "short"))}, ("standard",))
    defs["coverage"] = _coverage()
    defs["tests_file"] = _tests_file()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://govwatch.example/rules.schema.json",
            "title": "govwatch rule packs: pack.yaml, rule files, YAML tests, coverage.yaml",
            "$defs": defs}


def _condition() -> Schema:
    tree = {"all": array(ref("condition"), minItems=1), "any": array(ref("condition"), minItems=1),
            "field": IDENTIFIER}
    leaves = {name: OPERATOR_VALUES[op.value] for name, op in OPERATORS.items()}
    return obj({**tree, **leaves}, minProperties=1,
               description="all/any of conditions, or a leaf {field: NAME, OP: VALUE}")


def _coverage() -> Schema:
    names = array(TEXT)
    clause = obj({"clause": TEXT, "title": {"type": "string"}, "rules": names, "checks": names, "reports": names,
                  "features": names, "left_to_people": TEXT, "note": {"type": "string"}}, ("clause", "title"))
    return obj({"standard": {"type": "string"}, "clauses": array(clause)}, ("clauses",))


def _tests_file() -> Schema:
    row = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}
    finding = obj({"rule": {"type": "string"}, "subject": {"type": "string"}, "severity": enum(SEVERITIES),
                   "message_contains": {"type": "string"}}, ("rule", "subject"))
    absent = obj({"rule": {"type": "string"}, "subject": {"type": "string"}}, ("rule", "subject"))
    indicator = obj({"code": {"type": "string"}, "org": {"type": "string"}, "period": {"type": "string"},
                     "value": {"type": ["number", "null"]}, "passed": {"type": ["boolean", "null"]},
                     "numerator": {"type": "number"}, "denominator": {"type": "number"}}, ("code", "org", "period"))
    test = obj({"name": TEXT, "now": {"type": "string", "minLength": 10},
                "records": obj({kind: array(row) for kind in KINDS}),
                "only_rules": array(TEXT), "expect_findings": array(finding), "expect_absent": array(absent),
                "expect_indicators": array(indicator)}, ("name", "now"))
    return obj({"tests": array(test)}, ("tests",))
