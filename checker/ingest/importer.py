"""Import one record file, or every record file of a folder, into the store."""
from __future__ import annotations

import operator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..records import KINDS, RecordKind
from .coerce import Coercer
from .deadlines import Deadlines
from .readers import EXTENSIONS, Reader, _TooWide, _Unparsable
from .refs import Known
from .rejects import Rejects, rejects_path

BATCH = 5000                   # rows a statement writes (memory stays flat)
COMMIT_ROWS = 200_000          # rows a transaction writes (each commit rewrites the touched index pages)
FIRST_KINDS = ("orgs", "officers", "items")          # what other kinds refer to

Progress = Callable[[int, float], None]               # (rows read, fraction of the file)


@dataclass(frozen=True)
class ImportResult:
    kind: str
    file: str
    inserted: int
    updated: int
    rejected: int
    rejects_file: str | None
    ignored_columns: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {**asdict(self), "ignored_columns": list(self.ignored_columns)}


class ImportRun:
    """What files imported together share: the store, the config and the keys known so far."""

    def __init__(self, store, cfg):
        self.store, self.cfg = store, cfg
        self.known = Known(store)


def record_kind(kind: str) -> RecordKind:
    if kind not in KINDS:
        raise InputError(f"未知的记录类型 {kind!r}（可用：{', '.join(KINDS)}，或 all 导入整个文件夹）")
    return KINDS[kind]


def import_file(store, cfg, kind: str, path, encoding: str | None = None, rejects_dir=None,
                progress: Progress | None = None, run: ImportRun | None = None) -> ImportResult:
    """Import one file of one kind: good rows are upserted by key, bad rows go to the rejects file."""
    rk = record_kind(kind)
    reader = Reader.open(path, rk, encoding)
    job = _Job(run or ImportRun(store, cfg), rk, reader, rejects_dir)
    return job.run(progress)


def import_dir(store, cfg, folder, encoding: str | None = None, rejects_dir=None,
               progress: Progress | None = None) -> list[ImportResult]:
    """Import every `<kind>.csv|.json|.jsonl|.ndjson` of a folder, referenced kinds first."""
    files = folder_files(folder)
    run = ImportRun(store, cfg)
    return [import_file(store, cfg, kind, path, encoding, rejects_dir, progress, run) for kind, path in files]


def folder_files(folder) -> list[tuple[str, Path]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} 不是可读的文件夹")
    order = [*FIRST_KINDS, *(k for k in KINDS if k not in FIRST_KINDS)]
    found = [(k, folder / f"{k}{ext}") for k in order for ext in EXTENSIONS if (folder / f"{k}{ext}").is_file()]
    if not found:
        raise InputError(f"文件夹 {folder} 中没有记录文件（应为 orgs.csv、cases.csv … 或 .json/.jsonl）")
    return found


