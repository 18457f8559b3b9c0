"""Documentation is tested: the README gives the two commands; every command, bot command, rule kind
and operator appears somewhere in the docs/ tree; every option and action of every command is in its
synopsis, and every text command of the DingTalk bot is listed; every relative link between the pages
resolves."""
from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

import pytest

from bot import textbot
from bot.commands import BOT_COMMANDS
from checker.ingest import derived
from checker.rules import compiler, kinds, load_packs
from checker.rules.coverage import coverage
from govwatch import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "bench" / "README.md", ROOT / "CHANGELOG.md"]
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)


def test_readme_gives_the_two_fresh_machine_commands():
    assert "pip install -e '.[test]' && govwatch demo" in README
    assert "pip install -e '.[test]' && pytest" in README


def test_the_readme_stays_short():
    assert len(README.encode("utf-8")) <= 12 * 1024


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test]' && pytest" in ci


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_is_documented(name):
    assert re.search(rf"govwatch {re.escape(name)}\b", DOCS), f"`govwatch {name}` is not in docs/"


def test_every_bot_command_is_documented():
    assert len(BOT_COMMANDS) >= 10
    for name, _ in BOT_COMMANDS:
        assert f"/{name}" in DOCS, f"bot command /{name} is not in docs/"


def test_every_rule_kind_and_operator_is_documented():
    for kind in kinds.RULE_KINDS:
        assert f"`{kind}`" in DOCS, f"rule kind {kind} is not in docs/"
    for op in compiler.OPERATORS:
        assert f"`{op}`" in DOCS, f"operator {op} is not in docs/"


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
        assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"


def _module_path(module: str) -> str:
    """checker.store.findings → checker/store/findings.py; a package → its __init__.py."""
    path = ROOT / Path(*module.split("."))
    return (path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).relative_to(ROOT).as_posix()


def test_the_types_section_counts_and_lists_what_mypy_does_not_check():
    """docs/ARCHITECTURE.md "Types" says how many checker modules mypy checks (all but those whose
    errors an override ignores), how many strictly (all checked but those an override relaxes), and
    lists every module it does not check yet."""
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert mypy["files"] == ["checker"] and mypy["strict"] is True
    every = {p.relative_to(ROOT).as_posix() for p in (ROOT / "checker").rglob("*.py")}
    checker_overrides = [o for o in mypy["overrides"] if all(m.startswith("checker") for m in o["module"])]
    unchecked = {_module_path(m) for o in checker_overrides if o.get("ignore_errors") for m in o["module"]}
    relaxed = {_module_path(m) for o in checker_overrides if o.get("disallow_untyped_defs") is False
               for m in o["module"]}
    assert unchecked | relaxed <= every
    checked = every - unchecked
    strict = checked - relaxed
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8").split("## Types", 1)[1]
    assert f"{len(checked)} modules pass mypy's default checks" in text
    assert f"{len(strict)} of them also pass the strict flags" in text
    assert re.search(rf"The other {len(every - checked)} modules? (is|are) not checked", text) or (
        not every - checked and "Every module is checked" in text)
    assert set(re.findall(r"^- `(checker/[^`]+)`", text, re.M)) == every - checked


RULES_GUIDE = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
PACKS = sorted(p.name for p in (ROOT / "rules").iterdir() if (p / "pack.yaml").is_file())


@pytest.mark.parametrize("pack", PACKS)
def test_the_rule_guide_lists_every_shipped_rule_and_its_counts(pack):
    """docs/rules.md's table of a shipped pack is the pack: every rule id in it, and the pack's rule and
    clause counts as `govwatch rules list` and `rules coverage` give them (a rule added to a pack with no
    row in the admins' guide fails here)."""
    folder = ROOT / "rules" / pack
    ids = [r.id for r in load_packs([str(folder)]).rules]
    missing = [i for i in ids if f"`{i}`" not in RULES_GUIDE]
    assert not missing, f"docs/rules.md has no row for {missing}"
    n = coverage([str(folder)]).counts()
    clauses = sum(n.values())
    assert f"{len(ids)} 条规则；`coverage.yaml` 列出 {clauses} 条条款，其中 {n['left_to_people']} 条由人工判定" in RULES_GUIDE


