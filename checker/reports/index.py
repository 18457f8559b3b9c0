"""政务服务效能指数 (DB50/T 957.7 §6.3, Appendix A): the index tree admins edit in
rules/db50/index.yaml, its validation (JSON Schema + weights + AHP consistency, errors as file:line),
the inputs of its leaves, and the per-org synthesis, ranking and change (§6.3.2.3–6.3.2.4).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import jsonschema
import yaml

from .. import yamlsafe
from ..config import Config
from ..errors import GovwatchError, RuleError
from ..periods import Period
from ..rules import source
from ..rules.model import RuleBook
from . import index_math as im
from .data import IndicatorTable, TableRepo

CLAUSE = "DB50/T 957.7 §6.3"


# ---------------------------------------------------------------- the tree

@dataclass(frozen=True)
class Weighting:
    method: str                      # given | ahp | entropy | cv
    matrix: tuple[tuple[float, ...], ...] = ()
    cr: float | None = None          # AHP consistency ratio
    weights: tuple[float, ...] = ()  # given / AHP weights (entropy, cv: computed from data)


@dataclass(frozen=True)
class Input:
    indicator: str | None = None
    metric: str | None = None
    computed: str | None = None
    depth: int | None = None

    @property
    def kind(self) -> str:
        return "indicator" if self.indicator else "metric" if self.metric else "computed"

    @property
    def label(self) -> str:
        if self.indicator:
            return f"指标 {self.indicator}"
        if self.metric:
            return f"导入指标 {self.metric}"
        return (self.computed or "") + (f"≥{self.depth}" if self.depth else "")


@dataclass(frozen=True)
class Normalize:
    method: str
    best: float | None = None
    worst: float | None = None
    bands: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Node:
    name: str
    path: str                        # names joined by '/', unique
    line: int
    weight: float | None = None
    weighting: Weighting | None = None
    children: tuple["Node", ...] = ()
    input: Input | None = None
    normalize: Normalize | None = None
    higher_better: bool = True

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def leaves(self) -> Iterator[Node]:
        if self.is_leaf:
            yield self
        for c in self.children:
            yield from c.leaves()


@dataclass(frozen=True)
class IndexTree:
    name: str
    clause: str
    standard: str
    levels: tuple[str, ...]
    orgs: tuple[str, ...]
    root: Node
    source: str


@dataclass(frozen=True)
class IndexRow:
    org: str
    org_name: str
    score: float | None
    rank: int | None
    dimensions: dict[str, float | None]
    previous: float | None
    change: float | None
    missing: tuple[str, ...] = field(default=())       # leaves without data (re-weighted within their dimension)
    group: str = ""                                    # peer group: the org's level (district, department …)
    complete: bool = True                              # every dimension has data; only complete orgs are ranked
    missing_dimensions: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 2)
        return {"org": self.org, "org_name": self.org_name, "score": r(self.score), "rank": self.rank,
                "group": self.group, "group_name": GROUP_NAMES.get(self.group, self.group),
                "complete": self.complete, "missing_dimensions": list(self.missing_dimensions),
                "dimensions": {k: r(v) for k, v in self.dimensions.items()},
                "previous": r(self.previous), "change": r(self.change), "missing": list(self.missing)}


GROUP_NAMES = {"province": "省级", "city": "市级", "district": "区县", "township": "乡镇（街道）", "village": "村（社区）",
               "department": "部门", "hall": "大厅"}


class NoIndexData(GovwatchError):
    """A period without any dated data: no ranking is made (DB50/T 957.7 §6.4 a 数据准确无误)."""
    exit_code = 0


@dataclass(frozen=True)
class IndexResult:
    """An index run: its rows, and the weights it used (fixed for the evaluation year)."""
    rows: list[IndexRow]
    year: int
    base_period: str
    weights: dict[str, Any]                     # node path → {child name: weight}
    root: str = ""

    @property
    def dimension_weights(self) -> dict[str, Any]:
        """The first-level dimensions' weights (shown in reports and by `govwatch index`)."""
        found: dict[str, Any] = self.weights.get(self.root, {})
        return found


# ---------------------------------------------------------------- loading and validation

def default_path(cfg: Config) -> Path:
    return Path(cfg.rules_path()) / "db50" / "index.yaml"


