"""The scan: evaluate the rules against the store and reconcile the findings.

An incremental scan evaluates, per record kind, the live records (open cases, unanswered
consultations, unrectified valid complaints, 差评 not called back or not rectified, appointments of
the coming days without a reminder), the records changed since the last scan (`_seq`), and the
subjects of the rules' active findings, so its cost follows open and changed records, not history.
`full=True` evaluates every record. Indicator, checklist and cadence rules are evaluated whole by
the evaluator of their kind (EVALUATORS, at the bottom).
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ..errors import GovwatchError
from ..findings import (Complete, Firing, ReconcileResult, Setwise, opening, reconcile, reconcile_fired,
                        stage_setwise)
from ..findings.opening import ORG_NAME, OpenSpec
from ..findings.repo import FindingRepo
from ..findings.messages import TEMPLATE, placeholders, render
from ..ingest import derived, workdays
from ..ingest.records import KINDS
from ..rules import compiler
from ..rules.model import CadenceRule, Check, ChecklistRule, IndicatorRule, RecordRule, Rule, leaves
from ..periods import Period
from ..store import Store
from . import holiday_years, indicators, supervision, window
from .engine import Engine
from .scanclock import ScanClock, refuse_backdated

if TYPE_CHECKING:
    from ..config import Config
    from ..rules.model import RuleBook

Row = dict[str, Any]
Evaluated = dict[str, "set[str] | None"]      # rule id → the subjects looked at (None: every subject)

class ScanRepo(FindingRepo, ScanClock, workdays.WorkdaysRepo, holiday_years.HolidayYearsRepo,
               supervision.SupervisionRepo, indicators.IndicatorRepo, window.WindowRepo, Protocol):
    """What the scan (run_scan, evaluate, check_record and the evaluators here) calls on the store
    (docs/ARCHITECTURE.md "Types"; tests/test_seams.py checks that Store provides the methods): the
    scans table, the records a scan looks at, the rule queries the compiler builds (run by the store),
    and the findings lifecycle it hands its firings to. `path` opens a second connection of the same
    store; `dialect` builds the row-id expression of a selection."""
    path: str
    dialect: Any
    def active_fingerprints(self, rule_ids: Any) -> set[str]: ...
    def add_fired(self, table: str, rows: Any) -> None: ...
    def count(self, kind: str) -> int: ...
    def count_selected(self, kind: str, since: str, until: str, since_seq: int) -> int: ...
    def count_selection(self, selection: str) -> int: ...
    def current_seq(self) -> int: ...
    def deleted_seq(self) -> int: ...
    def derived_chunks(self, kind: str, columns: str, where: str, params: dict[str, Any],
                       size: int) -> Iterator[list[Any]]: ...
    def derived_row(self, kind: str, columns: str, key: object, params: dict[str, Any]) -> tuple[Any, ...] | None: ...
    def derived_rows_by_key(self, kind: str, columns: str, keys: list[str],
                            params: dict[str, Any]) -> list[Any]: ...
    def finish_scan(self, scan_id: int, finished_at: str, evaluated: int, opened: int, resolved: int,
                    reopened: int, open_: int, basis: str | None = None) -> None: ...
    def fire_changes(self, delta: str, kind: str, fixed: str, now: str, prev: str, params: dict[str, Any],
                     window: list[tuple[str, str, str]] | None = None) -> None: ...
    def fire_records(self, fired: str, kind: str, where: str, params: dict[str, Any]) -> None: ...
    def fired_pairs(self, table: str) -> list[dict[str, Any]]: ...
    def last_scan(self) -> dict[str, Any] | None: ...
    def latest_inspections(self, checks: Any) -> dict[tuple[str, str], dict[str, Any]]: ...
    def max_seq(self, kind: str) -> int: ...
    def new_cleared_table(self) -> str: ...
    def new_delta_table(self) -> str: ...
    def new_fired_table(self) -> str: ...
    def org_names(self) -> dict[str, str]: ...
    def orgs_at_levels(self, levels: Any) -> list[dict[str, Any]]: ...
    def save_derived_params(self, params: dict[str, Any]) -> None: ...
    def scan_seq(self) -> int: ...
    def select_records(self, kind: str, rule_ids: Any, since: str, until: str, since_seq: int) -> str: ...
    def split_delta(self, delta: str, fired: str, cleared: str) -> None: ...
    def start_scan(self, now: str, started_at: str, full: bool, version: str, from_seq: int, to_seq: int) -> int: ...
    def unevaluable_records(self, kind: str, first: str, last: str, since_seq: int | None,
                            rule_id: str) -> list[tuple[str, Any, str, str, str]]: ...
    def workdays_state(self) -> dict[str, Any] | None: ...
    def scan_writes(self) -> AbstractContextManager[None]: ...
    def checkpoint(self) -> tuple[int, int] | None: ...
    def working_day_end(self, day: str, n: int) -> str | None: ...

APPOINTMENT_DAYS = 7           # appointments within this many days ahead are live
FULL_CHUNK = 20000             # records the durable engine is given at a time
PREPARE_LIMIT = 5000           # opening firings made whole before the write lock (more: in chunks under it)
DEFAULT_RECTIFY_DAYS = 5       # working days to rectify, unless a rule sets rectify_days
# Facts every finding keeps besides its message's placeholders (messages, the bot and reports read them).
_IDENTITY = frozenset({"rule_title", "clause", "standard", "org", "org_name", "due_at", "handler", "item_code",
                       "item_name", "status", "channel", "accepted_at"})


@dataclass(frozen=True)
class ScanResult:
    scan_id: int
    now: str
    evaluated: int
    opened: int
    resolved: int
    reopened: int
    open: int
    engine: str = "sql"

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.engine == "sql":             # the DESIGN.md shape; the reference engine says it was used
            del out["engine"]
        return out


@dataclass
class Evaluation:
    """What evaluating some rules gave: firings, and per rule the subjects looked at (None: all).
    `complete` makes record firings whole (facts, message) when reconcile needs them."""
    firings: list[Firing] = field(default_factory=list)
    evaluated: Evaluated = field(default_factory=dict)
    count: int = 0
    complete: Complete | None = None
    fired: str | None = None                 # record rules: the temp table of (rule, subject) that fired
    fired_rules: dict[str, Rule] = field(default_factory=dict)
    prepared: dict[str, Firing] = field(default_factory=dict)
    changes: list[Row] | None = None         # the fired pairs that open or reopen, read before the lock
    cleared: str | None = None               # incremental: the temp table of evaluated pairs not firing
    whole_rules: set[str] | None = None      # the record rules evaluated over every record (None: all)
    setwise: Setwise | None = None           # record rules: their new findings, opened set-wise (stage)

    def add(self, other: "Evaluation") -> None:
        self.firings += other.firings
        for rule_id, subjects in other.evaluated.items():     # a rule evaluated in parts: the union
            mine: set[str] | None = self.evaluated.get(rule_id, set())
            self.evaluated[rule_id] = None if subjects is None or mine is None else mine | subjects
        self.count += other.count
        self.complete = self.complete or other.complete
        if other.fired:
            self.fired, self.cleared, self.whole_rules = other.fired, other.cleared, other.whole_rules
        self.fired_rules.update(other.fired_rules)

    def pending(self, rows: Iterable[Row]) -> list[Firing]:
        """Firings (rule, subject only) of fired-table rows."""
        return [Firing(self.fired_rules[r["rule"]], r["subject"], r["kind"], None, None, None, None) for r in rows]

    def whole(self, store: ScanRepo) -> list[Firing]:
        """Every firing made whole (the rule tests and `evaluate` callers read messages)."""
        firings = list(self.firings)
        if self.fired:
            firings += self.pending(store.fired_pairs(self.fired))
        return list(self.complete(firings)) if self.complete else firings


@dataclass(frozen=True)
class Previous:
    """What the last finished scan evaluated the record rules with: its `now`, its change number and
    each rule's condition digest (ScanContext.rule_sql)."""
    now: str
    since: int
    rules: dict[str, str]