def test_the_rule_guide_names_every_derived_field_and_record_kind():
    for kind in kinds.RECORD_RULE_KINDS:
        assert f"`{kind}`" in RULES_GUIDE, f"record kind {kind} is not in docs/rules.md"
        for name in sorted(derived.names(kind)):
            assert f"`{name}`" in RULES_GUIDE, f"derived field {kind}.{name} is not in docs/rules.md"


# The user docs: where a command's synopsis (a fenced line starting `govwatch …`) may live.
USER_DOCS = [ROOT / "docs" / name for name in ("commands.md", "rules.md", "reports.md", "operations.md")]


def _synopses() -> dict[str, str]:
    """Command name → the text of its synopsis lines in the user docs' code blocks (a line starting
    `govwatch`, with the indented lines that continue it); "" → the lines naming no command (the global
    options' synopsis)."""
    out: dict[str, str] = {}
    for page in USER_DOCS:
        for block in re.findall(r"^```[^\n]*\n(.*?)^```", page.read_text(encoding="utf-8"), re.M | re.S):
            name = None
            for line in block.splitlines():
                if line.startswith("govwatch "):
                    name = next((w for w in line.split()[1:] if w in cli.COMMANDS), "")
                elif not (line.startswith(" ") and name is not None):
                    name = None
                    continue
                out[name] = out.get(name, "") + "\n" + line
    return out


def _parsers(parser, path=()):
    """(command path, parser) for the root parser and every command and subcommand under it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def _options(parser) -> list[str]:
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"]


def _choices(parser) -> list[str]:
    """The words a positional argument takes (a command's actions: `rules validate`, `silences add`)."""
    return [c for a in parser._actions if not a.option_strings and a.choices and
            not isinstance(a, argparse._SubParsersAction) for c in a.choices]


COMMAND_PARSERS = list(_parsers(cli.build_parser()))


@pytest.mark.parametrize("path,parser", COMMAND_PARSERS, ids=[" ".join(p) or "govwatch" for p, _ in COMMAND_PARSERS])
def test_every_option_and_action_is_in_the_commands_synopsis(path, parser):
    """Each `--long-option` of each command (and the global ones) is in that command's synopsis in the
    user docs, and so is each action a command takes; an option added to govwatch/cli.py or a command
    module without a word in docs/ fails here."""
    synopsis = _synopses().get(path[-1] if path else "", "")
    assert synopsis, f"`govwatch {' '.join(path)}` has no synopsis (a code block line `govwatch …`) in docs/"
    written = set(re.findall(r"--[a-z][a-z-]*", synopsis))
    missing = [o for o in _options(parser) if o not in written]
    assert not missing, f"`govwatch {' '.join(path)}`: options {missing} are not in its synopsis in docs/"
    absent = [c for c in _choices(parser) if not re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", synopsis)]
    assert not absent, f"`govwatch {' '.join(path)}`: actions {absent} are not in its synopsis in docs/"


def test_every_text_command_of_the_dingtalk_bot_is_documented():
    """Every word the text bot (DingTalk) takes as a command or as an action on a finding is listed, in
    backquotes, in docs/operations.md's DingTalk section."""
    ops = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = ops.split("### 钉钉", 1)[1].split("\n### ", 1)[0]
    words = [*textbot.WORDS, *textbot.ACTION_VERBS]
    assert len(words) >= 20
    missing = [w for w in words if not re.search(rf"`/?{re.escape(w)}(?=[ `\d])", section)]
    assert not missing, f"the DingTalk text commands {missing} are not in docs/operations.md"
