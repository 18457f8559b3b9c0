"""`govwatch rules diff OLD NEW`: which findings (rule, subject) a new rule set adds or drops,
evaluated in full against the current store at `now`; nothing is written to the findings."""
from __future__ import annotations

from typing import Any

from dataclasses import dataclass
from datetime import datetime

from ..config import Config
from ..evaluate.scan import ScanRepo, evaluate
from ..rules.loader import RulePaths, load_packs
from ..rules.model import RuleBook

Fired = tuple[str, str, "str | None"]          # (rule, subject, message)


@dataclass(frozen=True)
class RuleDiff:
    added: tuple[Fired, ...]             # (rule, subject, message) that NEW fires and OLD does not
    dropped: tuple[Fired, ...]           # (rule, subject, message) that OLD fires and NEW does not
    unchanged: int

    def as_json(self) -> dict[str, Any]:
        def row(t: Fired) -> dict[str, Any]:
            return {"rule": t[0], "subject": t[1], "message": t[2]}
        return {"added": [row(t) for t in self.added], "dropped": [row(t) for t in self.dropped],
                "unchanged": self.unchanged}


def diff_rules(store: ScanRepo, cfg: Config, old_path: RulePaths, new_path: RulePaths, now: datetime) -> RuleDiff:
    old = _firings(store, cfg, load_packs(old_path), now)
    new = _firings(store, cfg, load_packs(new_path), now)
    return RuleDiff(tuple(new[k] for k in sorted(set(new) - set(old))),
                    tuple(old[k] for k in sorted(set(old) - set(new))), len(set(old) & set(new)))


def _firings(store: ScanRepo, cfg: Config, rulebook: RuleBook, now: datetime) -> dict[tuple[str, str], Fired]:
    result = evaluate(store, cfg, rulebook, now, full=True)
    return {(f.rule.id, f.subject): (f.rule.id, f.subject, f.message) for f in result.firings}
