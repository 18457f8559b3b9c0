"""A report as an Excel workbook (openpyxl): a sheet per table, numbers stored as numbers (ratios
with percent formats, dates as dates), bold frozen header rows, an autofilter and sized columns.

Also the findings list of `govwatch findings --format xlsx|csv`.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, IO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

PCT = "0.0%"
POINTS = '+0.0" 个百分点";-0.0" 个百分点";0.0" 个百分点"'
DATETIME = "yyyy-mm-dd hh:mm"
DATE = "yyyy-mm-dd"
INT = "0"
SCORE = "0.00"
HEAD_FILL = PatternFill("solid", fgColor="F1E6E6")


@dataclass
class Sheet:
    """One table: a title (the sheet name), column heads, typed rows and number formats by column."""
    name: str
    head: list[str]
    rows: list[list[Any]] = field(default_factory=list)     # cell values: text, numbers, datetimes, None
    formats: dict[int, str] = field(default_factory=dict)
    note: str | None = None          # a line above the table (what the figures mean)


def when(text: str | None) -> datetime | str | None:
    """An ISO datetime string as a naive local datetime (Excel has no time zones); other text as is."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text)).replace(tzinfo=None)
    except ValueError:
        return str(text)


def write_sheets(sheets: list[Sheet], path: Path, title: str | None = None) -> list[str]:
    """Write the sheets to an .xlsx file; returns the sheet names as written."""
    wb = Workbook()
    wb.remove(wb.active)
    if title:
        wb.properties.title = title
    used: set[str] = set()
    for sheet in sheets:
        _fill(wb.create_sheet(_sheet_name(sheet.name, used)), sheet)
    if not wb.sheetnames:
        wb.create_sheet("无数据")
    wb.save(path)
    names: list[str] = wb.sheetnames
    return names


def _fill(ws: Worksheet, sheet: Sheet) -> None:
    """One sheet: its note in italics, the bold header frozen with a filter, the rows, the widths."""
    first = 1
    if sheet.note:
        ws.cell(1, 1, sheet.note).font = Font(italic=True, color="666666")
        first = 2
    for j, h in enumerate(sheet.head, 1):
        c = ws.cell(first, j, h)
        c.font, c.fill = Font(bold=True), HEAD_FILL
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, row in enumerate(sheet.rows, first + 1):
        for j, value in enumerate(row, 1):
            _value_cell(ws.cell(i, j, value), value, sheet.formats.get(j - 1))
    ws.freeze_panes = ws.cell(first + 1, 1)
    if sheet.rows:
        ws.auto_filter.ref = f"A{first}:{get_column_letter(len(sheet.head))}{first + len(sheet.rows)}"
    _widths(ws, sheet)


def _value_cell(c: Cell, value: object, fmt: str | None) -> None:
    """A value's number format: dates and times as such, numbers by their column's format."""
    if isinstance(value, datetime):
        c.number_format = DATETIME
    elif isinstance(value, date):
        c.number_format = DATE
    elif fmt and isinstance(value, (int, float)):
        c.number_format = fmt


def _sheet_name(name: str, used: set[str]) -> str:
    clean = "".join("_" if ch in '[]:*?/\\' else ch for ch in name)[:31] or "表"
    out, n = clean, 2
    while out in used:
        out = f"{clean[:28]}({n})"
        n += 1
    used.add(out)
    return out


def _widths(ws: Any, sheet: Sheet) -> None:          # an openpyxl worksheet
    for j, h in enumerate(sheet.head):
        cells = [h, *(r[j] for r in sheet.rows[:200] if j < len(r))]
        width = max(_width(c) for c in cells)
        ws.column_dimensions[get_column_letter(j + 1)].width = min(60, max(8, width + 2))


def _width(value: object) -> int:
    if isinstance(value, datetime):
        return 16
    if isinstance(value, float):
        return 9
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


# ------------------------------------------------------------------ the findings list

FINDING_COLUMNS = (("id", "编号"), ("status_name", "状态"), ("severity_name", "等级"), ("rule", "规则"),
                   ("standard", "标准"), ("clause", "条款"), ("subject", "对象"), ("org", "机构"),
                   ("assignee", "责任人"), ("opened_at", "发现时间"), ("due_at", "整改期限"),
                   ("resolved_at", "消除时间"), ("message", "说明"))
_DATES = {"opened_at", "due_at", "resolved_at"}


def _finding_row(f: dict[str, Any], status_names: dict[str, str], severity_names: dict[str, str]) -> dict[str, Any]:
    return {**f, "status_name": status_names.get(f.get("status") or "", f.get("status")),
            "severity_name": severity_names.get(f.get("severity") or "", f.get("severity"))}


def findings_csv(rows: list[dict[str, Any]], out: IO[str], status_names: dict[str, str], severity_names: dict[str, str]) -> None:
    """The findings as CSV with Chinese column heads (ISO dates, as exported)."""
    w = csv.writer(out)
    w.writerow([h for _, h in FINDING_COLUMNS])
    for f in rows:
        r = _finding_row(f, status_names, severity_names)
        w.writerow(["" if r.get(k) is None else r.get(k) for k, _ in FINDING_COLUMNS])


def findings_xlsx(rows: list[dict[str, Any]], path: Path, status_names: dict[str, str], severity_names: dict[str, str]) -> list[str]:
    """The findings as one sheet: ids as numbers, dates as dates."""
    body = []
    for f in rows:
        r = _finding_row(f, status_names, severity_names)
        body.append([when(r.get(k)) if k in _DATES else r.get(k) for k, _ in FINDING_COLUMNS])
    return write_sheets([Sheet("问题清单", [h for _, h in FINDING_COLUMNS], body, {0: INT})], Path(path),
                        "效能监管问题清单")
