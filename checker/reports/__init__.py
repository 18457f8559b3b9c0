"""Periodic reports of DB50/T 957.7 §4.2 (日扫描、周调度、月通报、季分析、年考评): a self-contained
Chinese HTML file (inline CSS and SVG charts, prints on A4) plus a short text the bot can send.

    build_report(store, cfg, rulebook, "monthly", now=now) -> ReportResult(html_path, text, kind, period)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import InputError
from ..periods import Period

KINDS: dict[str, "ReportSpec"] = {}


@dataclass(frozen=True)
class ReportSpec:
    name: str            # daily weekly monthly quarterly annual
    period_kind: str     # day week month quarter year
    title: str
    clause: str
    parts: tuple[str, ...]   # optional parts: surveys, poor, trends, charts, index


@dataclass(frozen=True)
class ReportResult:
    html_path: Path
    text: str
    kind: str
    period: Period


def report_kind(name: str, period_kind: str, title: str, clause: str, parts: tuple[str, ...] = ()):
    """Register a report kind next to its description."""
    def register(obj):
        KINDS[name] = ReportSpec(name, period_kind, title, clause, tuple(parts))
        return obj
    return register


@report_kind("daily", "day", "日扫描报告", "DB50/T 957.7 §4.2 a)")
@report_kind("weekly", "week", "周调度报告", "DB50/T 957.7 §4.2 b)")
@report_kind("monthly", "month", "月度通报", "DB50/T 957.7 §4.2 c)", ("surveys", "poor"))
@report_kind("quarterly", "quarter", "季度分析报告", "DB50/T 957.7 §4.2 d)", ("surveys", "poor", "trends", "charts"))
@report_kind("annual", "year", "年度效能评价报告", "DB50/T 957.7 §4.2 e)、§6.5",
             ("surveys", "poor", "trends", "charts", "index"))
class _Kinds:
    """The five report kinds of the 日扫描、周调度、月通报、季分析、年考评 mechanism."""


def default_period(kind: str, now: datetime) -> Period:
    """The previous complete day / week / month / quarter / year before `now`."""
    spec = spec_of(kind)
    return Period.containing(spec.period_kind, now.date()).previous()


def spec_of(kind: str) -> ReportSpec:
    if kind not in KINDS:
        raise InputError(f"未知的报告类型 {kind!r}：应为 {'、'.join(KINDS)}")
    return KINDS[kind]


def build_report(store, cfg, rulebook, kind: str, period=None, org: str | None = None, *,
                 now: datetime, out_dir=None) -> ReportResult:
    """Gather, render and write one report; return where it is and its text summary."""
    from . import html, model, summary
    spec = spec_of(kind)
    period = _period(spec, period, now)
    if org is not None and store.get("orgs", org) is None:
        raise InputError(f"机构 {org} 不存在")
    report = model.gather(store, cfg, rulebook, spec, period, org, now)
    out = Path(out_dir or cfg.reports.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{kind}-{period.code}{'-' + org if org else ''}.html"
    path.write_text(html.render(report, spec), encoding="utf-8")
    return ReportResult(path, summary.text(report, path), kind, period)


def _period(spec: ReportSpec, period, now: datetime) -> Period:
    if period is None:
        return default_period(spec.name, now)
    p = Period.parse(period) if isinstance(period, str) else period
    if p.kind != spec.period_kind:
        raise InputError(f"{spec.title}的期间应为一个{_PERIOD_WORDS[spec.period_kind]}，而 {p.code} 是一个"
                         f"{_PERIOD_WORDS[p.kind]}")
    return p


_PERIOD_WORDS = {"day": "日（如 2026-10-09）", "week": "周（如 2026-W41）", "month": "月（如 2026-10）",
                 "quarter": "季度（如 2026-Q3）", "year": "年（如 2026）"}


from . import demo_step as _demo_step  # noqa: E402,F401  (registers the demo's monthly-bulletin step)