def schema() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(Path(__file__).with_name("index_schema.json").read_text("utf-8"))
    return found


def load_index(path: str | Path) -> IndexTree:
    """Read, validate and build the index tree; every problem is reported as `file:line: 问题`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        doc = source.from_node(str(path), yamlsafe.compose(text))
    except OSError as exc:
        raise RuleError([f"{path}: 无法读取指数体系文件 ({exc.strerror})"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RuleError([f"{path}:{mark.line + 1 if mark else 1}: 不是有效的 YAML"]) from None
    if doc.problems:
        raise RuleError([str(p) for p in doc.problems])
    data = doc.data
    problems = [_schema_problem(e, path, doc) for e in _schema_errors(data)]
    if problems:
        raise RuleError(problems)
    idx = data["index"]
    root, problems = _node({"name": idx["name"], "weighting": idx["weighting"], "children": idx["children"]},
                           ("index",), "", doc, path)
    if problems:
        raise RuleError(problems)
    scope = idx.get("scope", {})
    return IndexTree(idx["name"], idx["clause"], idx.get("standard", "DB50/T 957.7"),
                     tuple(scope.get("levels", ())), tuple(scope.get("orgs", ())), root, str(path))


def _schema_errors(data: Any) -> list[Any]:         # jsonschema.ValidationError (the package is untyped)
    validator = jsonschema.Draft202012Validator(schema())
    return sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])


def _schema_problem(error: Any, path: Path, doc: source.Doc) -> str:
    where = f"{path}:{doc.line(error.absolute_path)}"
    key = ".".join(str(p) for p in error.absolute_path) or "(顶层)"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: {key}: 未知的键 {', '.join(extra)}"
    if error.validator == "oneOf" and key.endswith("input"):
        return f"{where}: {key}: input 只能是 indicator、metric 或 computed 之一"
    if error.validator == "oneOf":
        return (f"{where}: {key}: 节点应为分组（children + weighting）或末级指标（input + normalize），"
                f"不能混用")
    return f"{where}: {key}: {error.message}"


def _node(d: dict[str, Any], ypath: source.Path_, parent: str, doc: source.Doc, file: Path) -> tuple[Node, list[str]]:
    path = f"{parent}/{d['name']}" if parent else d["name"]
    line = doc.line(ypath)
    if "children" not in d:
        return _leaf(d, path, line), []
    kids: list[Node] = []
    problems: list[str] = []
    for i, c in enumerate(d["children"]):
        node, p = _node(c, ypath + ("children", i), path, doc, file)
        kids.append(node)
        problems += p
    weighting, p = _weighting(d["weighting"], kids, f"{file}:{doc.line(ypath + ('weighting',))}", path)
    return Node(d["name"], path, line, d.get("weight"), weighting, tuple(kids)), problems + p


def _leaf(d: dict[str, Any], path: str, line: int) -> Node:
    n = d["normalize"]
    norm = Normalize(n["method"], n.get("best"), n.get("worst"), tuple(tuple(b) for b in n.get("bands", ())))
    return Node(d["name"], path, line, d.get("weight"), input=Input(**d["input"]), normalize=norm,
                higher_better=d.get("direction", "higher") == "higher")


def _weighting(w: dict[str, Any], kids: list[Node], where: str, path: str) -> tuple[Weighting, list[str]]:
    method = w["method"]
    named = [k for k in kids if k.weight is not None]
    if method == "given":
        if len(named) != len(kids):
            return Weighting(method), [f"{where}: {path}: 权重方式为 given，每个下级指标都要写 weight"]
        return _checked(Weighting(method, weights=tuple(k.weight for k in named if k.weight is not None)), where, path)
    if named:
        return Weighting(method), [f"{where}: {path}: 权重方式为 {method}，下级指标不应再写 weight"]
    if method == "ahp":
        return _ahp(w["matrix"], len(kids), where, path)
    return Weighting(method), []


def _checked(w: Weighting, where: str, path: str) -> tuple[Weighting, list[str]]:
    try:
        im.check_weights(w.weights)
    except im.IndexMathError as exc:
        return w, [f"{where}: {path}: {exc}"]
    return w, []


def _ahp(matrix: Sequence[Sequence[float]], n: int, where: str, path: str) -> tuple[Weighting, list[str]]:
    if len(matrix) != n:
        return Weighting("ahp"), [f"{where}: {path}: 判断矩阵为 {len(matrix)} 阶，但下级指标有 {n} 个"]
    try:
        a = im.ahp(matrix)
    except im.IndexMathError as exc:
        return Weighting("ahp"), [f"{where}: {path}: {exc}"]
    return Weighting("ahp", tuple(map(tuple, matrix)), a.cr, a.weights), []


# ---------------------------------------------------------------- inputs

class IndexRepo(TableRepo, Protocol):
    """What the efficacy index (checker.reports.index) calls on the store: its inputs (the P1–P9 table's,
    TableRepo), weights and runs."""
    def index_weights(self, year: int) -> tuple[str, str] | None: ...
    def metric_rows(self, org: str, metric: str) -> list[dict[str, Any]]: ...
    def online_depths(self, org: str | None) -> list[int]: ...
    def orgs_for_index(self, levels: tuple[str, ...] = (), codes: tuple[str, ...] = ()) -> list[dict[str, Any]]: ...
    def overdue_case_counts(self, org: str | None, start: str, end: str, now: str) -> tuple[int, int]: ...
    def record_index_run(
        self,
        period: str,
        year: int,
        base_period: str,
        weights: str,
        rows: str,
        now: str,
    ) -> None: ...
    def save_index_weights(self, year: int, base_period: str, weights: str) -> None: ...


@dataclass
class InputContext:
    store: IndexRepo
    cfg: Config
    rulebook: RuleBook
    period: Period
    now: datetime
    _indicators: dict[str, Any] = field(default_factory=dict)
    _table: IndicatorTable | None = None

    def indicator(self, org: str, code: str) -> float | None:
        if org not in self._indicators:
            if self._table is None:       # one roll-up for every org, not one per org
                self._table = IndicatorTable(self.store, self.cfg, self.rulebook, self.now)
            rows = self._table.rows(self.period, org)
            self._indicators[org] = {r["code"]: r for r in rows if r.get("org") in (org, None)}
        return (self._indicators[org].get(code) or {}).get("value")


def _indicator(ctx: InputContext, inp: Input, org: str) -> float | None:
    return ctx.indicator(org, inp.indicator or "")


def _metric(ctx: InputContext, inp: Input, org: str) -> float | None:
    """The metric of the period itself, else the mean of its rows for shorter periods inside it."""
    rows = ctx.store.metric_rows(org, inp.metric or "")
    exact = [r["value"] for r in rows if r["period"] == ctx.period.code]
    if exact:
        value: float | None = exact[0]
        return value
    inside = [r["value"] for r in rows if _inside(r["period"], ctx.period)]
    return sum(inside) / len(inside) if inside else None


def _inside(code: str, period: Period) -> bool:
    try:
        p = Period.parse(code)
    except GovwatchError:
        return False
    return period.start <= p.start and p.end <= period.end and p.code != period.code


def _computed(ctx: InputContext, inp: Input, org: str) -> float | None:
    return COMPUTED[inp.computed or ""](ctx, inp, org)


def _overdue_share(ctx: InputContext, inp: Input, org: str) -> float | None:
    """时效异常: share of the period's cases that ran past their deadline (lower is better)."""
    late, total = ctx.store.overdue_case_counts(org, ctx.period.start.isoformat(), ctx.period.end.isoformat(),
                                                ctx.now.isoformat(timespec="seconds"))
    return late / total if total else None


