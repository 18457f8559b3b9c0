"""Reading record files: CSV (UTF-8 with or without BOM, GBK …), JSON arrays and JSON Lines.

Rows are streamed (memory stays flat however large the file). The format comes from the file
extension, else from the first characters. Headers (English or Chinese aliases) map to fields.
"""
from __future__ import annotations

import codecs
import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

from ..errors import InputError
from .records import RecordKind

EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CHUNK = 1 << 20
RAW_CHUNK = 16 << 20             # bytes of whole CSV records handed to the store at once (`raw_chunks`)
# Files are read with errors="surrogateescape": a byte the encoding cannot decode becomes one of
# these, so the reader stops exactly at the line that holds it (every row before it is imported).
_UNDECODED = re.compile("[\udc80-\udcff]")


class DecodeFailure(InputError):
    """A line the encoding cannot decode: a file-level problem (exit 2) after the rows before it."""

    def __init__(self, path: Path, encoding: str, line: int):
        self.line = line
        name = encoding.replace("-sig", "").upper()
        hint = "；GBK 导出的文件请加 --encoding gbk" if encoding == "utf-8-sig" else ""
        super().__init__(f"文件 {path} 第 {line} 行无法按 {name} 编码解码{hint}。此前的行已导入并保留，"
                         f"第 {line} 行及以后未导入：请用 --encoding 指定正确的编码，或修正该行后重新导入")


def detect_format(path: Path, head: str) -> str:
    """csv / json / jsonl from the extension, else sniffed from the first characters."""
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt:
        return fmt
    start = head.lstrip("\ufeff \t\r\n")[:1]
    return {"[": "json", "{": "jsonl"}.get(start, "csv")


def codec(encoding: str | None) -> str:
    """The Python codec for a user's --encoding (UTF-8 always tolerates a BOM)."""
    name = (encoding or "utf-8").strip()
    try:
        found = codecs.lookup(name).name
    except LookupError:
        raise InputError(f"未知的文件编码 {name!r}（可用 utf-8、gbk、gb18030）") from None
    return "utf-8-sig" if found in ("utf-8", "utf-8-sig") else found


def _head(path: Path, enc: str) -> str:
    """The first 64 KB decoded (to sniff the format); an undecodable line is found while reading."""
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 16)
    except OSError as exc:
        raise InputError(f"无法读取文件 {path}：{exc.strerror or exc}") from None
    return codecs.getincrementaldecoder(enc)("surrogateescape").decode(data, final=False)