@dataclass
class ScanContext:
    store: ScanRepo
    cfg: Config
    rulebook: RuleBook
    now: datetime
    full: bool
    since_seq: int
    engine: str = "sql"
    coverage: workdays.Coverage | None = None
    prev: Previous | None = None        # the last scan's basis: record rules evaluated incrementally

    def __post_init__(self) -> None:
        self.now_iso = _iso(self.now, self.cfg)
        self._due: dict[int, str] = {}              # rectification deadline by working days
        self.bases: dict[tuple[str, str | None], Row] = {}   # (rule id, org) → the facts its firings share
        self.org_names = self.store.org_names()
        self.selections: dict[str, str] = {}        # kind → the temp table of the records looked at
        self.basis: dict[str, str] = {}             # record rule id → the digest of its condition (rule_sql)
        if self.coverage is None:
            self.coverage = workdays.ensure(self.store, self.cfg, self.now)

    def rule_sql(self, kind: str, rule: RecordRule) -> tuple[list[str], dict[str, Any]]:
        """A record rule's condition as SQL (its top-level conjuncts) and its parameters (the clock's,
        the config's, the rule's); records the condition's digest in `basis` (what the next scan
        compares with)."""
        params = {**_params(self), "_rule": rule.id, "_kind": kind}
        parts, params = compiler.to_sql_parts(kind, rule.when, rule.params, params)
        constants = {k: v for k, v in params.items() if k not in ("now", "today")}
        text = json.dumps([kind, parts, constants], sort_keys=True, default=str)
        self.basis[rule.id] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return parts, params

    def incremental(self, kind: str, rule: RecordRule, cond: str) -> bool:
        """Whether a record rule may be evaluated only where its firing can have changed since the
        last scan: that scan recorded the same condition (rule, config parameters), and none of the
        other record tables the condition reads (items, evaluations, …) changed since."""
        prev = self.prev
        if prev is None or prev.rules.get(rule.id) != self.basis.get(rule.id):
            return False
        return all(self.store.max_seq(other) <= prev.since for other in _reads(kind, cond))

    def rectify_due(self, rule: Rule) -> str:
        days = rule.rectify_days if rule.rectify_days is not None else DEFAULT_RECTIFY_DAYS
        if days not in self._due:
            self._due[days] = self.store.working_day_end(self.now.date().isoformat(), days) or datetime.combine(
                self.now.date() + timedelta(days=days), time(23, 59, 59), tzinfo=self.cfg.tz).isoformat()
        return self._due[days]