def _depth_at_least(ctx: InputContext, inp: Input, org: str) -> float | None:
    """一级…四级网上办理: share of in-scope items whose 网办深度 is at least `depth`."""
    depths = ctx.store.online_depths(org)
    return sum(1 for d in depths if d >= (inp.depth or 1)) / len(depths) if depths else None


def _depth_mean(ctx: InputContext, inp: Input, org: str) -> float | None:
    depths = ctx.store.online_depths(org)
    return sum(depths) / len(depths) if depths else None


# ---------------------------------------------------------------- normalisation

# Every leaf is put on one scale, 0–100, before synthesis (issue: 功效系数法 gives 60–100 and min-max
# 0–100, so a min-max leaf's last place weighed 60 points more than an efficacy leaf's). Reading: the
# efficacy method's 60 (不允许值) … 100 (满意值) maps linearly onto 0 … 100; banded scores map from
# their lowest to their highest base score onto 0 … 100; the other methods are 0–100 already.

def _efficacy(n: Normalize, x: float, values: Sequence[float], higher: bool) -> float:
    assert n.best is not None and n.worst is not None      # index_schema.json requires both for efficacy
    return (im.efficacy(x, n.best, n.worst) - 60.0) * 2.5


def _banded(n: Normalize, x: float, values: Sequence[float], higher: bool) -> float:
    bases = [b for _, b in n.bands]
    lo, hi = min(bases), max(bases)
    score = im.banded(x, n.bands)
    return 100.0 if hi == lo else 100.0 * (score - lo) / (hi - lo)