@dataclass
class Reader:
    """One open record file: `rows()` yields (row number, raw row); `fields(raw)` maps it to fields."""

    path: Path
    kind: RecordKind
    format: str
    encoding: str
    headers: list[str] | None = None     # CSV only
    ignored: tuple[str, ...] = ()        # headers that name no field
    _pairs: tuple[tuple[str, int], ...] = ()
    _file: TextIO | None = field(default=None, init=False, repr=False, compare=False)   # open while rows() runs
    raw_next: int = field(default=0, init=False, compare=False)    # the row number after the raw chunks read
    raw_done: bool = field(default=False, init=False, compare=False)   # every record was in a raw chunk

    @classmethod
    def open(cls, path: str | Path, kind: RecordKind, encoding: str | None = None) -> "Reader":
        path = Path(path)
        if path.is_dir():
            raise InputError(f"{path} 是文件夹，不是数据文件（导入整个文件夹请用 govwatch import all {path}）")
        enc = codec(encoding)
        return cls(path, kind, detect_format(path, _head(path, enc)), enc)

    @property
    def present(self) -> tuple[str, ...] | None:
        """The fields the file has columns for (CSV), or None (JSON: every field, absent = empty)."""
        return tuple(name for name, _ in self._pairs) if self.format == "csv" else None

    def rows(self) -> Iterator[tuple[int, object]]:
        """(row number, raw row) in file order; DecodeFailure at the first undecodable line."""
        with open(self.path, encoding=self.encoding, newline="", errors="surrogateescape") as self._file:
            yield from {"csv": self._csv, "json": self._json, "jsonl": self._jsonl}[self.format]()

    def _lines(self) -> Iterator[str]:
        assert self._file is not None, "read inside rows()"
        for n, line in enumerate(self._file, start=1):
            if not line.isascii() and _UNDECODED.search(line):
                raise DecodeFailure(self.path, self.encoding, n)
            yield line

    def progress(self) -> float:
        """The fraction of the file read so far (approximate)."""
        if self._file is None:
            return 0.0
        try:
            return self._file.buffer.tell() / max(1, os.path.getsize(self.path))
        except (AttributeError, ValueError, OSError):
            return 0.0

    def fields(self, raw: list[str] | dict[str, Any]) -> dict[str, Any]:
        """{field: value} of a raw row, values stripped, blanks dropped."""
        out: dict[str, Any] = {}
        if isinstance(raw, list):
            n = len(raw)
            for name, i in self._pairs:
                if i < n:
                    v = raw[i].strip()
                    if v:
                        out[name] = v
            return out
        aliases = self.kind.aliases()
        for k, v in raw.items():
            if k in aliases and v is not None and not (isinstance(v, str) and not v.strip()):
                out[aliases[k]] = v.strip() if isinstance(v, str) else v
        return out

    def original(self, raw: list[str] | dict[str, Any]) -> list[str]:
        """The row as read, for the rejects file."""
        if isinstance(raw, list):
            return raw
        return [json.dumps(raw, ensure_ascii=False, default=str)]

    def column(self, field: str) -> str:
        """The header a field was read from (for messages)."""
        headers = self.headers or []
        return next((headers[i] for name, i in self._pairs if name == field), field)

    def original_headers(self) -> list[str]:
        return list(self.headers or []) if self.format == "csv" else ["原始记录"]

    def raw_chunks(self) -> Iterator[RawChunk] | None:
        """The records of a UTF-8 CSV file as bytes, for a store that parses CSV itself (PostgreSQL's
        COPY … (FORMAT csv)): chunks of whole records with their row numbers, after the header (read
        here, as `rows()` reads it). None when the file is not one the store may parse: not UTF-8,
        or a header not on one plain line (quotes, carriage returns). The chunks stop early at
        the first record a COPY might read otherwise than the csv module (`_whole_records`): from
        `raw_next` on, the file is read by `rows()` (`raw_done`: no record left)."""
        if self.format != "csv" or self.encoding != "utf-8-sig":
            return None
        with open(self.path, "rb") as f:
            first = f.readline(1 << 20)
        head = first[3:] if first.startswith(codecs.BOM_UTF8) else first
        if not head.endswith(b"\n") or b'"' in head or b"\r" in head[:-2]:
            return None
        try:
            line = head.decode("utf-8")
        except UnicodeDecodeError:
            return None
        headers = next(csv.reader([line]), None)
        if not headers:
            return None
        self._map_headers(headers)
        self.raw_next = 2
        return self._raw(len(first))

    def _raw(self, start: int) -> Iterator[RawChunk]:
        size = max(1, os.path.getsize(self.path))
        with open(self.path, "rb") as f:
            f.seek(start)
            buf, done, final = b"", start, False
            while not final:
                block = f.read(RAW_CHUNK)
                final = not block
                buf += block
                if len(buf) < RAW_CHUNK and not final:
                    continue
                whole = _whole_records(buf, final)
                if whole is None:
                    return           # a record the two readers might split differently
                end, records = whole
                if end:
                    done += end
                    yield RawChunk(self.raw_next, records, buf[:end], done / size)
                    self.raw_next += records
                    buf = buf[end:]
                elif len(buf) > 4 * RAW_CHUNK:
                    return           # no whole record in 64 MB (lone carriage returns as line ends?)
            self.raw_done = not buf

    def _map_headers(self, headers: list[str]) -> None:
        aliases = self.kind.aliases()
        pairs: list[tuple[str, int]] = []
        seen: dict[str, str] = {}
        ignored: list[str] = []
        for i, h in enumerate(headers):
            name = aliases.get(h.strip().lstrip("\ufeff"))
            if name is None:
                ignored.append(h)
            elif name in seen:
                raise InputError(f"{self.path}：列“{seen[name]}”和“{h}”都对应字段 {name}，请删去一列")
            else:
                seen[name] = h
                pairs.append((name, i))
        self.headers, self._pairs, self.ignored = headers, tuple(pairs), tuple(ignored)

    def _csv(self) -> Iterator[tuple[int, list[str] | _Unparsable]]:
        reader = csv.reader(self._lines())
        try:
            headers = next(reader, None)
        except csv.Error as exc:
            raise InputError(f"{self.path}：表头无法读取（{exc}）") from None
        if not headers:
            return
        self._map_headers(headers)
        width, n = len(headers), 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:         # a value over the csv module's field limit (131,072)
                n += 1
                yield n, _Unparsable(f"该行无法按 CSV 读取（{_csv_reason(exc)}）", f"（第 {reader.line_num} 行附近）")
                continue
            n += 1
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                cells = _TooWide(cells, width)
            yield n, cells

    def _jsonl(self) -> Iterator[tuple[int, Any]]:
        for n, line in enumerate(self._lines(), start=1):
            if line.strip():
                yield n, _decode_line(line)

    def _json(self) -> Iterator[tuple[int, Any]]:
        assert self._file is not None, "read inside rows()"
        yield from enumerate(_json_array(self._file, self.path, self.encoding), start=1)


@dataclass(frozen=True)
class RawChunk:
    """Whole CSV records as bytes (UTF-8, no header): the row number of the first, how many."""
    first: int
    records: int
    data: bytes
    progress: float                  # the fraction of the file read after it


