"""Errors the library raises; the CLI and the bot turn them into text and exit codes."""
from __future__ import annotations

from collections.abc import Iterable


class GovwatchError(Exception):
    """Base of every error a user can act on. Its message is meant for people."""

    exit_code = 2


class ConfigError(GovwatchError):
    """config.yaml is unreadable or breaks its schema."""


class InputError(GovwatchError):
    """An input file or argument cannot be used."""


class RuleError(GovwatchError):
    """A rule pack is invalid. `problems` lists every `file:line: problem`."""

    exit_code = 1

    def __init__(self, problems: Iterable[object]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotFound(GovwatchError):
    """A finding, case or officer named by the user does not exist."""


class Forbidden(GovwatchError):
    """The actor's role or org does not allow the action."""


class InvalidTransition(GovwatchError):
    """A finding cannot move from its status to the one asked for."""
