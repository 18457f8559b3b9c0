"""The scan: evaluate the rules against the store and reconcile the findings.

An incremental scan evaluates, per record kind, the live records (open cases, unanswered
consultations, unrectified valid complaints, 差评 not called back or not rectified, appointments of
the coming days without a reminder), the records changed since the last scan (`_seq`), and the
subjects of the rules' active findings, so its cost follows open and changed records, not history.
`full=True` evaluates every record. Indicator, checklist and cadence rules are evaluated whole by
the evaluator registered for their kind (@evaluator(kind)).
"""
from __future__ import annotations

import functools
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Callable

from . import derived, forked, holiday_years, supervision
from .engine import Engine
from .errors import GovwatchError
from .findings import Firing, ReconcileResult, reconcile
from .records import KINDS
from .rules.model import leaves

APPOINTMENT_DAYS = 7           # appointments within this many days ahead are live
FULL_CHUNK = 20000             # records a full scan holds at a time
DEFAULT_RECTIFY_DAYS = 5       # working days to rectify, unless a rule sets rectify_days
EVALUATORS: dict[str, Callable] = {}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Facts every finding keeps besides its message's placeholders (messages, the bot and reports read them).
_IDENTITY = frozenset({"rule_title", "clause", "standard", "org", "org_name", "due_at", "handler", "item_code",
                       "item_name", "status", "channel", "accepted_at"})
_ISO_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass(frozen=True)
class ScanResult:
    scan_id: int
    now: str
    evaluated: int
    opened: int
    resolved: int
    reopened: int
    open: int

    def as_json(self) -> dict:
        return asdict(self)


@dataclass
class Evaluation:
    """What evaluating some rules gave: firings, and per rule the subjects looked at (None: all)."""
    firings: list = field(default_factory=list)
    evaluated: dict = field(default_factory=dict)
    count: int = 0

    def add(self, other: "Evaluation") -> None:
        self.firings += other.firings
        self.evaluated.update(other.evaluated)
        self.count += other.count


@dataclass
class ScanContext:
    store: object
    cfg: object
    rulebook: object
    now: datetime
    full: bool
    since_seq: int
    derived: derived.DerivedContext = None

    def __post_init__(self):
        self.derived = derived.DerivedContext(self.store, self.cfg, self.now)
        self.now_iso = _iso(self.now, self.cfg)
        self._due: dict[int, str] = {}              # rectification deadline by working days
        self.bases: dict[tuple, dict] = {}          # (rule id, org) → the facts its firings share
        self.org_names = dict(self.store.conn.execute("SELECT code, name FROM orgs").fetchall())

    def rectify_due(self, rule) -> str:
        days = rule.rectify_days if rule.rectify_days is not None else DEFAULT_RECTIFY_DAYS
        if days not in self._due:
            day = self.derived.calendar().add(self.now.date(), days)
            self._due[days] = datetime.combine(day, time(23, 59, 59), tzinfo=self.cfg.tz).isoformat()
        return self._due[days]


BACKGROUND: set[str] = set()      # evaluators that are SQL-bound: run beside the others, on their own connection


def evaluator(kind: str, background: bool = False):
    """Register the evaluator of a rule kind: fn(ctx, rules) -> Evaluation. A `background` one spends
    its time in SQLite (which releases the GIL), so it runs in a thread on its own connection while the
    Python-bound evaluators run: on two cores the scan takes the longer of the two, not the sum."""
    def register(fn):
        EVALUATORS[kind] = fn
        if background:
            BACKGROUND.add(kind)
        return fn
    return register


# ------------------------------------------------------------------------------ the scan

def run_scan(store, cfg, rulebook, now: datetime, full: bool = False) -> ScanResult:
    """Evaluate, reconcile the findings (one transaction), record the scan."""
    last = store.last_scan_seq()
    full = full or last is None
    to_seq = store.current_seq()
    now_iso = _iso(now, cfg)
    scan_id = store.start_scan(now_iso, _iso(datetime.now(cfg.tz), cfg), full, rulebook.version, last or 0, to_seq)
    ctx = ScanContext(store, cfg, rulebook, now.astimezone(cfg.tz), full, last or 0)
    count, results = 0, []
    with store.transaction():
        for part in _parts(ctx):         # the SQL-bound kinds finish in their thread while the first part reconciles
            results.append(reconcile(store, cfg, scan_id, now, part.firings, part.evaluated))
            count += part.count
        missing = holiday_years.firings(store, cfg, now, ctx.rectify_due(holiday_years.RULE))   # admins: no 调休 data
        results.append(reconcile(store, cfg, scan_id, now, *missing))
    r = ReconcileResult.total(results)
    store.finish_scan(scan_id, _iso(datetime.now(cfg.tz), cfg), count, r.opened, r.resolved, r.reopened, r.open)
    return ScanResult(scan_id, now_iso, count, r.opened, r.resolved, r.reopened, r.open)


