"""The rule book the running service uses, swapped whole when the rule files change.

Admins edit the YAML rule packs while `govwatch serve` runs. The holder keeps a fingerprint
(SHA-256 of every file's path and bytes) of what it loaded; `reload_if_changed` loads the new
files with `checker.rules.load_packs` and swaps only when they load without error: a bad edit is
refused and the old rules stay in use (all or nothing).
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from collections.abc import Collection
from pathlib import Path

from ..config import Config
from ..errors import GovwatchError
from .choice import ChoiceRepo, choose_packs
from .loader import load_packs, only
from .model import RuleBook

def fingerprint(path: Path) -> str:
    """A hash of the rule folder: every file's relative path and content."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")):
        h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Reload:
    """The outcome of one look at the rule files."""
    changed: bool
    loaded: bool = False
    problems: tuple[str, ...] = ()
    version: str | None = None


class RulesHolder:
    """The current RuleBook; readers take `holder.rulebook`, the watcher swaps it."""

    def __init__(self, path: Path, rulebook: RuleBook, digest: str, packs: Collection[str] | None = None):
        self.path = Path(path)
        self.packs = packs             # short names to enforce (config `packs`); None = all
        self._rulebook = rulebook
        self._digest = digest          # what is loaded
        self._refused: str | None = None    # the digest of a bad edit already reported
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path, packs: Collection[str] | None = None) -> "RulesHolder":
        """Load the rules at start (raises RuleError: the service does not start on bad rules)."""
        digest = fingerprint(Path(path))
        return cls(Path(path), only(load_packs(path), packs), digest, packs)

    @classmethod
    def from_config(cls, cfg: Config, store: ChoiceRepo | None = None) -> "RulesHolder":
        """The configured packs; with neither `packs` nor `province` set, the province the store's org
        codes show (checker.rules.choice), else every pack."""
        return cls.load(cfg.rules_path(), choose_packs(cfg, store).packs)

    @property
    def rulebook(self) -> RuleBook:
        return self._rulebook

    def reload_if_changed(self) -> Reload:
        """Reload when the files changed since the last load (or the last refused edit)."""
        digest = fingerprint(self.path)
        if digest in (self._digest, self._refused):
            return Reload(changed=False)
        return self._reload(digest)

    def _reload(self, digest: str) -> Reload:
        try:
            rulebook = only(load_packs(self.path), self.packs)
        except GovwatchError as exc:     # RuleError lists every file:line problem
            self._refused = digest
            problems = getattr(exc, "problems", None) or [exc]
            return Reload(changed=True, loaded=False, problems=tuple(str(p) for p in problems))
        with self._lock:
            self._rulebook, self._digest, self._refused = rulebook, digest, None
        return Reload(changed=True, loaded=True, version=getattr(rulebook, "version", None))
