"""Periodic reports of DB50/T 957.7 §4.2 (日扫描、周调度、月通报、季分析、年考评): a self-contained
Chinese HTML file (inline CSS and SVG charts, print CSS for A4, reads on a phone), optionally laid
out as an A4 PDF (WeasyPrint or Chromium) and an Excel workbook, plus a short text the bot can send.

    build_report(store, cfg, rulebook, "monthly", now=now, formats=("html", "pdf"))
        -> ReportResult(html_path, text, kind, period, files={"html": …, "pdf": …}, pages=N)
    report_pdf(store, cfg, rulebook, "monthly", now=now) -> Path of the PDF (what the bot's /report sends)
"""
from __future__ import annotations

from typing import Any, Iterable

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import InputError
from ..config import Config
from ..periods import Period
from ..rules.model import RuleBook
from .model import ReportRepo
from . import html, model, summary
from .pdf import write_pdf
from .workbook import report_sheets
from .xlsx import write_sheets


@dataclass(frozen=True)
class ReportSpec:
    name: str            # daily weekly monthly quarterly annual
    period_kind: str     # day week month quarter year
    title: str
    clause: str
    parts: tuple[str, ...]   # optional parts: surveys, poor, disclosures, trends, charts, index


@dataclass(frozen=True)
class ReportResult:
    html_path: Path
    text: str
    kind: str
    period: Period
    files: dict[str, Any] = field(default_factory=dict)     # format → Path: html always, pdf and xlsx when asked
    pages: int | None = None                      # PDF pages, when a PDF was written

    @property
    def pdf_path(self) -> Path | None:
        return self.files.get("pdf")

    @property
    def xlsx_path(self) -> Path | None:
        return self.files.get("xlsx")


FORMATS = ("html", "pdf", "xlsx")


def _spec(name: str, period_kind: str, title: str, clause: str, parts: tuple[str, ...] = ()) -> ReportSpec:
    return ReportSpec(name, period_kind, title, clause, parts)


# The five report kinds of the 日扫描、周调度、月通报、季分析、年考评 mechanism.
KINDS: dict[str, ReportSpec] = {s.name: s for s in (
    _spec("daily", "day", "日扫描报告", "DB50/T 957.7 §4.2 a)"),
    _spec("weekly", "week", "周调度报告", "DB50/T 957.7 §4.2 b)"),
    _spec("monthly", "month", "月度通报", "DB50/T 957.7 §4.2 c)", ("surveys", "poor", "disclosures")),
    _spec("quarterly", "quarter", "季度分析报告", "DB50/T 957.7 §4.2 d)",
          ("surveys", "poor", "disclosures", "trends", "charts")),
    _spec("annual", "year", "年度效能评价报告", "DB50/T 957.7 §4.2 e)、§6.5",
          ("surveys", "poor", "disclosures", "trends", "charts", "index")),
)}


def default_period(kind: str, now: datetime) -> Period:
    """The previous complete day / week / month / quarter / year before `now`."""
    spec = spec_of(kind)
    return Period.containing(spec.period_kind, now.date()).previous()


def spec_of(kind: str) -> ReportSpec:
    if kind not in KINDS:
        raise InputError(f"未知的报告类型 {kind!r}：应为 {'、'.join(KINDS)}")
    return KINDS[kind]


def build_report(store: ReportRepo, cfg: Config, rulebook: RuleBook, kind: str, period: Period | str | None = None, org: str | None = None, *,
                 now: datetime, out_dir: str | Path | None = None,
                 formats: Iterable[str] | None = None) -> ReportResult:
    """Gather, render and write one report (HTML, plus PDF / xlsx when asked; default: config
    reports.formats); return where the files are and the text summary."""
    formats = tuple(formats or cfg.reports.formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"未知的报告格式 {'、'.join(unknown)}：应为 {'、'.join(FORMATS)}")
    spec = spec_of(kind)
    period = _period(spec, period, now)
    if org is not None and store.get("orgs", org) is None:
        raise InputError(f"机构 {org} 不存在")
    report = model.gather(store, cfg, rulebook, spec, period, org, now)
    out = Path(out_dir or cfg.reports.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{kind}-{period.code}{'-' + org if org else ''}"
    path = out / f"{stem}.html"
    path.write_text(html.render(report, spec), encoding="utf-8")
    files, pages = {"html": path}, None
    if "pdf" in formats:
        files["pdf"] = out / f"{stem}.pdf"
        pages = write_pdf(path, files["pdf"])
    if "xlsx" in formats:
        files["xlsx"] = out / f"{stem}.xlsx"
        write_sheets(report_sheets(report, spec), files["xlsx"], f"{report.scope_name} {period.label}{spec.title}")
    return ReportResult(path, summary.text(report, "、".join(map(str, files.values()))), kind, period, files, pages)


def report_pdf(store: ReportRepo, cfg: Config, rulebook: RuleBook, kind: str, period: Period | str | None = None, org: str | None = None, *,
               now: datetime, out_dir: str | Path | None = None) -> Path:
    """The report of a period as an A4 PDF file (the bot's /report sends it); raises
    checker.reports.pdf.PdfUnavailable when no PDF engine is installed."""
    pdf: Path = build_report(store, cfg, rulebook, kind, period, org, now=now, out_dir=out_dir,
                             formats=("html", "pdf")).files["pdf"]
    return pdf


def _period(spec: ReportSpec, period: Period | str | None, now: datetime) -> Period:
    if period is None:
        return default_period(spec.name, now)
    p = Period.parse(period) if isinstance(period, str) else period
    if p.kind != spec.period_kind:
        raise InputError(f"{spec.title}的期间应为一个{_PERIOD_WORDS[spec.period_kind]}，而 {p.code} 是一个"
                         f"{_PERIOD_WORDS[p.kind]}")
    return p


_PERIOD_WORDS = {"day": "日（如 2026-10-09）", "week": "周（如 2026-W41）", "month": "月（如 2026-10）",
                 "quarter": "季度（如 2026-Q3）", "year": "年（如 2026）"}
