"""Hand-written inline SVG charts for the reports: line (trends), horizontal bar (rankings, reasons)
and heat map (findings by org × clause). Every text is XML-escaped; sizes are in CSS pixels."""
from __future__ import annotations

from html import escape
from typing import Callable, Sequence

Scale = Callable[[float], float]     # a value (or an x index) → its pixel position

PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#d98c1f", "#7b4fa0", "#3a9ca6", "#8a6d3b", "#555555", "#c2185b")
FONT = "font-family=\"'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif\""


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{_t(title)}" {FONT} font-size="12">')
    return "\n".join([head, f"<title>{_t(title)}</title>", *body, "</svg>"])


def _fmt(v: float, percent: bool) -> str:
    return f"{v * 100:.1f}%" if percent else f"{v:.1f}"


def line_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]],
               percent: bool = True, width: int = 700, height: int = 300) -> str:
    """One line per series over the x labels (e.g. months); None leaves a gap."""
    left, right, top, bottom = 48, 230, 28, 36
    pw, ph = width - left - right, height - top - bottom
    values = [v for s in series.values() for v in s if v is not None]
    lo, hi = (min(values + [0.0]), max(values + [1.0 if percent else 0.0])) if values else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1
    def x(i: float) -> float:
        return left + (pw * i / max(1, len(labels) - 1) if len(labels) > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph
    body = [f'<text x="{left}" y="16" font-size="14" font-weight="bold">{_t(title)}</text>']
    body += _grid(left, top, pw, ph, lo, hi, percent)
    body += [f'<text x="{x(i):.1f}" y="{height - 14}" text-anchor="middle">{_t(l)}</text>'
             for i, l in enumerate(labels)]
    for n, (name, vals) in enumerate(series.items()):
        body += _line(vals, x, y, PALETTE[n % len(PALETTE)])
        ly = top + 14 + 16 * n
        body.append(f'<rect x="{width - right + 12}" y="{ly - 9}" width="10" height="10" '
                    f'fill="{PALETTE[n % len(PALETTE)]}"/><text x="{width - right + 28}" y="{ly}">{_t(_clip(name, 16))}</text>')
    return _svg(width, height, title, body)


def _grid(left: float, top: float, pw: float, ph: float, lo: float, hi: float, percent: bool) -> list[str]:
    out = []
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        yy = top + ph - ph * k / 4
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{yy + 4:.1f}" text-anchor="end" fill="#666">{_fmt(v, percent)}</text>')
    return out


def _line(vals: Sequence[float | None], x: Scale, y: Scale, color: str) -> list[str]:
    out: list[str] = []
    run: list[tuple[int, float]] = []
    for i, v in enumerate(list(vals) + [None]):
        if v is None:
            if len(run) > 1:
                pts = " ".join(f"{x(j):.1f},{y(w):.1f}" for j, w in run)
                out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
            run = []
            continue
        run.append((i, v))
        out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>')
    return out


def bar_chart(title: str, items: Sequence[tuple[str, float]], percent: bool = False,
              width: int = 640, bar: int = 20, target: float | None = None) -> str:
    """Horizontal bars, one per (label, value), in the order given (rank them before)."""
    left, top, right = 170, 30, 70
    height = top + len(items) * (bar + 6) + 10
    top_v = max([v for _, v in items] + [target or 0, 1e-9])
    scale = (width - left - right) / top_v
    body = [f'<text x="8" y="18" font-size="14" font-weight="bold">{_t(title)}</text>']
    for i, (label, v) in enumerate(items):
        yy = top + i * (bar + 6)
        body.append(f'<text x="{left - 6}" y="{yy + bar * 0.7:.1f}" text-anchor="end">{_t(_clip(label))}</text>'
                    f'<rect x="{left}" y="{yy}" width="{max(v, 0) * scale:.1f}" height="{bar}" '
                    f'fill="{PALETTE[0]}"/><text x="{left + max(v, 0) * scale + 4:.1f}" '
                    f'y="{yy + bar * 0.7:.1f}">{_t(_fmt(v, percent) if percent else _num(v))}</text>')
    if target is not None:
        tx = left + target * scale
        body.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top - 4}" y2="{height - 6}" '
                    f'stroke="{PALETTE[1]}" stroke-dasharray="4 3"/>')
    return _svg(width, max(height, 60), title, body)


