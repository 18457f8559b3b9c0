"""The layering of checker/ (docs/ARCHITECTURE.md "Packages"): a module imports only from its own
stage or an earlier one, so the low parts can be read, tested and changed without the high ones.

Imports are read with `ast`, at any depth (a function-level import counts too); only imports under
`if TYPE_CHECKING:` are exempt (types only, never executed).
"""
from __future__ import annotations

import ast
from pathlib import Path

CHECKER = Path(__file__).resolve().parent.parent / "checker"

# Earliest first. A top-level module or a package not listed here fails the test: place it.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("checker", "checker.errors", "checker.config", "checker.yamlsafe", "checker.redact",
                    "checker.periods", "checker.calendar", "checker.statuses")),
    ("ingest", ("checker.ingest",)),          # the record contract (records, derived fields), import
    ("store", ("checker.store",)),
    ("rules", ("checker.rules",)),            # the rule language only
    ("findings", ("checker.findings",)),      # lifecycle, access, routing: what the scan writes into
    ("evaluate", ("checker.evaluate",)),      # the scan, engines, indicators, cadences
    ("notify", ("checker.notify",)),
    ("reports", ("checker.reports",)),        # reports, charts, the efficacy index
    ("tools", ("checker.tools",)),            # sample data, demo, rule tests and diffs
]
SHELLS = ("bot", "scheduler", "govwatch", "bench")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CHECKER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage_of(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            exact = prefix.count(".") == 0 or prefix in STAGES[0][1]
            if module == prefix or (not exact and module.startswith(prefix + ".")):
                if len(prefix) > best:
                    best, rank = len(prefix), i
    if rank is None:
        raise AssertionError(f"{module} belongs to no stage: add it to STAGES in {__file__}")
    return rank


def type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def imported(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The absolute names an import statement reaches (a module, or a package and its member)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{alias.name}" for alias in node.names]


def known(name: str, modules: set[str]) -> str:
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def checker_imports() -> list[tuple[str, int, str]]:
    files = sorted(CHECKER.rglob("*.py"))
    modules = {module_name(p) for p in files}
    found = []
    for path in files:
        module = module_name(path)
        tree = ast.parse(path.read_text("utf-8"))
        exempt = type_checking_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in exempt:
                for name in imported(module, path.name == "__init__.py", node):
                    found.append((module, node.lineno, known(name, modules)))
    return found


def test_no_module_imports_a_later_stage() -> None:
    wrong = [f"{module}:{line} imports {target} ({STAGES[stage_of(target)][0]} comes after "
             f"{STAGES[stage_of(module)][0]})"
             for module, line, target in checker_imports()
             if target.split(".")[0] == "checker" and stage_of(target) > stage_of(module)]
    assert not wrong, "\n".join(wrong)


def test_checker_imports_no_shell() -> None:
    wrong = [f"{module}:{line} imports {target}" for module, line, target in checker_imports()
             if target.split(".")[0] in SHELLS]
    assert not wrong, "\n".join(wrong)


def test_every_module_has_a_stage() -> None:
    for path in CHECKER.rglob("*.py"):
        stage_of(module_name(path))


def test_a_later_import_is_caught() -> None:
    tree = ast.parse("from ..evaluate import scan\n")
    node = tree.body[0]
    assert isinstance(node, ast.ImportFrom)
    [target] = imported("checker.store.base", False, node)
    assert stage_of(known(target, {"checker.evaluate", "checker.evaluate.scan"})) > stage_of("checker.store.base")