# ------------------------------------------------------------------------------ the scan

def run_scan(store: ScanRepo, cfg: Config, rulebook: RuleBook, now: datetime, full: bool = False,
             engine: str = "sql") -> ScanResult:
    """Evaluate (reading only), then reconcile the findings in one short write transaction. The WAL
    checkpoint of the scan's writes is left to the caller's `store.checkpoint()` once it has reported
    (store.scan_writes): not on the scan's commit, and before the next writer's."""
    if engine not in ENGINES:
        raise GovwatchError(f"未知的评估引擎 {engine}：应为 {' 或 '.join(ENGINES)}")
    with store.scan_writes():
        return _scan(store, cfg, rulebook, now, full, engine)


def _scan(store: ScanRepo, cfg: Config, rulebook: RuleBook, now: datetime, full: bool, engine: str) -> ScanResult:
    refuse_backdated(store, now)
    last_scan = store.last_scan()
    last = None if last_scan is None else int(last_scan["to_seq"])
    full = full or last is None
    coverage = workdays.ensure(store, cfg, now)            # short writes: the table, changed deadlines
    calendar = _calendar(store)
    # The scan takes a change number of its own: a row stamped before now carries it and is looked
    # at by this scan, not again by the next; one written meanwhile without a number is stamped above
    # it (checker.store.dialect seq_triggers), so the next scan sees it.
    to_seq = store.scan_seq()
    now_iso = _iso(now, cfg)
    scan_id = store.start_scan(now_iso, _iso(datetime.now(cfg.tz), cfg), full, rulebook.version, last or 0, to_seq)
    prev = None if full or engine != "sql" else _previous(store, last_scan, calendar)
    ctx = ScanContext(store, cfg, rulebook, now.astimezone(cfg.tz), full, last or 0, engine, coverage, prev)
    parts = []
    for part in _parts(ctx):            # what a reconcile will write, prepared unlocked, each part as it comes
        part.firings = prepare(store, part)         # (the record rules' while the indicator threads still run)
        part.prepared = prepare_fired(store, part)
        part.setwise = stage(ctx, part)
        parts.append(part)
    missing = holiday_years.firings(store, cfg, now, ctx.rectify_due(holiday_years.RULE))   # admins: no 调休 data
    with store.transaction():
        store.save_derived_params(derived.params(cfg))     # messages read later render with this config
        # in parts, the active findings counted after the last (ReconcileResult.total)
        results = [reconcile(store, cfg, scan_id, now, part.firings, part.evaluated, part.complete, count=False)
                   for part in parts]
        results += [reconcile_fired(store, cfg, scan_id, now, part.fired, part.fired_rules,
                                    lambda rows, part=part: part.complete(part.pending(rows)), part.prepared,
                                    part.changes, part.cleared, part.whole_rules, part.setwise, count=False)
                    for part in parts if part.fired]
        results.append(reconcile(store, cfg, scan_id, now, *missing))
        r = ReconcileResult.total(results)
        count = sum(p.count for p in parts)
        # finished with the findings it wrote (one transaction): the next scan starts from this basis
        basis = json.dumps({"rules": ctx.basis, "calendar": calendar}, sort_keys=True)
        store.finish_scan(scan_id, _iso(datetime.now(cfg.tz), cfg), count, r.opened, r.resolved, r.reopened, r.open,
                          basis)
    return ScanResult(scan_id, now_iso, count, r.opened, r.resolved, r.reopened, r.open, engine)


def prepare(store: ScanRepo, part: Evaluation) -> list[Firing]:
    """The part's firings with those that will open or reopen made whole (read before the write lock;
    reconcile completes any that changed meanwhile)."""
    if not part.complete:
        return part.firings
    lazy = {f.fingerprint: f for f in part.firings if f.message is None}
    if not lazy:
        return part.firings
    active = store.active_fingerprints(sorted({f.rule.id for f in lazy.values()}))
    needed = [f for fp, f in lazy.items() if fp not in active]
    done = {f.fingerprint: f for f in part.complete(needed)} if needed else {}
    return [done.get(f.fingerprint, f) for f in part.firings]


