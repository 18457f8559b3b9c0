"""Load rule packs: find the files, check them against the schema (checker.rules.rule_schema) and the
record contract, and
build a RuleBook. Every problem is reported (not just the first) as `file:line: problem`.

A path may be a folder of packs (each sub-folder with a pack.yaml), one pack folder, or rule files
of a pack. In a pack folder: pack.yaml (the standard), coverage.yaml (clause map), index.yaml (the
efficacy index, read by checker.reports.index), tests/*.yaml (YAML tests) and every other *.yaml is a rule
file {rules: [...]}.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Union

import dataclasses
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jsonschema

from ..config import Config
from ..errors import RuleError
from . import source
from .choice import ChoiceRepo, choose_packs
from .kinds import ALWAYS, RULE_KINDS, Parsing, template_problems
from .model import Pack, Rule, RuleBook
from .problems import Problem
from .rule_schema import common_properties, generate

# What the loader reads: a folder of packs, one pack folder, or rule files (one, or several).
RulePaths = Union[str, Path, Iterable[Union[str, Path]]]

SPECIAL = {"pack.yaml", "coverage.yaml", "index.yaml"}
COMMON = tuple(common_properties())


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of pack.yaml, rule files, YAML tests and coverage.yaml, generated once a process."""
    return generate()


@lru_cache(maxsize=None)
def _validator(name: str) -> Any:          # a jsonschema validator (the package is untyped)
    return jsonschema.Draft202012Validator({**schema(), "$ref": f"#/$defs/{name}"})


def check_schema(doc: source.Doc, name: str) -> list[Problem]:
    """Schema problems of a parsed file, each at the line of the offending node."""
    errors = sorted(_validator(name).iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path])
    return [p for e in errors for p in _describe(doc, e)]


def _describe(doc: source.Doc, e: jsonschema.ValidationError) -> list[Problem]:
    path = tuple(e.absolute_path)
    if e.validator == "additionalProperties":
        allowed = e.schema.get("properties", {})
        extra = [k for k in e.instance if k not in allowed and not _pattern_ok(e.schema, k)]
        what = "未知运算符" if "eq" in allowed and "field" in allowed else "未知的键"
        tail = f"（可用：{', '.join(k for k in allowed if k not in ('all', 'any', 'field'))}）" if what == "未知运算符" \
            else f"（允许：{', '.join(allowed)}）" if allowed else ""
        return [doc.problem(path + (k,), f"{what} '{k}'{tail}") for k in extra]
    return [doc.problem(path, _message(e))]


def _pattern_ok(schema_: dict[str, Any], key: str) -> bool:
    return any(re.search(p, key) for p in schema_.get("patternProperties", {}))


def _message(e: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in e.absolute_path) or "顶层"
    if e.validator == "required":
        missing = [k for k in e.validator_value if k not in (e.instance or {})]
        return f"{where}: 缺少必填项 {', '.join(repr(k) for k in missing)}"
    if e.validator in ("enum", "const"):
        options = e.validator_value if e.validator == "enum" else [e.validator_value]
        return f"{where}: 值 {e.instance!r} 不允许（可选：{', '.join(map(str, options))}）"
    if e.validator == "type":
        return f"{where}: 类型错误，应为 {e.validator_value}，实际是 {e.instance!r}"
    if e.validator == "pattern":
        return f"{where}: 值 {e.instance!r} 格式不符（{e.validator_value}）"
    if e.validator == "anyOf":
        return f"{where}: 值 {e.instance!r} 无效（应为常量或 {{param: 参数名}}，或 count / {{sum: 字段}}）"
    return f"{where}: {e.message}"


# ------------------------------------------------------------------------------ discovery

@dataclass
class PackFiles:
    folder: Path
    rule_files: list[Path] = field(default_factory=list)
    test_files: list[Path] = field(default_factory=list)


def discover(paths: RulePaths) -> tuple[list[PackFiles], list[Problem]]:
    """Group the given paths into packs."""
    packs: dict[Path, PackFiles] = {}
    problems: list[Problem] = []
    for p in (Path(x) for x in ([paths] if isinstance(paths, (str, Path)) else paths)):
        if p.is_file():
            folder = p.parent.parent if p.parent.name == "tests" else p.parent
            entry = packs.setdefault(folder.resolve(), PackFiles(folder))
            (entry.test_files if p.parent.name == "tests" else entry.rule_files).append(p)
            continue
        folders = [p] if (p / "pack.yaml").is_file() else sorted(d for d in p.glob("*") if (d / "pack.yaml").is_file())
        if not p.exists() or not folders:
            problems.append(Problem(str(p), 1, "找不到规则包（需要含 pack.yaml 的文件夹）"))
        for folder in folders:
            entry = packs.setdefault(folder.resolve(), PackFiles(folder))
            entry.rule_files += [f for f in sorted(folder.glob("*.yaml")) if f.name not in SPECIAL]
            entry.test_files += sorted((folder / "tests").glob("*.yaml"))
    return list(packs.values()), problems


# ------------------------------------------------------------------------------ loading

