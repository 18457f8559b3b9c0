"""HTML report → A4 PDF through a real layout engine: WeasyPrint (Pango), else headless Chromium.

WeasyPrint honours the report's print CSS in full (@page margin boxes with the page number, repeated
table headers); Chromium is the fallback where WeasyPrint's Pango libraries are missing.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from typing import Any
from pathlib import Path

from ..errors import GovwatchError

log = logging.getLogger(__name__)
INSTALL_HINT = ("生成 PDF 需要 WeasyPrint（pip install weasyprint，及 Debian 的 libpango-1.0-0、libpangoft2-1.0-0、"
                "fonts-noto-cjk）或 chromium")


class PdfUnavailable(GovwatchError):
    """Neither engine can run here."""


def engine() -> str | None:
    """'weasyprint', 'chromium' or None: the engine write_pdf would use."""
    if _weasyprint() is not None:
        return "weasyprint"
    return "chromium" if _chromium() else None


def write_pdf(html_path: Path, pdf_path: Path) -> int:
    """Lay the HTML file out on A4 pages and write the PDF; returns the number of pages."""
    weasy = _weasyprint()
    if weasy is not None:
        document = weasy.HTML(filename=str(html_path)).render()
        document.write_pdf(str(pdf_path))
        return len(document.pages)
    chromium = _chromium()
    if chromium:
        return _chromium_pdf(chromium, html_path, pdf_path)
    raise PdfUnavailable(INSTALL_HINT)


def page_count(pdf_path: Path) -> int:
    """Pages of a PDF: poppler's pdfinfo when installed, else its uncompressed /Type /Page objects."""
    info = pdf_info(pdf_path)
    if "Pages" in info:
        return int(info["Pages"])
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", Path(pdf_path).read_bytes()))


def pdf_info(pdf_path: Path) -> dict[str, str]:
    """poppler's `pdfinfo` as a dict (Pages, Page size, …); {} without poppler-utils."""
    tool = shutil.which("pdfinfo")
    if not tool:
        return {}
    done = subprocess.run([tool, str(pdf_path)], capture_output=True, text=True, timeout=60)
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in done.stdout.splitlines()) if v}


def _weasyprint() -> Any:          # the weasyprint module, or None
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):   # layout chatter (also on import)
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import weasyprint
    except (ImportError, OSError) as exc:          # OSError: the Pango libraries are missing
        log.debug("weasyprint unavailable: %s", exc)
        return None
    return weasyprint


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _chromium_pdf(chromium: str, html_path: Path, pdf_path: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="govwatch-chromium-") as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}",
                        Path(html_path).resolve().as_uri()], check=True, capture_output=True, timeout=180)
    return page_count(pdf_path)