def evaluate(store, cfg, rulebook, now: datetime, full: bool = True, since_seq: int = 0) -> Evaluation:
    """Every enabled rule's firings at `now`, writing nothing."""
    out = Evaluation()
    for part in _parts(ScanContext(store, cfg, rulebook, now.astimezone(cfg.tz), full, since_seq)):
        out.add(part)
    return out


def _parts(ctx: ScanContext):
    """The evaluation in parts, each covering whole rules: first every Python-bound kind, then each
    SQL-bound (BACKGROUND) kind, which runs meanwhile in a thread on its own connection."""
    work = {kind: rules for kind in EVALUATORS if (rules := ctx.rulebook.of_kind(kind))}
    aside = {kind for kind in work if kind in BACKGROUND and ctx.store.path != ":memory:"}
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = [pool.submit(_on_own_connection, ctx, kind, work[kind]) for kind in work if kind in aside]
        first = Evaluation()
        for kind in [k for k in work if k not in aside]:       # registry order
            first.add(EVALUATORS[kind](ctx, work[kind]))
        yield first
        for future in pending:
            yield future.result()


def _on_own_connection(ctx: ScanContext, kind: str, rules) -> Evaluation:
    from .store import Store
    with Store(ctx.store.path) as store:
        return EVALUATORS[kind](replace(ctx, store=store), rules)


def _iso(when: datetime, cfg) -> str:
    return when.astimezone(cfg.tz).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------ messages

def render(template: str, facts: dict) -> str:
    """Plain {name} substitution (names were checked by the loader); nothing else is interpreted."""
    return "".join([text + _text(facts.get(name)) if name else text for text, name in _template(template)])


@functools.lru_cache(maxsize=1024)
def _template(template: str) -> tuple[tuple[str, str | None], ...]:
    """A template split once into (literal text, the placeholder after it or None) pairs."""
    pieces = _PLACEHOLDER.split(template)           # literal, name, literal, name, …, literal
    return tuple(zip(pieces[::2], [*pieces[1::2], None]))


def placeholders(template: str) -> frozenset[str]:
    return frozenset(_PLACEHOLDER.findall(template))


def _text(value) -> str:
    kind = type(value)
    if kind is str:
        return value[:16].replace("T", " ") if len(value) >= 16 and value[10] == "T" and _ISO_PREFIX.match(value) else value
    if kind is int:
        return str(value)
    if value is None:
        return "—"
    if kind is bool:
        return "是" if value else "否"
    if kind is float and value.is_integer():
        return str(int(value))
    return str(value)


def _base_facts(ctx: ScanContext, rule, org: str | None) -> dict:
    """The facts every firing of a rule in an org shares (made once per scan; callers copy, not change)."""
    key = (rule.id, org)
    base = ctx.bases.get(key)
    if base is None:
        base = ctx.bases[key] = {**rule.params, "rule_title": rule.title, "title": rule.title, "clause": rule.clause,
                                 "standard": rule.standard, "org": org, "org_name": ctx.org_names.get(org, org)}
    return base


# ------------------------------------------------------------------------------ record rules

@evaluator("record")
def _records(ctx: ScanContext, rules) -> Evaluation:
    """Every record rule over its kind's records: one batch of every kind's selected records (an
    incremental scan), or chunk after chunk of each table (a full scan: memory stays flat)."""
    engine = Engine.instance()
    engine.ensure(ctx.rulebook)
    by_kind: dict[str, list] = {}
    for r in rules:
        by_kind.setdefault(r.record, []).append(r)
    firings, count, subjects = [], 0, {kind: set() for kind in by_kind}
    for batch in _batches(ctx, by_kind):
        firings += _batch_firings(ctx, engine, by_kind, batch)
        count += len(batch)
        if not ctx.full:
            for kind, records in batch.parts:
                key = KINDS[kind].key[0]
                subjects[kind].update(str(r[key]) for r in records)
    return Evaluation(firings, {r.id: None if ctx.full else subjects[r.record] for r in rules}, count)