def _minmax(n: Normalize, x: float, values: Sequence[float], higher: bool) -> float:
    return im.min_max(x, values, higher)


def _zscore(n: Normalize, x: float, values: Sequence[float], higher: bool) -> float:
    return im.z_score(x, values, higher)


def _log(n: Normalize, x: float, values: Sequence[float], higher: bool) -> float:
    return im.log_scale(x, values, higher)


def _atan(n: Normalize, x: float, values: Sequence[float], higher: bool) -> float:
    return im.atan_scale(x, higher)


InputFn = Callable[["InputContext", Input, str], "float | None"]         # (ctx, input, org) → raw value
NormaliseFn = Callable[[Normalize, float, Sequence[float], bool], float]   # (norm, x, values, higher) → 0–100

# What index.yaml may name: leaf inputs by kind (`input: {indicator|metric|computed: …}`), the inputs
# govwatch computes itself (`input: {computed: NAME}`), and the normalisation methods.
INPUTS: dict[str, InputFn] = {             # input kind → fn(ctx, input, org) -> float | None
    "indicator": _indicator,
    "metric": _metric,
    "computed": _computed,
}
COMPUTED: dict[str, InputFn] = {           # computed input name → fn(ctx, input, org) -> float | None
    "overdue_share": _overdue_share,
    "online_depth_at_least": _depth_at_least,
    "online_depth_mean": _depth_mean,
}
NORMALISE: dict[str, NormaliseFn] = {          # method → fn(norm, x, values, higher) -> score
    "efficacy": _efficacy,
    "banded": _banded,
    "minmax": _minmax,
    "zscore": _zscore,
    "log": _log,
    "atan": _atan,
}


# ---------------------------------------------------------------- synthesis

Raw = dict[str, dict[str, float | None]]          # leaf path → org → raw value (None: no data)