def heat_map(title: str, rows: Sequence[str], cols: Sequence[str], values: dict[tuple[str, str], float],
             width: int = 640, cell_h: int = 22) -> str:
    """A grid of rows × columns shaded by value (white → deep red), the count written in each cell."""
    left, top = 150, 70
    cw = max(24, min(60, (width - left - 10) / max(1, len(cols))))
    height = top + len(rows) * cell_h + 10
    peak = max(list(values.values()) + [1])
    body = [f'<text x="8" y="18" font-size="14" font-weight="bold">{_t(title)}</text>']
    for j, c in enumerate(cols):
        cx = left + j * cw + cw / 2
        body.append(f'<text x="{cx:.1f}" y="{top - 8}" text-anchor="start" '
                    f'transform="rotate(-45 {cx:.1f} {top - 8})" font-size="10">{_t(_clip(c, 14))}</text>')
    for i, r in enumerate(rows):
        yy = top + i * cell_h
        body.append(f'<text x="{left - 6}" y="{yy + cell_h * 0.7:.1f}" text-anchor="end">{_t(_clip(r))}</text>')
        for j, c in enumerate(cols):
            v = values.get((r, c), 0)
            body.append(f'<rect x="{left + j * cw:.1f}" y="{yy}" width="{cw:.1f}" height="{cell_h}" '
                        f'fill="{_heat(v / peak)}" stroke="#fff"/>')
            if v:
                body.append(f'<text x="{left + j * cw + cw / 2:.1f}" y="{yy + cell_h * 0.7:.1f}" '
                            f'text-anchor="middle" fill="{"#fff" if v / peak > 0.55 else "#222"}">{_num(v)}</text>')
    return _svg(int(left + len(cols) * cw + 10), height, title, body)


def _heat(t: float) -> str:
    """0 → near white, 1 → deep red."""
    t = min(1.0, max(0.0, t))
    r, g, b = 255 - int(t * 75), 245 - int(t * 200), 240 - int(t * 200)
    return f"#{r:02x}{g:02x}{b:02x}"


def _clip(text: object, n: int = 12) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def small_multiples(title: str, labels: Sequence[str], panels: Sequence[tuple[str, Sequence[float | None], float | None]],
                    columns: int = 2, width: int = 700, panel_h: int = 150) -> str:
    """One small line chart per series (its own scale), each with its target as a dashed red line and
    the latest value written at the end: readable in print where eight lines on one chart are not."""
    rows = (len(panels) + columns - 1) // columns
    pw = width / columns
    height = 30 + rows * panel_h
    body = [f'<text x="8" y="18" font-size="14" font-weight="bold">{_t(title)}</text>']
    for n, (name, values, target) in enumerate(panels):
        ox, oy = (n % columns) * pw, 30 + (n // columns) * panel_h
        body += _panel(ox, oy, pw, panel_h, name, labels, values, target, PALETTE[0])
    body.append(f'<text x="{width - 8}" y="18" text-anchor="end" font-size="11" fill="{PALETTE[1]}">'
                f'- - - 目标值</text>')
    return _svg(width, height, title, body)


def _panel(ox: float, oy: float, w: float, h: float, name: str, labels: Sequence[str], values: Sequence[float | None],
           target: float | None, color: str) -> list[str]:
    left, right, top, bottom = 46, 52, 20, 26
    pw, ph = w - left - right, h - top - bottom
    known = [v for v in values if v is not None]
    out = [f'<text x="{ox + 8:.1f}" y="{oy + 13:.1f}" font-size="12" font-weight="bold">{_t(_clip(name, 22))}</text>']
    if not known:
        out.append(f'<text x="{ox + w / 2:.1f}" y="{oy + h / 2:.1f}" text-anchor="middle" fill="#888">无数据</text>')
        return out
    lo = min(known + ([target] if target is not None else []))
    hi = max(known + ([target] if target is not None else []))
    pad = max((hi - lo) * 0.15, 0.02)
    lo, hi = max(0.0, lo - pad), hi + pad
    def x(i: float) -> float:
        return ox + left + (pw * i / max(1, len(labels) - 1) if len(labels) > 1 else pw / 2)

    def y(v: float) -> float:
        return oy + top + ph - (v - lo) / (hi - lo) * ph
    for k in range(3):
        v = lo + (hi - lo) * k / 2
        out.append(f'<line x1="{ox + left}" x2="{ox + left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e3e3e3"/>'
                   f'<text x="{ox + left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="10" fill="#666">'
                   f'{v * 100:.0f}%</text>')
    if target is not None:
        out.append(f'<line x1="{ox + left}" x2="{ox + left + pw}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
                   f'stroke="{PALETTE[1]}" stroke-dasharray="5 3" stroke-width="1.5"/>'
                   f'<text x="{ox + left + pw + 3}" y="{y(target) + 4:.1f}" font-size="10" fill="{PALETTE[1]}">'
                   f'{target * 100:.0f}%</text>')
    out += [f'<text x="{x(i):.1f}" y="{oy + h - 8}" text-anchor="middle" font-size="10">{_t(l)}</text>'
            for i, l in enumerate(labels)]
    out += _line(values, x, y, color)
    last, latest = max((i, v) for i, v in enumerate(values) if v is not None)
    out.append(f'<text x="{x(last):.1f}" y="{y(latest) - 6:.1f}" text-anchor="middle" font-size="10" '
               f'fill="{color}">{latest * 100:.1f}%</text>')
    return out


def is_empty(items: Sequence[tuple[str, float]]) -> bool:
    """True when a bar chart would draw nothing (no items, or every value 0 or None)."""
    return not any(v for _, v in items)