@dataclass(frozen=True)
class Batch:
    """Records of one or more kinds, kind by kind. It has a length and slices into batches (all
    checker.forked needs to halve it) without a (kind, record) pair per record."""
    parts: tuple[tuple[str, list], ...]

    def __len__(self) -> int:
        return sum(len(records) for _, records in self.parts)

    def __getitem__(self, index):
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a Batch slices into batches only")
        start, stop, _ = index.indices(len(self))
        parts, offset = [], 0
        for kind, records in self.parts:
            lo, hi = max(start - offset, 0), min(stop - offset, len(records))
            if lo < hi:
                parts.append((kind, records[lo:hi]))
            offset += len(records)
        return Batch(tuple(parts))


def _batches(ctx: ScanContext, by_kind: dict):
    if ctx.full:
        for kind in by_kind:
            for chunk in ctx.store.record_chunks(kind, FULL_CHUNK):
                yield Batch(((kind, chunk),))
    else:
        yield Batch(tuple((kind, _select(ctx, kind, rules)) for kind, rules in by_kind.items()))


def _batch_firings(ctx: ScanContext, engine: Engine, by_kind: dict, batch: Batch) -> list:
    """The firings of a batch; a big one is shared with a forked child (checker.forked)."""
    by_id = {r.id: r for rules in by_kind.values() for r in rules}
    ctx.derived.load()                      # a forked child must find every lookup in memory
    return forked.halves(lambda part: _kinds_firings(ctx, engine, by_kind, part), batch,
                         encode=_plain_firings, decode=lambda rows: [Firing(by_id[r[0]], *r[1:]) for r in rows])


def _kinds_firings(ctx: ScanContext, engine: Engine, by_kind: dict, batch: Batch) -> list:
    return [f for kind, records in batch.parts for f in _firings(ctx, engine, kind, by_kind[kind], records)]


@dataclass(frozen=True)
class KindPlan:
    """What the rules of one record kind need of each record: the fields their conditions read (all
    an engine event carries), the derived fields to compute, and the facts a finding keeps."""
    event_fields: tuple[str, ...]
    derived: frozenset[str]
    kept: frozenset[str]
    columns: tuple[str, ...]          # the record's own fields those need


@functools.lru_cache(maxsize=64)
def plan(kind: str, rules: tuple) -> KindPlan:
    read = {leaf.field for r in rules for leaf in leaves(r.when)}
    shown = set().union(*(placeholders(r.message) for r in rules)) | _IDENTITY
    kept = frozenset(shown | {KINDS[kind].key[0]})
    return KindPlan(tuple(sorted(read)), frozenset((read | shown) & derived.names(kind)), kept,
                    tuple(c for c in KINDS[kind].columns if c in read | kept))


def _plain_firings(firings: list) -> list[tuple]:
    """Firings as plain rows (the rule by id), for the forked child to send back."""
    return [(f.rule.id, f.subject, f.subject_kind, f.org, f.message, f.due_at, f.handler, f.facts) for f in firings]


def _firings(ctx: ScanContext, engine: Engine, kind: str, rules, records: list[dict]) -> list:
    p = plan(kind, tuple(rules))
    facts = [_facts(ctx, kind, r, p.derived, p.columns) for r in records]
    events = [{k: v for k in p.event_fields if (v := f.get(k)) is not None} for f in facts]
    by_id = {r.id: r for r in rules}
    return [_record_firing(ctx, by_id[rule_id], kind, records[i], facts[i], p.kept)
            for rule_id, i in engine.evaluate(list(by_id), events)]


def _select(ctx: ScanContext, kind: str, rules) -> list[dict]:
    """The records a scan looks at: all (full) or live + changed + subjects of active findings."""
    store = ctx.store
    if ctx.full:
        return store.all_records(kind)
    since = _iso(ctx.now - timedelta(days=1), ctx.cfg)
    until = _iso(ctx.now + timedelta(days=APPOINTMENT_DAYS), ctx.cfg)
    found = store.live_records(kind, since, until) + store.changed_records(kind, ctx.since_seq)
    found += store.records_by_key(kind, store.unseen_active_subjects(kind, [r.id for r in rules], since, until,
                                                                     ctx.since_seq))
    key = KINDS[kind].key[0]
    return list({str(r[key]): r for r in found}.values())


def _facts(ctx: ScanContext, kind: str, row: dict, only: frozenset | None = None, columns=None) -> dict:
    """The record's fields (those in `columns`, default all) and derived fields (those in `only`)."""
    names = columns if columns is not None else [c for c in row if c != "_seq"]
    out = {name: row.get(name) for name in names}
    for name in _bool_fields(kind) & out.keys():       # SQLite keeps booleans as 0/1
        if out[name] is not None:
            out[name] = bool(out[name])
    out.update(derived.compute(kind, row, ctx.derived, only))
    return out