def prepare_fired(store: ScanRepo, part: Evaluation) -> dict[str, Firing]:
    """The record firings that will reopen, made whole before the write lock (by fingerprint); those
    that open are opened set-wise under it (_setwise)."""
    if not part.fired:
        return {}
    store.collect_fired_changes(part.fired)
    rows = store.fired_changes_after("", PREPARE_LIMIT + 1, existing=True)
    if len(rows) > PREPARE_LIMIT:                        # many: read and made whole a page at a time under the lock
        return {}
    part.changes = rows                                  # reconcile reuses them (one LEFT JOIN less under the lock)
    assert part.complete is not None, "a part with a fired table completes its firings (_records)"
    return {f.fingerprint: f for f in part.complete(part.pending(rows))} if rows else {}


def stage(ctx: ScanContext, part: Evaluation) -> Setwise | None:
    """The part's new record findings, staged and routed before the write lock when prepare_fired
    read the fired pairs that open (else under it, from the pairs collected there)."""
    if not part.fired:
        return None
    setwise = _setwise(ctx, part.fired_rules)
    return setwise if part.changes is None else stage_setwise(ctx.store, ctx.cfg, setwise)


def evaluate(store: ScanRepo, cfg: Config, rulebook: RuleBook, now: datetime, full: bool = True, since_seq: int = 0,
             engine: str = "sql") -> Evaluation:
    """Every enabled rule's firings at `now` (made whole), writing no finding."""
    out = Evaluation()
    for part in _parts(ScanContext(store, cfg, rulebook, now.astimezone(cfg.tz), full, since_seq, engine)):
        part.firings, part.fired = part.whole(store), None
        out.add(part)
    return out


def _parts(ctx: ScanContext) -> Iterator[Evaluation]:
    """The evaluation in parts, each covering whole rules: first the kinds evaluated here, then the
    parts of each SQL-bound (BACKGROUND) kind, which run meanwhile in a thread on its own connection."""
    work = {kind: rules for kind in EVALUATORS if (rules := ctx.rulebook.of_kind(kind))}
    aside = [kind for kind in work if kind in BACKGROUND and ctx.store.path != ":memory:"]
    with ThreadPoolExecutor(max_workers=max(1, len(aside))) as pool:
        pending = [pool.submit(_on_own_connection, ctx, kind, work[kind], BACKGROUND[kind](ctx)) for kind in aside]
        first = Evaluation()
        for kind in [k for k in work if k not in aside]:       # EVALUATORS order
            first.add(EVALUATORS[kind](ctx, work[kind]))
        yield first
        for future in pending:
            yield from future.result()


def _on_own_connection(ctx: ScanContext, kind: str, rules: list[Rule], parts: Iterable[Period]) -> list[Evaluation]:
    """A BACKGROUND kind's parts, one after the other on one connection of its own."""
    with Store(ctx.store.path) as store, store.scan_writes():
        own = replace(ctx, store=store)
        return [EVALUATORS[kind](own, rules, part) for part in parts]


def _iso(when: datetime, cfg: Config) -> str:
    return when.astimezone(cfg.tz).isoformat(timespec="seconds")


def _calendar(store: ScanRepo) -> list[Any]:
    """The workdays table's identity (calendar config, years covered): its ordinals are what the
    working-day fields count in."""
    state = store.workdays_state() or {}
    return [state.get("signature"), state.get("first"), state.get("last")]


def _previous(store: ScanRepo, last: Row | None, calendar: list[Any]) -> Previous | None:
    """The last scan's basis, when this scan may evaluate record rules incrementally from it: it
    recorded one, the calendar is the same, and no record row was deleted since it started."""
    if last is None or not last["basis"]:
        return None
    basis = json.loads(last["basis"])
    since = int(last["to_seq"])
    if basis.get("calendar") != calendar or store.deleted_seq() > since:
        return None
    return Previous(str(last["now"]), since, dict(basis.get("rules") or {}))


@functools.lru_cache(maxsize=256)
def _reads(kind: str, cond: str) -> frozenset[str]:
    """The other record tables a compiled condition reads (its derived fields' subqueries)."""
    return frozenset(other for other in KINDS if other != kind
                     and re.search(rf'\b(FROM|JOIN)\s+"?{other}"?(\s|$|\))', cond, flags=re.I))


# ------------------------------------------------------------------------------ messages

def _base_facts(ctx: ScanContext, rule: Rule, org: str | None) -> Row:
    """The facts every firing of a rule in an org shares (made once per scan; callers copy, not change)."""
    key = (rule.id, org)
    base = ctx.bases.get(key)
    if base is None:
        name = None if org is None else ctx.org_names.get(org, org)
        base = ctx.bases[key] = {**rule.params, "rule_title": rule.title, "title": rule.title, "clause": rule.clause,
                                 "standard": rule.standard, "org": org, "org_name": name}
    return base


# ------------------------------------------------------------------------------ record rules

ENGINES = ("sql", "durable")
DATA_QUALITY = RecordRule(
    id="govwatch.data_quality", kind="record", clause="数据质量", title="记录无法评估（数据质量）",
    severity="yellow", responsible="admin", standard="govwatch", pack="govwatch", record="",
    message="数据质量：{kind_title} {record_key}（{org_name}）的字段 {field} 值为 {value}，{reason}。"
            "该记录未参与规则评估，请核对源数据后重新导入。")
