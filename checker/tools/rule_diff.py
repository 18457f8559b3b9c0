"""`govwatch rules diff OLD NEW`: which findings (rule, subject) a new rule set adds or drops,
evaluated in full against the current store at `now`; nothing is written to the findings."""
from __future__ import annotations

from typing import Any

from dataclasses import dataclass
from datetime import datetime

from ..evaluate.scan import evaluate
from ..rules.loader import load_packs


@dataclass(frozen=True)
class RuleDiff:
    added: tuple             # (rule, subject, message) that NEW fires and OLD does not
    dropped: tuple           # (rule, subject, message) that OLD fires and NEW does not
    unchanged: int

    def as_json(self) -> dict[str, Any]:
        row = lambda t: {"rule": t[0], "subject": t[1], "message": t[2]}  # noqa: E731
        return {"added": [row(t) for t in self.added], "dropped": [row(t) for t in self.dropped],
                "unchanged": self.unchanged}


def diff_rules(store, cfg, old_path, new_path, now: datetime) -> RuleDiff:
    old = _firings(store, cfg, load_packs(old_path), now)
    new = _firings(store, cfg, load_packs(new_path), now)
    return RuleDiff(tuple(new[k] for k in sorted(set(new) - set(old))),
                    tuple(old[k] for k in sorted(set(old) - set(new))), len(set(old) & set(new)))


def _firings(store, cfg, rulebook, now) -> dict[tuple[str, str], tuple[str, str, str | None]]:
    result = evaluate(store, cfg, rulebook, now, full=True)
    return {(f.rule.id, f.subject): (f.rule.id, f.subject, f.message) for f in result.firings}
