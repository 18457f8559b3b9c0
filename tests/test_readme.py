"""Documentation is tested: every command, bot command and rule kind appears in the README."""
from __future__ import annotations

import re

import pytest

from govwatch import cli

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_gives_the_two_fresh_machine_commands():
    assert "pip install -e '.[test]' && govwatch demo" in README
    assert "pip install -e '.[test]' && pytest" in README


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test]' && pytest" in ci


cli.build_parser()  # loads every command module, so COMMANDS is complete


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_is_documented(name):
    assert re.search(rf"govwatch {re.escape(name)}\b", README), f"`govwatch {name}` is not in README.md"


def test_every_bot_command_is_documented():
    import bot.app  # noqa: F401  (registers every handler)
    from bot.commands import BOT_COMMANDS

    assert len(BOT_COMMANDS) >= 10
    for name, _ in BOT_COMMANDS:
        assert f"/{name}" in README, f"bot command /{name} is not in README.md"


def test_every_rule_kind_and_operator_is_documented():
    from checker.rules import compiler, kinds

    for kind in kinds.RULE_KINDS:
        assert f"`{kind}`" in README, f"rule kind {kind} is not in README.md"
    for op in compiler.OPERATORS:
        assert f"`{op}`" in README, f"operator {op} is not in README.md"