@functools.cache
def _bool_fields(kind: str) -> frozenset[str]:
    return frozenset(f.name for f in KINDS[kind].fields if f.type == "bool")


def _record_firing(ctx: ScanContext, rule, kind: str, row: dict, facts: dict, kept=None):
    key = KINDS[kind].key[0]
    all_facts = {**facts, **_base_facts(ctx, rule, row.get("org"))}
    due = facts.get("due_at") if kind == "cases" and (facts.get("due_at") or "") > ctx.now_iso else None
    return Firing(rule=rule, subject=str(row[key]), subject_kind=kind, org=row.get("org"),
                  message=render(rule.message, all_facts), due_at=due or ctx.rectify_due(rule),
                  handler=row.get("handler") if kind == "cases" else None,
                  facts=_kept(all_facts, kept))


def _kept(facts: dict, kept) -> dict:
    """The facts a finding stores: plain values only, and only those its messages use (`kept`)."""
    if kept is not None:                  # record facts: SQLite values and derived fields, plain already
        return {k: facts[k] for k in kept & facts.keys()}
    return {k: v for k, v in facts.items() if isinstance(v, (str, int, float, bool)) or v is None}


# ------------------------------------------------------------------------------ checklist rules

_REASONS = {"missing": "从未检查", "failed": "最近一次检查未通过", "stale": "逾期未检查"}


@evaluator("checklist")
def _checklists(ctx: ScanContext, rules) -> Evaluation:
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


def _checklist_state(ctx: ScanContext, rule, last: dict | None) -> str | None:
    if last is None:
        return "missing"
    if last["result"] == "fail":
        return "failed"
    if rule.max_age_days and date.fromisoformat(last["date"]) < ctx.now.date() - timedelta(days=rule.max_age_days):
        return "stale"
    return None


def _checklist_firing(ctx: ScanContext, rule, org: str, check, last: dict | None):
    state = _checklist_state(ctx, rule, last)
    if state is None:
        return None
    facts = {**_base_facts(ctx, rule, org), "check": check.id, "check_title": check.title,
             "last_date": last["date"] if last else None, "last_result": last["result"] if last else None,
             "reason": _REASONS[state], "max_age_days": rule.max_age_days}
    return Firing(rule=rule, subject=f"{org}:{check.id}", subject_kind="checklist", org=org,
                  message=render(rule.message, facts), due_at=ctx.rectify_due(rule), handler=None, facts=facts)


def _gap_firing(ctx: ScanContext, rule, gap, subject_kind: str) -> Firing:
    """A firing of checker.supervision (a missed working day, a period without its activity); a
    warning (the period's last working days) fires as yellow."""
    facts = {**_base_facts(ctx, rule, gap.org), **gap.facts}
    shown = replace(rule, severity="yellow") if gap.warning and rule.severity != "yellow" else rule
    return Firing(rule=shown, subject=gap.subject, subject_kind=subject_kind, org=gap.org,
                  message=render(rule.message, facts), due_at=gap.due.isoformat() if gap.due else ctx.rectify_due(rule),
                  handler=None, facts=facts)


# ------------------------------------------------------------------------------ cadence rules

@evaluator("cadence")
def _cadences(ctx: ScanContext, rules) -> Evaluation:
    """Calendar periods (checker.supervision): a period ended without the activity, or near its end."""
    out = Evaluation()
    calendars = supervision.Calendars(ctx.cfg)
    for rule in rules:
        gaps, looked, count = supervision.cadence_gaps(ctx.store, ctx.cfg, rule, ctx.now, calendars)
        out.add(Evaluation([_gap_firing(ctx, rule, g, "cadence") for g in gaps], {rule.id: looked}, count))
    return out


# ------------------------------------------------------------------------------ indicator rules

@evaluator("indicator", background=True)
def _indicators(ctx: ScanContext, rules) -> Evaluation:
    try:
        from . import indicators
    except ImportError as exc:
        raise GovwatchError(f"指标规则无法评估：checker.indicators 不可用（{exc}）") from exc
    if hasattr(indicators, "indicator_scan"):
        firings, evaluated = indicators.indicator_scan(ctx.store, ctx.cfg, ctx.rulebook, ctx.now)
    else:
        firings = indicators.failed_indicators(ctx.store, ctx.cfg, ctx.rulebook, ctx.now)
        evaluated = {r.id: None for r in rules}
    return Evaluation(list(firings), dict(evaluated), sum(len(s or ()) for s in evaluated.values()))