class Loading:
    """One load: the packs, the rules built so far, and every problem."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.packs: list[Pack] = []
        self.problems: list[Problem] = []
        self.ids: dict[str, str] = {}           # rule id → "file:line" of its first definition
        self.declared: set[str] = set()

    def pack(self, files: PackFiles) -> Pack | None:
        pack = self._pack_yaml(files.folder)
        if pack is None:
            return None
        pack = self._with_clauses(pack, files.folder)
        self.packs.append(pack)
        for f in files.rule_files:
            self.rule_file(pack, f)
        return pack

    def _read(self, path: Path, schema_name: str) -> source.Doc | None:
        doc = source.read(path)
        self.problems += doc.problems
        if doc.problems:
            return None
        found = check_schema(doc, schema_name)
        self.problems += found
        return doc if not found else None

    def _pack_yaml(self, folder: Path) -> Pack | None:
        if not (folder / "pack.yaml").is_file():
            self.problems.append(Problem(str(folder / "pack.yaml"), 1, "缺少 pack.yaml（标准编号、名称、版本）"))
            return None
        doc = self._read(folder / "pack.yaml", "pack")
        if doc is None:
            return None
        s = doc.data["standard"]
        return Pack(s["number"], s["title"], str(s["version"]), s["short"], str(folder))

    def _with_clauses(self, pack: Pack, folder: Path) -> Pack:
        path = folder / "coverage.yaml"
        if not path.is_file():
            self.problems.append(Problem(str(path), 1, "缺少 coverage.yaml：规则引用的条款必须列在其中"))
            return pack
        doc = self._read(path, "coverage")
        clauses = tuple(c["clause"] for c in doc.data["clauses"]) if doc else ()
        return dataclasses.replace(pack, clauses=clauses)

    def rule_file(self, pack: Pack, path: Path) -> None:
        doc = source.read(path)
        self.problems += doc.problems
        if doc.problems:
            return
        found = check_schema(doc, "rules_file")
        self.problems += found
        items = doc.data.get("rules") if isinstance(doc.data, dict) else None
        for i, raw in enumerate(items if isinstance(items, list) else []):
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                self.declared.add(raw["id"])
            if _validator("rule").is_valid(raw):          # a rule with schema errors is not built
                self.rule(pack, doc, i, raw)

    def rule(self, pack: Pack, doc: source.Doc, i: int, raw: dict[str, Any]) -> None:
        path: source.Path_ = ("rules", i)
        params = dict(raw.get("params") or {})
        p = Parsing(doc, path, params)
        self._check_identity(pack, doc, path, raw, p)
        kind = RULE_KINDS[raw["kind"]]
        fields = kind.parse({k: v for k, v in raw.items() if k not in COMMON}, p)
        allowed = set(kind.template_names(raw)) | ALWAYS | set(params)
        for message in template_problems(raw["message"], allowed):
            p.problem(("message",), message)
        self.problems += p.problems
        if not p.problems:
            self.rules.append(kind.cls(
                id=raw["id"], kind=raw["kind"], clause=raw["clause"], title=raw["title"],
                severity=raw["severity"], responsible=raw["responsible"], message=" ".join(raw["message"].split()),
                standard=pack.number, pack=pack.short, params=params, enabled=raw.get("enabled", True),
                rectify_days=raw.get("rectify_days"), file=doc.file, line=doc.line(path), **fields))

    def _check_identity(self, pack: Pack, doc: source.Doc, path: source.Path_, raw: dict[str, Any], p: Parsing) -> None:
        where = f"{doc.file}:{doc.line(path)}"
        first = self.ids.setdefault(raw["id"], where)
        if first != where:
            p.problem(("id",), f"规则 id '{raw['id']}' 重复（已在 {first} 定义）")
        if pack.clauses and raw["clause"] not in pack.clauses:
            p.problem(("clause",), f"条款 '{raw['clause']}' 不在 {pack.number} 的 coverage.yaml 条款清单中")


def load(paths: RulePaths) -> tuple[RuleBook, list[Problem]]:
    """Load what can be loaded, and every problem found."""
    groups, problems = discover(paths)
    loading = Loading()
    loading.problems += problems
    for files in groups:
        loading.pack(files)
    book = RuleBook(tuple(loading.packs), tuple(loading.rules), str(paths), frozenset(loading.declared))
    return book, sorted(set(loading.problems), key=lambda p: (p.file, p.line, p.message))


def load_packs(path: RulePaths) -> RuleBook:
    """The RuleBook of a folder of packs, one pack folder, or rule files; RuleError lists every problem."""
    book, problems = load(path)
    if problems:
        raise RuleError(problems)
    return book


def load_configured(cfg: Config, store: ChoiceRepo | None = None) -> RuleBook:
    """The packs config.yaml asks for: `rules_dir` (or the shipped packs), restricted to `packs`, else
    to the province's (configured, or inferred from the store's org codes: checker.rules.choice)."""
    return only(load_packs(cfg.rules_path()), choose_packs(cfg, store).packs)


def only(book: RuleBook, packs: Collection[str] | None) -> RuleBook:
    """`book.only(packs)`, with a missing pack reported as a rule problem people can act on."""
    try:
        return book.only(packs)
    except KeyError as exc:
        raise RuleError([f"{book.source}: 配置项 packs 指定的规则包不存在：{exc.args[0]}"]) from None
