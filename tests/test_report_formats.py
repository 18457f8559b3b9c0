"""Reports as A4 PDF (WeasyPrint, or Chromium where WeasyPrint cannot load Pango) and as Excel
workbooks (openpyxl), the findings list as CSV and xlsx, and the GB/T 9704-style title block."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest
from openpyxl import load_workbook

from checker import config as config_mod
from checker.errors import ConfigError
from checker.reports import KINDS, build_report, report_pdf
from checker.reports.pdf import engine, page_count, pdf_info

try:                                        # the shared data fixture, whether tests/ is a package or not
    from .test_reports import NOW, build, data, rulebook  # noqa: F401
except ImportError:
    from test_reports import NOW, build, data, rulebook  # noqa: F401

needs_pdf = pytest.mark.skipif(engine() is None, reason="no PDF engine: pip install weasyprint with Debian "
                               "libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk, or apt-get install chromium")
PERIODS = {"daily": "2026-10-13", "weekly": "2026-W42", "monthly": "2026-10", "quarterly": "2026-Q4",
           "annual": "2026"}


@needs_pdf
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_report_kind_renders_to_a4_pdf_pages(data, cfg, tmp_path, kind):  # noqa: F811
    r = build(data, cfg, kind, tmp_path, period=PERIODS[kind], formats=("html", "pdf"))
    pdf = r.files["pdf"]
    if kind == "monthly":                 # what the bot's /report sends: the same file, rebuilt
        assert report_pdf(data, cfg, rulebook(), kind, PERIODS[kind], now=NOW, out_dir=tmp_path / "out") == pdf
    raw = pdf.read_bytes()
    assert raw.startswith(b"%PDF-") and pdf.name == f"{kind}-{PERIODS[kind]}.pdf"
    assert (2 if kind in ("quarterly", "annual") else 1) <= r.pages <= 20
    info = pdf_info(pdf)
    if info:                                          # poppler-utils: count the pages in the file itself
        assert page_count(pdf) == r.pages and "(A4)" in info["Page size"]
    assert str(pdf) in r.text


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_report_kind_opens_as_a_workbook_with_typed_cells(data, cfg, tmp_path, kind):  # noqa: F811
    r = build(data, cfg, kind, tmp_path, period=PERIODS[kind], formats=("html", "xlsx"))
    wb = load_workbook(r.files["xlsx"])
    assert {"概况", "P1-P9指标", "各区县排名", "问题按条款", "超期办件", "整改建议"} <= set(wb.sheetnames)
    for ws in wb.worksheets:
        head_row = 2 if ws.cell(1, 2).value is None and ws.max_column > 1 else 1
        assert ws.freeze_panes == f"A{head_row + 1}", ws.title              # header rows stay on screen
        assert all(c.font.bold for c in ws[head_row] if c.value), ws.title
    ind = wb["P1-P9指标"]
    head = [c.value for c in ind[1]]
    value_col = head.index("本期") + 1
    p1 = next(row for row in ind.iter_rows(min_row=2) if row[0].value == "P1")
    assert isinstance(p1[value_col - 1].value, float) and p1[value_col - 1].number_format == "0.0%"
    assert isinstance(p1[head.index("分母")].value, (int, float))
    overdue = wb["超期办件"]
    k1 = next(row for row in overdue.iter_rows(min_row=2) if row[0].value == "K1")
    assert k1[3].value == "张三" and isinstance(k1[5].value, datetime) and isinstance(k1[7].value, int)
    sug = wb["整改建议"]
    assert sug.max_row > 1 and isinstance(sug.cell(2, 7).value, datetime) and isinstance(sug.cell(2, 6).value, int)
    if kind in ("monthly", "quarterly", "annual"):
        assert "差评" in wb.sheetnames
    if kind == "annual":
        idx = wb["效能指数"]
        # no metrics here: every district misses dimensions, so no total (None) and no rank (issue 13 item 9)
        assert idx.cell(2, 3).value is None and idx.cell(2, 1).value is None


def test_report_command_writes_the_formats_asked_for(data, cfg, tmp_path, capsys):  # noqa: F811
    from govwatch.cli import main
    out = tmp_path / "cli"
    rc = main(["--db", cfg.database, "report", "monthly", "--now", "2026-11-03T09:00", "--out", str(out),
               "--format", "xlsx"])
    assert rc == 0 and (out / "monthly-2026-10.xlsx").is_file() and (out / "monthly-2026-10.html").is_file()
    assert not (out / "monthly-2026-10.pdf").exists()
    with pytest.raises(SystemExit) as exit_:
        main(["--db", cfg.database, "report", "monthly", "--format", "docx"])
    assert exit_.value.code == 2 and "docx" in capsys.readouterr().err


def test_findings_export_as_csv_and_xlsx(data, cfg, tmp_path, capsys):  # noqa: F811
    from govwatch.cli import main
    assert main(["--db", cfg.database, "findings", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:3] == ["编号", "状态", "等级"] and len(rows) == 5
    assert {r[1] for r in rows[1:]} >= {"待处理", "复查通过"}
    path = tmp_path / "f.xlsx"
    assert main(["--db", cfg.database, "findings", "--status", "open", "--format", "xlsx", "--out", str(path)]) == 0
    ws = load_workbook(path)["问题清单"]
    assert ws.freeze_panes == "A2" and ws.max_row == 3                  # head + findings 1 and 4
    assert isinstance(ws.cell(2, 1).value, int) and isinstance(ws.cell(2, 10).value, datetime)
    assert main(["--db", cfg.database, "findings", "--json", "--format", "csv"]) == 2


def test_title_block_takes_issuer_number_and_signature_from_config(data, cfg, tmp_path):  # noqa: F811
    conf = tmp_path / "c.yaml"
    conf.write_text("reports:\n  issuer: 测试市政务服务效能监管办公室\n  doc_number: 测效监〔{year}〕{seq}号\n"
                    "  recipients: 各区政务服务中心\n  copy_to: 市政府办公厅\n", encoding="utf-8")
    mine = config_mod.load(conf, database=cfg.database)
    html = build_report(data, mine, rulebook(), "monthly", now=NOW, out_dir=tmp_path).html_path.read_text("utf-8")
    text = re.sub(r"<[^>]+>", "", html)
    assert "测试市政务服务效能监管办公室" in html and "测效监〔2026〕10号" in html
    assert "各区政务服务中心：" in text and "抄送：市政府办公厅" in text
    assert text.count("2026年11月3日") >= 2                          # 成文日期 and 印发日期
    bad = tmp_path / "bad.yaml"
    bad.write_text("reports:\n  issuer: X\n  seal: 红章\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="seal"):
        config_mod.load(bad)


def test_pass_and_fail_are_words_or_marks_and_tables_read_on_a_phone(data, cfg, tmp_path):  # noqa: F811
    html = build(data, cfg, "quarterly", tmp_path, period="2026-Q4").html_path.read_text("utf-8")
    orgs = html.split("各机构（片区）情况")[1].split("</section>")[0]
    assert "✓" in orgs or "✗" in orgs
    for span in re.findall(r'<span class="(?:pass|fail)">(.*?)</span>', html):
        assert re.search(r"达标|未达标|通过|未通过|整改|✓|✗", span), span
    cells = re.findall(r"<td[^>]*>", html)
    assert all("data-label=" in c or "colspan" in c for c in cells)
    assert "@media screen and (max-width: 640px)" in html and "@bottom-center" in html


@pytest.mark.skipif(engine() != "weasyprint", reason="the layout check reads WeasyPrint's boxes")
@pytest.mark.parametrize("kind", ["annual"])          # every part: surveys, 差评, charts, the index table
def test_nothing_runs_off_the_a4_page(data, cfg, tmp_path, kind):  # noqa: F811
    import weasyprint
    html = build(data, cfg, kind, tmp_path, period=PERIODS[kind]).html_path
    over = []
    for n, page in enumerate(weasyprint.HTML(filename=str(html)).render().pages, 1):
        box = page._page_box
        right = box.margin_width() - box.margin_right             # the right edge of the content area
        for b in box.descendants():
            if type(b).__name__ in ("PageBox", "MarginBox") or not hasattr(b, "margin_width"):
                continue
            if b.position_x + b.margin_width() > right + 1:
                over.append((n, getattr(b, "element_tag", type(b).__name__)))
    assert over == []