def node_scores(node: Node, raw: Raw, orgs: list[str],
                fixed: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Scores (0–100) of every node of the tree for every org: {node path: {org: score | None}}.
    `fixed` (node path → weights) replaces the weights a group would compute from the data."""
    out: dict[str, dict[str, Any]] = {}
    _score(node, raw, orgs, out, fixed or {})
    return out


def node_weights(node: Node, raw: Raw, orgs: list[str]) -> dict[str, tuple[float, ...]]:
    """Every group's weights as this data gives them (given, AHP, or entropy / CV of these scores)."""
    weights: dict[str, tuple[float, ...]] = {}
    _score(node, raw, orgs, {}, {}, weights)
    return weights


def _score(node: Node, raw: Raw, orgs: list[str], out: dict[str, dict[str, Any]], fixed: dict[str, Any],
           used: dict[str, tuple[float, ...]] | None = None) -> dict[str, float | None]:
    if node.is_leaf:
        assert node.normalize is not None                     # a leaf has input + normalize (schema)
        vals = raw.get(node.path, {})
        present = [v for v in vals.values() if v is not None]
        fn = NORMALISE[node.normalize.method]
        scored: dict[str, float | None] = {}
        for o in orgs:
            v = vals.get(o)
            scored[o] = None if v is None else fn(node.normalize, v, present, node.higher_better)
        out[node.path] = scored
        return scored
    kids = [_score(c, raw, orgs, out, fixed, used) for c in node.children]
    assert node.weighting is not None                         # a group has children + weighting (schema)
    weights = tuple(fixed[node.path]) if node.path in fixed else _weights(node.weighting, kids)
    if used is not None:
        used[node.path] = weights
    total: dict[str, float | None] = {o: im.weighted_sum([k[o] for k in kids], weights) for o in orgs}
    out[node.path] = total
    return total


def _weights(w: Weighting, kids: list[dict[str, float | None]]) -> tuple[float, ...]:
    if w.method in ("given", "ahp"):
        return w.weights
    columns = [[v for v in k.values() if v is not None] for k in kids]
    fn = im.entropy_weights if w.method == "entropy" else im.cv_weights
    return fn([c or [0.0] for c in columns])


def gather(ctx: InputContext, tree: IndexTree, orgs: list[str]) -> dict[str, dict[str, Any]]:
    """Raw leaf values: {leaf path: {org: value | None}}."""
    return {leaf.path: {o: _value(ctx, leaf.input, o) for o in orgs} for leaf in tree.root.leaves()}


def _value(ctx: InputContext, inp: Input | None, org: str) -> float | None:
    assert inp is not None                                    # a leaf has input + normalize (schema)
    v = INPUTS[inp.kind](ctx, inp, org)
    return None if v is None else float(v)


def period_end(period: Period, tz: tzinfo) -> datetime:
    """The default `now` of an index or report: the first moment after the period."""
    return datetime.combine(period.end, time(0), tz)


def compute_index(store: IndexRepo, cfg: Config, rulebook: RuleBook, period: Period, now: datetime | None = None, tree: IndexTree | None = None,
                  with_change: bool = True) -> list[IndexRow]:
    """The index rows of a period (see run_index)."""
    return run_index(store, cfg, rulebook, period, now, tree, with_change).rows


def run_index(store: IndexRepo, cfg: Config, rulebook: RuleBook, period: Period, now: datetime | None = None, tree: IndexTree | None = None,
              with_change: bool = True, record: bool = True) -> IndexResult:
    """The index of every org in scope for a period (DB50/T 957.7 §6.3.2.3–6.3.2.4), ranked within its
    peer group (org level: 横向比较 compares like with like); an org missing a whole dimension is
    incomplete and not ranked. Weights are fixed per evaluation year (纵向比较 on one yardstick):
    computed once on the base period (the year before) and stored; a period with no dated data at all
    raises NoIndexData instead of ranking."""
    period = Period.parse(period) if isinstance(period, str) else period
    tree = tree or load_index(default_path(cfg))
    orgs = store.orgs_for_index(tree.levels, tree.orgs)
    codes = [o["code"] for o in orgs]
    ctx = _context(store, cfg, rulebook, period, now)
    raw = gather(ctx, tree, codes)
    if not _has_dated_data(tree, raw):
        raise NoIndexData(f"{period.label}没有效能指数所需的数据（本期没有办件、评价、投诉记录，也没有导入的指标），不作排名")
    year, base, fixed = year_weights(store, cfg, rulebook, tree, period, codes)
    scores = node_scores(tree.root, raw, codes, fixed)
    prev = {}
    if with_change:
        try:
            prev = _scores_of(store, cfg, rulebook, tree, period.previous(), codes)
        except NoIndexData:
            prev = {}
    rows = _rows(tree, orgs, scores, raw, prev)
    result = IndexResult(rows, year, base, {path: _named(tree, path, w) for path, w in fixed.items()}, tree.root.path)
    if record:
        store.record_index_run(period.code, year, base, json.dumps(result.weights, ensure_ascii=False),
                               json.dumps([r.as_json() for r in rows], ensure_ascii=False),
                               (now or period_end(period, cfg.tz)).isoformat(timespec="seconds"))
    return result


def _context(store: IndexRepo, cfg: Config, rulebook: RuleBook, period: Period, now: datetime | None) -> InputContext:
    now = now if now is not None and now < period_end(period, cfg.tz) else period_end(period, cfg.tz)
    return InputContext(store, cfg, rulebook, period, now)


def _scores_of(store: IndexRepo, cfg: Config, rulebook: RuleBook, tree: IndexTree, period: Period,
               codes: list[str]) -> dict[str, float | None]:
    raw = gather(_context(store, cfg, rulebook, period, None), tree, codes)
    if not _has_dated_data(tree, raw):
        raise NoIndexData(period.label)
    scores = node_scores(tree.root, raw, codes, year_weights(store, cfg, rulebook, tree, period, codes)[2])
    return complete_totals(tree, scores, codes)


def complete_totals(tree: IndexTree, scores: dict[str, dict[str, Any]], codes: list[str]) -> dict[str, float | None]:
    """The total of each org that has data in every dimension; None for an incomplete one."""
    return {c: scores[tree.root.path][c] if all(scores[d.path][c] is not None for d in tree.root.children) else None
            for c in codes}


# Leaves whose value comes from the item list (not dated): they alone are not "data of the period".
_UNDATED = {"P1", "P2", "P3", "P4", "P6"}


def _has_dated_data(tree: IndexTree, raw: Raw) -> bool:
    for leaf in tree.root.leaves():
        inp = leaf.input
        assert inp is not None                                # a leaf has input + normalize (schema)
        undated = (inp.kind == "indicator" and inp.indicator in _UNDATED) or \
                  (inp.kind == "computed" and (inp.computed or "").startswith("online_depth"))
        if not undated and any(v is not None for v in raw[leaf.path].values()):
            return True
    return False


def year_weights(store: IndexRepo, cfg: Config, rulebook: RuleBook, tree: IndexTree, period: Period,
                 codes: list[str]) -> tuple[int, str, dict[str, Any]]:
    """(evaluation year, base period, node path → weights) for a period: stored for the year, else
    computed on the base period — the year before, or the year itself when that has no data (reading:
    the standard asks for comparable results across years, §6.3.2.4, and names no base) — and stored."""
    year = period.start.year
    stored = store.index_weights(year)
    if stored:
        base_code, saved = stored
        return year, base_code, {path: tuple(w.values()) for path, w in json.loads(saved).items()}
    for base in (Period.parse(str(year - 1)), Period.parse(str(year))):
        raw = gather(_context(store, cfg, rulebook, base, None), tree, codes)
        if _has_dated_data(tree, raw):
            break
    weights = node_weights(tree.root, raw, codes)
    store.save_index_weights(year, base.code, json.dumps({p: _named(tree, p, w) for p, w in weights.items()},
                                                         ensure_ascii=False))
    return year, base.code, weights


def _named(tree: IndexTree, path: str, weights: Sequence[float]) -> dict[str, Any]:
    node = _find(tree.root, path)
    return {c.name: round(float(w), 6) for c, w in zip(node.children, weights)}


def _find(node: Node, path: str) -> Node:
    if node.path == path:
        return node
    for c in node.children:
        if path == c.path or path.startswith(c.path + "/"):
            return _find(c, path)
    raise KeyError(path)


def _rows(tree: IndexTree, orgs: list[dict[str, Any]], scores: dict[str, dict[str, Any]], raw: Raw,
          previous: dict[str, float | None]) -> list[IndexRow]:
    """Rows ranked within their peer group (org level); incomplete orgs (a dimension without data)
    get no total and no rank and come after the complete ones of their group."""
    dims = tree.root.children
    level = {o["code"]: o.get("level") or "" for o in orgs}
    totals = complete_totals(tree, scores, [o["code"] for o in orgs])
    complete = {c: totals[c] is not None or all(scores[d.path][c] is not None for d in dims) for c in totals}
    ranks: dict[str, Any] = {}
    for group in sorted(set(level.values())):
        ranks.update(im.rank({c: totals[c] for c in totals if level[c] == group}))
    rows: list[IndexRow] = []
    for o in orgs:
        code = o["code"]
        s, p = totals[code], previous.get(code)
        missing = tuple(leaf.name for leaf in tree.root.leaves() if raw[leaf.path][code] is None)
        rows.append(IndexRow(code, o["name"], s, ranks.get(code), {d.name: scores[d.path][code] for d in dims}, p,
                             None if s is None or p is None else s - p, missing, level[code], complete[code],
                             tuple(d.name for d in dims if scores[d.path][code] is None)))
    order = sorted(set(level.values()), key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else 99, g))
    return sorted(rows, key=lambda r: (order.index(r.group), not r.complete, r.rank is None, r.rank or 0, r.org))


GROUP_ORDER = ("province", "city", "district", "township", "village", "department", "hall")
