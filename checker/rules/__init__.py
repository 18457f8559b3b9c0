"""Rule packs: the rule language (schema.json), the loader, the condition compiler, YAML tests,
coverage and diff. See docs/rules.md and docs/ARCHITECTURE.md "Rule packs"."""
from .loader import load, load_configured, load_packs, schema
from .model import (All, Any, CadenceRule, ChecklistRule, IndicatorRule, Leaf, Pack, Param, RecordRule, Rule,
                    RuleBook)
from .problems import Problem
from .validate import validate_paths

__all__ = ["All", "Any", "CadenceRule", "ChecklistRule", "IndicatorRule", "Leaf", "Pack", "Param", "Problem",
           "RecordRule", "Rule", "RuleBook", "load", "load_configured", "load_packs", "schema", "validate_paths"]
