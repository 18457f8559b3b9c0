"""Render a quarterly analysis in headless Chromium and check the screenshot is a full A4-sized page.

Needs Debian's `chromium` and `fonts-noto-cjk` (without the fonts Chinese renders as boxes):
    apt-get install -y chromium fonts-noto-cjk
"""
from __future__ import annotations

import shutil
import struct
import subprocess
import zlib

import pytest

try:                                        # the shared data fixture, whether tests/ is a package or not
    from .test_reports import build, data  # noqa: F401
except ImportError:
    from test_reports import build, data  # noqa: F401

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed "
                                "(apt-get install -y chromium fonts-noto-cjk)")


def _screenshot(html_path, png, tmp_path) -> None:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1240,1754",
                    html_path.resolve().as_uri()], check=True, capture_output=True, timeout=120)


def _png_size_and_colours(png) -> tuple[int, int, int]:
    """(width, height, distinct colours in the first rows) read from the PNG itself."""
    raw = png.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", raw[16:24])
    idat, pos = b"", 8
    while pos < len(raw):
        n, kind = struct.unpack(">I4s", raw[pos:pos + 8])
        if kind == b"IDAT":
            idat += raw[pos + 8:pos + 8 + n]
        pos += 12 + n
    pixels = zlib.decompress(idat)[: (width * 4 + 1) * 200]
    return width, height, len(set(pixels))


def test_quarterly_report_renders_to_a_full_page(data, cfg, tmp_path):  # noqa: F811
    html = build(data, cfg, "quarterly", tmp_path, period="2026-Q4").html_path
    png = tmp_path / "report.png"
    _screenshot(html, png, tmp_path)
    width, height, colours = _png_size_and_colours(png)
    assert (width, height) == (1240, 1754)
    assert colours > 20                     # a drawn page (title, tables), not a blank one


def _phone_widths(html_path, tmp_path) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the report laid out in a 390 px wide frame (a phone), read back
    from the DOM Chromium dumps (headless windows are at least 500 px wide, an iframe is not)."""
    frame = tmp_path / "phone.html"
    frame.write_text(f"""<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="{html_path.resolve().as_uri()}" style="width:390px;height:800px;border:0"></iframe>
<script>document.getElementById("f").onload = function () {{
  var d = this.contentDocument.documentElement;
  document.body.setAttribute("data-widths", d.scrollWidth + "x" + d.clientWidth); }};</script></body></html>""",
                     encoding="utf-8")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--allow-file-access-from-files", "--virtual-time-budget=5000",
                           f"--user-data-dir={tmp_path / 'profile-phone'}", "--window-size=800,900", "--dump-dom",
                           frame.as_uri()], check=True, capture_output=True, text=True, timeout=120)
    import re
    scroll, client = re.search(r'data-widths="(\d+)x(\d+)"', done.stdout).groups()
    return int(scroll), int(client)


@pytest.mark.parametrize("kind, period", [("annual", "2026")])     # every part of a report
def test_report_reads_on_a_390_px_phone_without_sideways_scrolling(data, cfg, tmp_path, kind, period):  # noqa: F811
    html = build(data, cfg, kind, tmp_path, period=period).html_path
    scroll, client = _phone_widths(html, tmp_path)
    assert 300 < client <= 390 and scroll <= client
