"""The result table: one row per measurement, judged against its target; printed and as JSON."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

MEMORY_LIMIT_MB = 300


@dataclass(frozen=True)
class Row:
    what: str
    size: str
    seconds: float | None            # median over the repetitions
    rate: float | None
    unit: str                        # of the rate: "cases/s", "records/s", "msgs/s"
    peak_mb: float | None            # the largest peak of the repetitions (child ru_maxrss)
    target: str
    ratio: float | None              # to the named baseline, when there is one
    passed: bool | None              # None: no target (a baseline, or a smoke run)
    reps: int
    detail: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        return {True: "PASS", False: "FAIL", None: "—"}[self.passed]


def judged(passed: bool, peak_mb: float | None, enforce: bool) -> bool | None:
    """A target met and the memory under the limit (None when targets are not enforced)."""
    if not enforce:
        return None
    return bool(passed) and (peak_mb is None or peak_mb < MEMORY_LIMIT_MB)


HEADER = ("what", "size", "time (median)", "rate", "peak MB", "target", "ratio", "result")


def cells(r: Row) -> tuple[str, ...]:
    return (r.what, r.size, _num(r.seconds, "s", 3), _num(r.rate, r.unit, 0), _num(r.peak_mb, "", 0),
            r.target, _num(r.ratio, "×", 2), r.status)


def _num(value, unit: str, digits: int) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".strip() if unit != "×" else f"{text}×"


def render(rows: list[Row]) -> str:
    """A plain-text table (Markdown-compatible)."""
    grid = [HEADER, *(cells(r) for r in rows)]
    widths = [max(_width(line[i]) for line in grid) for i in range(len(HEADER))]
    lines = ["| " + " | ".join(_pad(c, w) for c, w in zip(line, widths)) + " |" for line in grid]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def write_json(path: Path, rows: list[Row], meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**meta, "rows": [{**asdict(r), "status": r.status} for r in rows]}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