_KIND_TITLES = {"cases": "办件", "consultations": "咨询", "complaints": "投诉", "evaluations": "评价",
                "appointments": "预约", "disclosures": "政务公开"}


def _records(ctx: ScanContext, rules: list[RecordRule]) -> Evaluation:
    """Every record rule as one SQL query over its kind's table (engine "sql"), or its conditions
    posted to durable-rules as events made by the same SQL (engine "durable", the reference). The
    records looked at: all (full) or the live, changed and active-finding records (a temp table of
    rowids per kind). A firing is only (rule, subject) until reconcile needs it whole (`complete`)."""
    by_kind: dict[str, list[RecordRule]] = {}
    for r in rules:
        by_kind.setdefault(r.record, []).append(r)
    fired = ctx.store.new_fired_table()
    delta = ctx.store.new_delta_table() if ctx.prev is not None else None
    whole: set[str] = set()                  # the rules evaluated over every record
    aside = ctx.engine != "durable" and ctx.store.path != ":memory:"
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the count and the data-quality check meanwhile, on a connection of their own
        counted = pool.submit(_count_aside, ctx, list(by_kind), rules) if aside else None
        count = 0
        for kind, kind_rules in by_kind.items():
            # The SQL engine evaluates every record: each rule's condition picks its rows through the
            # kind's indexes (open cases by status, unanswered consultations by answered_at, …), so an
            # incremental scan costs what the live records cost, and nothing can be missed. The
            # reference engine gets the records in Python: in an incremental scan only the live, changed
            # and active-finding ones (what can have changed since the last scan).
            selection = None if ctx.full or ctx.engine != "durable" else _select(ctx, kind, kind_rules)
            if counted is None:
                count += _count(ctx, kind, kind_rules, selection)
            if ctx.engine == "durable":
                for r in kind_rules:
                    ctx.rule_sql(kind, r)                   # the basis of the next scan
                found = _durable_subjects(ctx, kind, kind_rules, selection)
                ctx.store.add_fired(fired, [(rule_id, s, kind) for rule_id, subjects in found.items() for s in subjects])
                whole.update(r.id for r in kind_rules)
            else:
                for r in kind_rules:
                    if not _sql_fire(ctx, kind, r, selection, fired, delta):
                        whole.add(r.id)
        cleared = None
        if delta is not None:
            cleared = ctx.store.new_cleared_table()
            ctx.store.split_delta(delta, fired, cleared)
        if counted is None:
            quality = _data_quality(ctx, list(by_kind), rules)
        else:
            count, quality = counted.result()
    return Evaluation(quality, {DATA_QUALITY.id: None}, count, complete=functools.partial(complete_firings, ctx),
                      fired=fired, fired_rules={r.id: r for r in rules}, cleared=cleared, whole_rules=whole)


def _params(ctx: ScanContext) -> dict[str, Any]:
    return {"now": ctx.now_iso, "today": ctx.now.date().isoformat(), **derived.params(ctx.cfg)}


def _select(ctx: ScanContext, kind: str, rules: list[RecordRule]) -> str:
    """temp._sel_<kind>(rid): the rowids of the live, changed and active-subject records."""
    since = _iso(ctx.now - timedelta(days=1), ctx.cfg)
    until = _iso(ctx.now + timedelta(days=APPOINTMENT_DAYS), ctx.cfg)
    ctx.selections[kind] = ctx.store.select_records(kind, [r.id for r in rules], since, until, ctx.since_seq)
    return ctx.selections[kind]


def _count(ctx: ScanContext, kind: str, rules: Iterable[RecordRule], selection: str | None) -> int:
    """The records a scan counts as looked at: all (full), the selection (durable), or the live and
    changed ones (sql: its queries reach the rows through the kinds' indexes)."""
    if selection:
        return ctx.store.count_selection(selection)
    if ctx.full:
        return ctx.store.count(kind)
    since = _iso(ctx.now - timedelta(days=1), ctx.cfg)
    until = _iso(ctx.now + timedelta(days=APPOINTMENT_DAYS), ctx.cfg)
    return ctx.store.count_selected(kind, since, until, ctx.since_seq)


def _count_aside(ctx: ScanContext, kinds: list[str], rules: list[RecordRule]) -> tuple[int, list[Firing]]:
    """_count of every kind (the SQL engine's: no selection) and _data_quality, on a connection of
    their own."""
    with Store(ctx.store.path) as store:
        own = replace(ctx, store=store)
        return sum(_count(own, kind, (), None) for kind in kinds), _data_quality(own, kinds, rules)


def _where(ctx: ScanContext, kind: str, selection: str | None) -> str:
    return f"{ctx.store.dialect.rowid(kind, kind)} IN (SELECT rid FROM {selection})" if selection else "1 = 1"