class _Job:
    """One file being imported."""

    def __init__(self, run: ImportRun, rk: RecordKind, reader: Reader, rejects_dir):
        self.ctx, self.rk, self.reader = run, rk, reader
        self.store = run.store
        self.coercer = Coercer.of(rk.name, run.cfg.tz)
        self.rejects = Rejects(rejects_path(reader.path, rejects_dir), reader.original_headers)
        self.deadlines = Deadlines(run.cfg, run.known.items()) if rk.name == "cases" else None
        self.self_refs = tuple(f.name for f in rk.fields if f.ref == rk.name)
        self.deferred: list = []
        self.columns: tuple[str, ...] | None = None
        self.seq = 0
        self.inserted = self.updated = 0

    def run(self, progress: Progress | None) -> ImportResult:
        self.seq = self.store.next_seq()
        with self.store.bulk_writes() as self._commit:
            return self._read_all(progress)

    def _read_all(self, progress: Progress | None) -> ImportResult:
        batch, done = [], 0
        try:
            for n, raw in self.reader.rows():
                record = self.row(n, raw)
                if record is not None:
                    batch.append(record)
                done += 1
                if len(batch) >= BATCH:
                    self.flush(batch)
                    batch = []
                    if progress:
                        progress(done, self.reader.progress())
            self.flush(batch)
            self.flush(self.resolve_deferred())
        except UnicodeDecodeError:
            raise InputError(f"文件 {self.reader.path} 第 {done + 2} 行附近无法按 {self.reader.encoding} 解码；"
                             f"请用 --encoding 指定正确的编码（已导入的行保留）") from None
        finally:
            rejects_file = self.rejects.close()
        return ImportResult(self.rk.name, str(self.reader.path), self.inserted, self.updated,
                            self.rejects.count, rejects_file, self.reader.ignored)

    def row(self, n: int, raw) -> tuple | None:
        """The row to store, or None when it is blank or rejected."""
        problem = _shape_problem(raw, self.reader.format)
        if problem:
            return self.reject(n, raw, [("", problem)])
        fields = self.reader.fields(raw)
        if not fields:
            return None
        values, errors = self.coercer.coerce(fields)
        if errors:
            return self.reject(n, raw, errors)
        missing = self.ctx.known.missing(self.rk, values)
        if missing:
            if all(c in self.self_refs for c, _ in missing):
                self.deferred.append((n, raw, values))
                return None
            return self.reject(n, raw, missing)
        return self.accept(values)

    def accept(self, values: dict) -> tuple:
        self.ctx.known.add(self.rk, values)
        if self.deadlines:
            values["due_at"] = self.deadlines.due(values)
        if self.columns is None:
            self.columns = self._columns()
            names = self.columns[:-1]
            self._pick = operator.itemgetter(*names) if len(names) > 1 else (lambda v: (v[names[0]],))
        return (*self._pick(values), self.seq)

    def _columns(self) -> tuple[str, ...]:
        present = self.reader.present
        names = [f.name for f in self.rk.fields if present is None or f.name in present or f.name in self.rk.key]
        if self.deadlines:
            names.append("due_at")
        return (*names, "_seq")

    def reject(self, n: int, raw, problems: list[tuple[str, str]]) -> None:
        named = [(self.reader.column(c) if c else "", reason) for c, reason in problems]
        self.rejects.add(n, named, _original(self.reader, raw))
        return None

    def resolve_deferred(self) -> list[tuple]:
        """Rows naming a record of their own kind later in the file (an org's parent): accept them once
        the record they name is in, and reject the rest."""
        out, progress = [], True
        while self.deferred and progress:
            waiting, self.deferred, progress = self.deferred, [], False
            for n, raw, values in waiting:
                if self.ctx.known.missing(self.rk, values):
                    self.deferred.append((n, raw, values))
                else:
                    out.append(self.accept(values))
                    progress = True
        for n, raw, values in self.deferred:
            self.reject(n, raw, self.ctx.known.missing(self.rk, values))
        return out

    def flush(self, batch: list[tuple]) -> None:
        if not batch:
            return
        updated = self.store.upsert_records(self.rk.name, self.columns, batch)
        before = self.updated + self.inserted
        self.updated += updated
        self.inserted += len(batch) - updated
        if (before + len(batch)) // COMMIT_ROWS > before // COMMIT_ROWS:
            self._commit()


def _shape_problem(raw, fmt: str) -> str | None:
    if isinstance(raw, _Unparsable):
        return raw.reason
    if isinstance(raw, _TooWide):
        return f"该行有 {len(raw)} 个值，多于表头的 {raw.width} 列"
    if fmt != "csv" and not isinstance(raw, dict):
        return "记录应为 JSON 对象 {…}"
    return None


def _original(reader: Reader, raw) -> list:
    if isinstance(raw, _Unparsable):
        return [raw.text]
    if isinstance(raw, (list, dict)):
        return reader.original(raw)
    return [repr(raw)]
