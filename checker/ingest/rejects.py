"""The rejects file: every row that could not be imported, with its row number, column and reason.

It is a CSV (UTF-8 with BOM, so spreadsheet programs show the Chinese) holding the original values
after three columns 行号, 列, 原因; those three name no field, so a corrected rejects file can be
imported as it is.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from _csv import Writer as CsvWriter

HEADERS = ["行号", "列", "原因"]
# A cell a spreadsheet would run as a formula (=cmd|' /C calc'!A0, +…, -…, @…): written with a
# leading ' so that it shows as text. Plain numbers (-3, +1.5) are not formulas and stay as they are.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d")
NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


CELL_MAX = 100_000          # a longer cell is cut, so the rejects file stays readable as CSV


def neutral(cell: object) -> str:
    text = "" if cell is None else str(cell)
    if len(text) > CELL_MAX:
        text = text[:CELL_MAX] + f"…（已截断，原长 {len(text)} 个字符）"
    if text.startswith(FORMULA_START) and not NUMBER.match(text):
        return "'" + text
    return text


def rejects_path(source: Path, rejects_dir: str | Path | None = None) -> Path:
    folder = Path(rejects_dir) if rejects_dir else source.parent
    return folder / f"{source.stem}.rejects.csv"


class Rejects:
    """Opened on the first rejected row; a stale file of an earlier run is removed first."""

    def __init__(self, path: Path, headers: Callable[[], Sequence[object]]):
        self.path = path
        self.headers = headers           # the original headers, known after reading starts
        self.count = 0
        self._file: IO[str] | None = None
        self._writer: CsvWriter | None = None
        path.unlink(missing_ok=True)

    def add(self, row_no: int, problems: list[tuple[str, str]], original: Sequence[object]) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(HEADERS + [neutral(h) for h in self.headers()])
        columns = "; ".join(dict.fromkeys(c for c, _ in problems if c))
        self._writer.writerow([row_no, neutral(columns), neutral("；".join(r for _, r in problems)),
                               *(neutral(c) for c in original)])
        self.count += 1

    def close(self) -> str | None:
        if self._file:
            self._file.close()
            return str(self.path)
        return None