def _sql_fire(ctx: ScanContext, kind: str, rule: RecordRule, selection: str | None, fired: str,
              delta: str | None) -> bool:
    """The rule's query: the subjects that fire go straight into the fired table, set-wise. With a
    previous scan to start from (`delta`, ctx.prev), only the rows whose firing can have changed
    since are evaluated (store.fire_changes: rows whose condition's truth moved between the two
    scans' clocks, changed rows, verified findings' subjects): returns True then, False when the
    rule was evaluated over every record."""
    parts, params = ctx.rule_sql(kind, rule)
    cond = f"({' AND '.join(parts)})"
    if delta is not None and selection is None and ctx.incremental(kind, rule, cond):
        assert ctx.prev is not None, "incremental implies a previous scan"
        params = {**params, "_prev_now": ctx.prev.now, "_prev_today": ctx.prev.now[:10], "_since": ctx.prev.since}
        fixed = " AND ".join(p for p in parts if not compiler.on_clock(p)) or "1 = 1"
        now = " AND ".join(p for p in parts if compiler.on_clock(p)) or "1 = 1"
        ctx.store.fire_changes(delta, kind, fixed, now, compiler.at_previous(now), params,
                               _window(ctx, kind, rule))
        return True
    ctx.store.fire_records(fired, kind, f"{_where(ctx, kind, selection)} AND {cond}", params)
    return False


def _window(ctx: ScanContext, kind: str, rule: RecordRule) -> list[window.Range] | None:
    """The column ranges outside which the rule's truth cannot have moved between the previous
    scan's clock and this one (checker.evaluate.window; None: not known)."""
    assert ctx.prev is not None, "an incremental evaluation has a previous scan"
    found = window.moves(kind, rule.when, rule.params)
    return None if found is None else window.ranges(ctx.store, kind, found, ctx.prev.now, ctx.now_iso)


def _durable_subjects(ctx: ScanContext, kind: str, rules: list[RecordRule],
                      selection: str | None) -> dict[str, list[str]]:
    """The reference engine: events of the fields the conditions read (values made by the same SQL
    definitions), posted to each rule's durable-rules ruleset."""
    engine = Engine.instance()
    engine.ensure(ctx.rulebook)
    read = sorted({leaf.field for r in rules for leaf in leaves(r.when)})
    out: dict[str, list[str]] = {r.id: [] for r in rules}
    bools = _bool_names(kind)
    for chunk in ctx.store.derived_chunks(kind, derived.select_list(kind, read), _where(ctx, kind, selection),
                                          _params(ctx), FULL_CHUNK):
        keys = [str(row[0]) for row in chunk]
        events = [{name: (bool(v) if name in bools else v) for name, v in zip(read, row[1:]) if v is not None}
                  for row in chunk]
        for rule_id, i in engine.evaluate([r.id for r in rules], events):
            out[rule_id].append(keys[i])
    return out


def check_record(store: ScanRepo, cfg: Config, rulebook: RuleBook, kind: str, key: str,
                 now: datetime) -> list[Firing]:
    """The single-record check (the bot's and an API's question "what is wrong with this case now?"):
    the record rules of its kind that fire on it, decided by the reference engine (durable-rules) on
    the event the same SQL makes, made whole with their messages. Writes no finding."""
    rules = [r for r in rulebook.of_kind("record") if r.record == kind]
    if not rules:
        return []
    ctx = ScanContext(store, cfg, rulebook, now.astimezone(cfg.tz), True, 0, "durable")
    engine = Engine.instance()
    engine.ensure(rulebook)
    read = sorted({leaf.field for r in rules for leaf in leaves(r.when)})
    row = store.derived_row(kind, derived.select_list(kind, read), key, _params(ctx))
    if row is None:
        return []
    bools = _bool_names(kind)
    event = {name: (bool(v) if name in bools else v) for name, v in zip(read, row) if v is not None}
    by_id = {r.id: r for r in rules}
    fired = [Firing(by_id[rule_id], str(key), kind, None, None, None, None)
             for rule_id, _ in engine.evaluate(list(by_id), [event])]
    return complete_firings(ctx, fired)


@functools.cache
def _bool_names(kind: str) -> frozenset[str]:
    """Fields and derived fields of a kind that are booleans (SQLite gives 0/1)."""
    own = {f.name for f in KINDS[kind].fields if f.type == "bool"}
    computed = {n for n in derived.names(kind) if (d := derived.get(kind, n)) is not None and d.type == "bool"}
    return frozenset(own | computed)


@functools.lru_cache(maxsize=256)
def kept_fields(kind: str, rule: Rule) -> tuple[str, ...]:
    """What a finding of a record rule keeps: its message's fields, the identity facts, and what the
    clock-moving fields among them need to be rendered again when read."""
    shown = placeholders(rule.message)
    names = (shown | _IDENTITY | {KINDS[kind].key[0], "org"}) & (set(KINDS[kind].columns) | derived.names(kind))
    needs = {c for n in names if (d := derived.get(kind, n)) is not None and d.clock for c in d.needs}
    return tuple(sorted(names | needs))