def _whole_records(buf: bytes, final: bool) -> tuple[int, int] | None:
    """(end, records): `buf[:end]` holds `records` whole CSV records (the last of the file may end
    without a newline when `final`) that the csv module and PostgreSQL's COPY split into the same
    fields; None when a quote is where the two might read it differently (a quote opening other than
    at a field's start, or a closing quote followed by anything but a delimiter, a line end or
    another quote), or an end-of-data marker `\\.` that COPY would stop at. Only well-formed
    quoting passes: a field wholly quoted, its quotes doubled inside. What remains different (line
    ends mixed, a row of another width, bytes that are not UTF-8, NUL) makes the COPY fail, and the
    store counts the rows it staged against `records` (a lone carriage return as a line end)."""
    if b"\\." in buf:
        return None
    n = len(buf)
    inside = 0                       # newlines within the quoted fields walked
    newline, before = -1, 0          # the last newline outside quotes, and `inside` then
    close = -1
    opening = buf.find(b'"')
    while opening >= 0:
        if opening > 0 and buf[opening - 1] not in b",\n\r":
            return None
        nl = buf.rfind(b"\n", close + 1, opening)
        if nl >= 0:
            newline, before = nl, inside
        i = opening + 1
        while True:
            close = buf.find(b'"', i)
            if close < 0 or (close + 1 == n and not final):
                if final:
                    return None      # a quoted field that never ends: the readers differ
                return newline + 1, buf.count(b"\n", 0, newline + 1) - before   # the records before it
            if close + 1 < n and buf[close + 1] == 0x22:     # a doubled quote: still inside
                i = close + 2
                continue
            break
        if close + 1 < n and buf[close + 1] not in b",\n\r":
            return None
        inside += buf.count(b"\n", opening, close)
        opening = buf.find(b'"', close + 1)
    nl = buf.rfind(b"\n", close + 1)
    if nl >= 0:
        newline, before = nl, inside
    if final and newline + 1 < n:    # the last record, without a line end
        return n, buf.count(b"\n") - inside + 1
    return newline + 1, buf.count(b"\n", 0, newline + 1) - before


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"某个值超过 {csv.field_size_limit()} 个字符"
    return text


class _TooWide(list[str]):
    """A CSV row with more values than the header has columns: rejected, never truncated."""

    def __init__(self, cells: list[str], width: int):
        super().__init__(cells)
        self.width = width


def _decode_line(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return _Unparsable(f"不是有效的 JSON（第 {exc.colno} 列：{exc.msg}）", line.rstrip("\r\n"))
    except (ValueError, RecursionError) as exc:      # an integer of 5,000 digits, nesting 10,000 deep
        return _Unparsable(f"不是可用的 JSON（{type(exc).__name__}：{str(exc)[:80]}）", line.rstrip("\r\n")[:1000])


class _Unparsable(dict[str, Any]):
    """A JSON value that could not be read: rejected with its reason."""

    def __init__(self, reason: str, text: str):
        super().__init__()
        self.reason, self.text = reason, text


def _json_array(f: TextIO, path: Path, encoding: str = "utf-8-sig") -> Iterator[Any]:
    """The elements of a top-level JSON array, decoded one at a time; DecodeFailure at an
    undecodable line, after the elements before it."""
    decoder, buf, pos, eof = json.JSONDecoder(), "", 0, False
    lines = 0                        # newlines read before buf
    bad_line: int | None = None      # the line of an undecodable byte

    def fill() -> None:
        nonlocal buf, pos, eof, lines, bad_line
        if bad_line is not None:
            eof = True
            return
        chunk = f.read(CHUNK)
        eof = not chunk
        bad = _UNDECODED.search(chunk) if chunk and not chunk.isascii() else None
        if bad:
            bad_line = lines + buf.count("\n") + chunk.count("\n", 0, bad.start()) + 1
            chunk, eof = chunk[:bad.start()], True
        lines += buf.count("\n", 0, pos)
        buf, pos = buf[pos:] + chunk, 0

    def undecodable() -> DecodeFailure | None:
        return DecodeFailure(path, encoding, bad_line) if bad_line is not None else None

    def skip(chars: str = " \t\r\n\ufeff") -> None:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in chars:
                pos += 1
            if pos < len(buf) or eof:
                return
            fill()

    fill()
    skip()
    if buf[pos:pos + 1] != "[":
        raise undecodable() or InputError(f"{path}：JSON 文件的顶层应为数组 [ … ]")
    pos += 1
    while True:
        skip(" \t\r\n,")
        if pos >= len(buf):
            raise undecodable() or InputError(f"{path}：JSON 数组没有结束（缺少 ]）")
        if buf[pos] == "]":
            return
        try:
            value, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            if not eof:
                fill()
                continue
            raise undecodable() or InputError(
                f"{path}：JSON 无法解析（{exc.msg}，位置 {exc.pos}），此后的记录无法读取") from None
        except (ValueError, RecursionError) as exc:     # a 5,000-digit number, nesting 10,000 deep
            raise InputError(f"{path}：JSON 中有无法使用的值（{type(exc).__name__}：{str(exc)[:80]}），"
                             "此前的记录已导入，此后的记录无法读取") from None
        if end >= len(buf) and not eof:
            fill()
            continue
        pos = end
        yield value