def complete_firings(ctx: ScanContext, firings: list[Firing]) -> list[Firing]:
    """Record firings made whole (facts, message, deadline, handler), a query per rule."""
    out: list[Firing] = []
    by_rule: dict[Rule, list[Firing]] = {}        # rule → its firings not made whole yet
    for f in firings:
        if f.message is None:
            by_rule.setdefault(f.rule, []).append(f)
        else:
            out.append(f)
    for rule, group in by_rule.items():
        kind = group[0].subject_kind
        names = kept_fields(kind, rule)
        rows = ctx.store.derived_rows_by_key(kind, derived.select_list(kind, names), [f.subject for f in group],
                                             _params(ctx))
        bools = _bool_names(kind)
        for row in rows:
            facts = {n: (bool(v) if n in bools and v is not None else v) for n, v in zip(names, row)}
            out.append(_record_firing(ctx, rule, kind, facts))
    return out


def _setwise(ctx: ScanContext, rules: dict[str, Rule]) -> Setwise:
    """The record rules' new findings opened set-wise, as _record_firing makes them."""
    specs = [open_spec(ctx, rule) for rule in rules.values() if isinstance(rule, RecordRule) and rule.record]
    return Setwise(specs, rules, _params(ctx))


def open_spec(ctx: ScanContext, rule: RecordRule) -> OpenSpec:
    """What _record_firing makes of a rule's firing, as a description SQL can follow
    (checker.findings.opening): the kept facts from the record, the rule's constants, the org's name."""
    kind = rule.record
    names = kept_fields(kind, rule)
    base = _base_facts(ctx, rule, None)
    constants = {k: v for k, v in base.items() if k not in ("org", ORG_NAME)}
    row = (set(names) - set(constants)) | {"org", ORG_NAME}
    kept = sorted(set(names) | (placeholders(rule.message) & (set(names) | set(base))))
    facts = [_open_fact(kind, name, constants) for name in kept] + [opening.fact(TEMPLATE, rule.message)]
    return OpenSpec(rule.id, rule.clause, rule.standard, rule.severity, kind, KINDS[kind].key[0],
                    tuple(sorted(facts, key=lambda f: f.name)),
                    opening.message_pieces(rule.message, constants, row), ctx.rectify_due(rule),
                    own_due=kind == "cases", handler=kind == "cases")


def _open_fact(kind: str, name: str, constants: Row) -> opening.Fact:
    if name in constants:
        return opening.fact(name, constants[name])
    if name == ORG_NAME:
        return opening.fact(name)
    d = derived.get(kind, name)
    if name == "org" and "org" not in KINDS[kind].columns:
        return opening.fact(name, None)
    sql = d.sql if d is not None and name not in KINDS[kind].columns else f'{kind}."{name}"'
    typ = "bool" if name in _bool_names(kind) else d.type if d is not None else KINDS[kind].field(name).type
    return opening.fact(name, sql=sql, type_=typ)


def _record_firing(ctx: ScanContext, rule: Rule, kind: str, facts: Row) -> Firing:
    all_facts = {**facts, **_base_facts(ctx, rule, facts.get("org"))}
    due = facts.get("due_at") if kind == "cases" and (facts.get("due_at") or "") > ctx.now_iso else None
    kept = {k: all_facts[k] for k in (set(facts) | placeholders(rule.message)) if k in all_facts}
    kept[TEMPLATE] = rule.message
    return Firing(rule=rule, subject=str(facts[KINDS[kind].key[0]]), subject_kind=kind, org=facts.get("org"),
                  message=render(rule.message, all_facts), due_at=due or ctx.rectify_due(rule),
                  handler=facts.get("handler") if kind == "cases" else None, facts=kept)


def _data_quality(ctx: ScanContext, kinds: list[str], rules: list[RecordRule]) -> list[Firing]:
    """Records the scan cannot evaluate (a date outside the workdays table, a deadline that cannot be
    computed) become a finding for the admin; every other record is evaluated as usual. A scan looks
    at the records changed since the last scan (the first: all) and those of the active such findings:
    a record's dates change only with the record, and the table only grows, so a record found fine
    stays fine."""
    coverage = ctx.coverage
    assert coverage is not None, "ScanContext.__post_init__ sets it"
    out = []
    for kind in kinds:
        for key, org, name, value, reason in ctx.store.unevaluable_records(
                kind, coverage.first, coverage.last, ctx.since_seq,
                DATA_QUALITY.id):
            facts = {**_base_facts(ctx, DATA_QUALITY, org), "kind_title": _KIND_TITLES.get(kind, kind),
                     "record_kind": kind, "record_key": key, "field": name, "value": value, "reason": reason}
            out.append(Firing(rule=DATA_QUALITY, subject=f"{kind}:{key}:{name}", subject_kind=kind, org=org,
                              message=render(DATA_QUALITY.message, facts), due_at=ctx.rectify_due(DATA_QUALITY),
                              handler=None, facts=facts))
    return out


# ------------------------------------------------------------------------------ checklist rules

_REASONS = {"missing": "从未检查", "failed": "最近一次检查未通过", "stale": "逾期未检查"}


def _checklists(ctx: ScanContext, rules: list[ChecklistRule]) -> Evaluation:
    out = Evaluation()
    calendars = supervision.Calendars(ctx.cfg)
    for rule in rules:
        orgs = ctx.store.orgs_at_levels(rule.levels)
        latest = ctx.store.latest_inspections([c.id for c in rule.checks])
        firings = [f for o in orgs for c in rule.checks
                   if (f := _checklist_firing(ctx, rule, o["code"], c, latest.get((o["code"], c.id)))) is not None]
        looked = None
        if rule.every_working_day:         # DB50/T 957.7 §5.1 d): each working day without a record
            gaps, days = supervision.missed_days(ctx.store, ctx.cfg, rule, [o["code"] for o in orgs], ctx.now, calendars)
            firings += [_gap_firing(ctx, rule, g, "checklist") for g in gaps]
            looked = days | {f"{o['code']}:{c.id}" for o in orgs for c in rule.checks}
        out.add(Evaluation(firings, {rule.id: looked}, len(orgs) * len(rule.checks)))
    return out


def _checklist_state(ctx: ScanContext, rule: ChecklistRule, last: Row | None) -> str | None:
    if last is None:
        return "missing"
    if last["result"] == "fail":
        return "failed"
    if rule.max_age_days and date.fromisoformat(last["date"]) < ctx.now.date() - timedelta(days=rule.max_age_days):
        return "stale"
    return None


def _checklist_firing(ctx: ScanContext, rule: ChecklistRule, org: str, check: Check, last: Row | None) -> Firing | None:
    state = _checklist_state(ctx, rule, last)
    if state is None:
        return None
    facts = {**_base_facts(ctx, rule, org), "check": check.id, "check_title": check.title,
             "last_date": last["date"] if last else None, "last_result": last["result"] if last else None,
             "reason": _REASONS[state], "max_age_days": rule.max_age_days}
    return Firing(rule=rule, subject=f"{org}:{check.id}", subject_kind="checklist", org=org,
                  message=render(rule.message, facts), due_at=ctx.rectify_due(rule), handler=None, facts=facts)


def _gap_firing(ctx: ScanContext, rule: Rule, gap: supervision.Gap, subject_kind: str) -> Firing:
    """A firing of checker.evaluate.supervision (a missed working day, a period without its activity); a
    warning (the period's last working days) fires as yellow."""
    facts = {**_base_facts(ctx, rule, gap.org), **gap.facts}
    shown = replace(rule, severity="yellow") if gap.warning and rule.severity != "yellow" else rule
    return Firing(rule=shown, subject=gap.subject, subject_kind=subject_kind, org=gap.org,
                  message=render(rule.message, facts), due_at=gap.due.isoformat() if gap.due else ctx.rectify_due(rule),
                  handler=None, facts=facts)


# ------------------------------------------------------------------------------ cadence rules

def _cadences(ctx: ScanContext, rules: list[CadenceRule]) -> Evaluation:
    """Calendar periods (checker.evaluate.supervision): a period ended without the activity, or near its end."""
    out = Evaluation()
    calendars = supervision.Calendars(ctx.cfg)
    for rule in rules:
        gaps, looked, count = supervision.cadence_gaps(ctx.store, ctx.cfg, rule, ctx.now, calendars)
        out.add(Evaluation([_gap_firing(ctx, rule, g, "cadence") for g in gaps], {rule.id: looked}, count))
    return out


# ------------------------------------------------------------------------------ indicator rules

def _indicators(ctx: ScanContext, rules: list[IndicatorRule], period: Period | None = None) -> Evaluation:
    """The indicator rules over one period (in the background: a part each), or over every
    period a scan evaluates (indicators.scan_periods)."""
    periods = [period] if period is not None else None
    firings, evaluated = indicators.indicator_scan(ctx.store, ctx.cfg, ctx.rulebook, ctx.now, periods)
    return Evaluation(list(firings), dict(evaluated), sum(len(s or ()) for s in evaluated.values()))


# The evaluator of each rule kind, fn(ctx, rules) -> Evaluation, in the order they start. A kind in
# BACKGROUND spends its time in SQLite (which releases the GIL), so it runs in a thread on a
# connection of its own while the others run, one part after the other, each fn(ctx, rules, part) (the
# indicators: last month, then this month). One thread, not one per part: both periods sum the same
# kept roll-ups, which the first brings up to date in a write transaction; a second thread only waited
# on that lock, in SQLite's busy handler, which sleeps in steps of up to 0.1 s, so it woke late.
EVALUATORS: dict[str, Callable[..., Evaluation]] = {"record": _records, "checklist": _checklists, "cadence": _cadences,
                                   "indicator": _indicators}
BACKGROUND: dict[str, Callable[[ScanContext], Iterable[Period]]] = {"indicator": lambda ctx: indicators.scan_periods(ctx.cfg, ctx.now)}
