"""Import one record file, or every record file of a folder, into the store."""
from __future__ import annotations

import csv
import logging
import operator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from itertools import chain
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Any, Callable, Iterable, Iterator, Protocol, Union

from ..config import Config
from ..errors import InputError
from . import deadlines, workdays
from .checks import HAPPENED, ORDER, RowChecks, parent_loop
from .coerce import BOOL_WORDS, CLEAR, WORDS, Coercer, fixed_offset
from .readers import EXTENSIONS, DecodeFailure, RawChunk, Reader, _TooWide, _Unparsable
from .records import KINDS, RecordKind
from .refs import Known, KnownRepo
from .rejects import Rejects, rejects_path


class ImportDialect(deadlines.RowIdentity, Protocol):
    """What the import asks of the store's dialect: its integrity errors (a row the database refuses)."""
    @property
    def errors(self) -> tuple[type[Exception], ...]: ...


class FastPlan(Protocol):
    """What the import reads of a fast path's plan (checker.store.staging.Plan)."""
    @property
    def width(self) -> int: ...
    @property
    def columns(self) -> tuple[str, ...]: ...


class FastPath(Protocol):
    """The set-based fast path of one CSV file (checker.store.staging.FastImport, made by the store)."""
    @property
    def plan(self) -> FastPlan: ...
    def defer_indexes(self, expected_rows: int) -> bool: ...
    def restore_indexes(self) -> None: ...
    def stage(self, rows: list[list[Any]]) -> None: ...
    @property
    def parses_csv(self) -> bool: ...
    def stage_csv(self, data: bytes, first: int) -> int | None: ...
    def doubtful_rows(self) -> list[tuple[int, list[str]]]: ...
    def select(self) -> None: ...
    def make_partitions(self) -> list[str]: ...
    def bounds(self, keys: list[Any] | None = None) -> tuple[str | None, str | None, int]: ...
    def write(self, seq: int, due_rows: Callable[[str, str], str] | None = None) -> tuple[int, int]: ...
    def keys(self) -> list[Any]: ...
    def doubtful(self) -> list[int]: ...


class ImportRepo(KnownRepo, workdays.WorkdaysRepo, Protocol):
    """What the import (ImportRun and its jobs, here) calls on the store (docs/ARCHITECTURE.md "Types";
    tests/test_seams.py checks that Store provides the methods), with what it hands the store to:
    checker.ingest.refs.Known (KnownRepo), checker.ingest.workdays and .deadlines (WorkdaysRepo)."""
    @property
    def dialect(self) -> ImportDialect: ...
    def bulk_writes(self, cache_mb: int = 64,
                    checkpoint_pages: int = 20000) -> AbstractContextManager[Callable[[], None]]: ...
    def clear_field(self, kind: str, field: str, keys: list[Any]) -> None: ...
    def fast_import(self, **plan: Any) -> FastPath: ...
    def fast_import_supported(self, rk: RecordKind) -> bool: ...
    def next_seq(self) -> int: ...
    def upsert_records(self, kind: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int: ...
    def evaluations_of_other_orgs(self, seq: int) -> int: ...

log = logging.getLogger(__name__)

BATCH = 5000                   # rows a statement writes (memory stays flat)
FAST_BATCH = 50_000            # rows the set-based fast path stages and checks at once
COMMIT_ROWS = 200_000          # rows a transaction writes (each commit rewrites the touched index pages)
FIRST_KINDS = ("orgs", "officers", "items")          # what other kinds refer to

Progress = Callable[[int, float], None]               # (rows read, fraction of the file)
Record = tuple[Any, ...]                              # one row to store: the columns' values, then _seq


@dataclass(frozen=True)
class ImportResult:
    kind: str
    file: str
    inserted: int
    updated: int
    rejected: int
    rejects_file: str | None
    ignored_columns: tuple[str, ...] = ()
    # evaluations of the file naming a case stored under another org: written, but E1 (DB50/T 957.7
    # §5.4.2 b) does not count them for that case (0 for the other kinds)
    other_org_evaluations: int = 0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ignored_columns": list(self.ignored_columns)}


class ImportRun:
    """What files imported together share: the store, the config, the keys known so far, and the
    time of the import (acceptance far after it is a typo; None: the wall clock)."""

    def __init__(self, store: ImportRepo, cfg: Config, now: datetime | None = None):
        self.store, self.cfg = store, cfg
        self.now = now or datetime.now(cfg.tz)
        self.known = Known(store)


def record_kind(kind: str) -> RecordKind:
    if kind not in KINDS:
        raise InputError(f"未知的记录类型 {kind!r}（可用：{', '.join(KINDS)}，或 all 导入整个文件夹）")
    return KINDS[kind]


def import_file(store: ImportRepo, cfg: Config, kind: str, path: str | Path, encoding: str | None = None,
                rejects_dir: str | Path | None = None,
                progress: Progress | None = None, run: ImportRun | None = None) -> ImportResult:
    """Import one file of one kind: good rows are upserted by key, bad rows go to the rejects file."""
    rk = record_kind(kind)
    reader = Reader.open(path, rk, encoding)
    job = _Job(run or ImportRun(store, cfg), rk, reader, rejects_dir)
    return job.run(progress)


def import_dir(store: ImportRepo, cfg: Config, folder: str | Path, encoding: str | None = None,
               rejects_dir: str | Path | None = None,
               progress: Progress | None = None) -> list[ImportResult]:
    """Import every `<kind>.csv|.json|.jsonl|.ndjson` of a folder, referenced kinds first."""
    files = folder_files(folder)
    run = ImportRun(store, cfg)
    return [import_file(store, cfg, kind, path, encoding, rejects_dir, progress, run) for kind, path in files]


def folder_files(folder: str | Path) -> list[tuple[str, Path]]:
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

    def __init__(self, run: ImportRun, rk: RecordKind, reader: Reader, rejects_dir: str | Path | None):
        self.ctx, self.rk, self.reader = run, rk, reader
        self.store = run.store
        self.coercer = Coercer.of(rk.name, run.cfg.tz, run.cfg.ingest.window)
        self.checks = RowChecks(rk.name, run.now, run.cfg.ingest.max_future_days)
        self.rejects = Rejects(rejects_path(reader.path, rejects_dir), reader.original_headers)
        self.self_refs = tuple(f.name for f in rk.fields if f.ref == rk.name)
        self.sticky = tuple(f.name for f in rk.fields if f.sticky)
        self.clears: dict[str, list[Any]] = {}      # sticky field → keys whose row asked to clear it
        self.originals: dict[int, tuple[int, object]] = {}   # id(record) → (row number, raw), this batch
        self.deferred: list[tuple[int, object, dict[str, Any]]] = []
        self.columns: tuple[str, ...] | None = None
        self.seq = 0
        self.fast = False                       # the fast path: every case written gets its deadline at once
        self.fresh: list[Any] = []                   # keys the Python path wrote in this fast batch
        self.inserted = self.updated = 0
        self.written = 0                        # rows written in this import (commit cadence)
        self.one_transaction = False            # no commit before the end (indexes deferred)
        self.decided = False                    # whether the indexes are deferred: decided once

    def run(self, progress: Progress | None) -> ImportResult:
        self.seq = self.store.next_seq()
        self.fast = self.reader.format == "csv" and self.store.fast_import_supported(self.rk)
        with self.store.bulk_writes() as self._commit:
            result = self._read_fast(progress) if self.fast else self._read_all(progress)
        if self.rk.name == "cases":     # deadlines: one definition, in SQL (checker.ingest.deadlines)
            workdays.ensure(self.store, self.ctx.cfg, fresh_seq=self.seq if self.fast else None)
        if self.rk.name == "evaluations":       # a warning, not a reject: the rows are in
            result = replace(result, other_org_evaluations=self.store.evaluations_of_other_orgs(self.seq))
        return result

    # -- the fast path (checker.store.staging, through the store): CSV rows staged and checked set-wise, the doubtful
    # rows through `guarded_row` (the authority), in file order

    def _read_fast(self, progress: Progress | None) -> ImportResult:
        fast: FastPath | None = None
        try:
            chunks = self.reader.raw_chunks()
            start: int | None = 2           # the first row the Python reader reads (the header is row 1)
            if chunks is not None:
                fast = self._fast_import()
                if fast.parses_csv:
                    start = self._read_raw(fast, chunks, progress)
            if start is not None:
                fast = self._read_rows(fast, start, progress)
        finally:
            if fast is not None:
                fast.restore_indexes()
            rejects_file = self.rejects.close()
        return ImportResult(self.rk.name, str(self.reader.path), self.inserted, self.updated,
                            self.rejects.count, rejects_file, self.reader.ignored)

    def _read_raw(self, fast: FastPath, chunks: Iterator[RawChunk], progress: Progress | None) -> int | None:
        """The raw path: chunks of whole CSV records staged by the store itself (COPY), so that Python
        reads no row the predicate proves good; the doubtful rows come back as the cells COPY read,
        to the Python validator. Returns None when every record is in, else the row number from which
        the Python reader takes over (a chunk the store refused or might split otherwise)."""
        first = True
        for chunk in chunks:
            if first:
                # a load big beside the table: its indexes are built after it, in one transaction
                self.one_transaction = fast.defer_indexes(int(chunk.records / max(chunk.progress, 1e-6)))
                self.decided = True
                first = False
            if not self._raw_batch(fast, chunk):
                return chunk.first
            if progress:
                progress(chunk.first + chunk.records - 2, chunk.progress)
        return None if self.reader.raw_done else self.reader.raw_next

    def _raw_batch(self, fast: FastPath, chunk: RawChunk) -> bool:
        """One raw chunk; False (nothing written) when the store refused it, staged another number of
        rows than the chunk holds, or a doubtful row has a value longer than the csv module reads
        (that row would read otherwise there: the Python reader takes over from the chunk)."""
        if fast.stage_csv(chunk.data, chunk.first) != chunk.records:
            return False
        fast.select()
        doubtful = fast.doubtful_rows()
        limit = csv.field_size_limit()
        if any(len(cell) > limit for _, cells in doubtful for cell in cells):
            return False
        self._fast_write(fast)
        self._python_rows(fast, doubtful, set())
        return True

    def _read_rows(self, fast: FastPath | None, start: int, progress: Progress | None) -> FastPath | None:
        """The rows from row `start` on, read by the csv module, staged and checked FAST_BATCH at a time."""
        rows: list[tuple[int, object]] = []
        try:
            for n, raw in self.reader.rows():
                if n < start:
                    continue
                rows.append((n, raw))
                if len(rows) >= FAST_BATCH:
                    if fast is None:
                        fast = self._fast_import()
                    if not self.decided:
                        # a load big beside the table: its indexes are built after it, in one transaction
                        self.one_transaction = fast.defer_indexes(int(len(rows) / max(self.reader.progress(), 1e-6)))
                        self.decided = True
                    self._fast_batch(fast, rows)
                    rows = []
                    if progress:
                        progress(n, self.reader.progress())
            if rows:
                fast = fast or self._fast_import()
                self._fast_batch(fast, rows)
        except DecodeFailure:
            # A file-level problem: every good row before the undecodable line stays imported.
            if rows:
                fast = fast or self._fast_import()
                self._fast_batch(fast, rows)
            raise
        return fast

    def _fast_import(self) -> FastPath:
        cfg, rk, now = self.ctx.cfg, self.rk, self.ctx.now
        window = tuple(cfg.ingest.window)
        offset = fixed_offset(cfg.tz, window)
        happened = HAPPENED.get(rk.name)
        latest = ""                  # no time may be proven early enough (a naive `now`, another offset)
        if now.tzinfo is not None:
            text = (now + timedelta(days=cfg.ingest.max_future_days)).astimezone(cfg.tz).isoformat(timespec="seconds")
            latest = text if offset and text.endswith(offset) and len(text) == 25 else ""
        return self.store.fast_import(
            kind=rk, positions=dict(self.reader._pairs), width=len(self.reader.headers or ()),
            columns=self._columns()[:-1], window=window, offset=offset, latest=latest, happened=happened,
            order=tuple((a, b) for k, a, b in ORDER if k == rk.name), bool_words=dict(BOOL_WORDS),
            words={f.name: tuple(WORDS[(rk.name, f.name)]) for f in rk.fields if (rk.name, f.name) in WORDS})

    def _fast_batch(self, fast: FastPath, rows: list[tuple[int, object]]) -> None:
        """One batch: the rows the SQL predicate proves good are written by one statement; the rest
        (and every row of a batch holding a NUL character) go through the Python validator."""
        width = fast.plan.width
        plain = [(n, raw) for n, raw in rows if raw.__class__ is list and raw]       # not blank, too wide, unparsable
        staged: set[int] = set()
        if plain and "\x00" not in "".join(chain.from_iterable(raw for _, raw in plain)):
            fast.stage([[n, *raw] if len(raw) == width else [n, *raw[:width], *([None] * (width - len(raw)))]
                        for n, raw in plain])
            fast.select()
            self._fast_write(fast)
            staged = {n for n, _ in plain}.difference(fast.doubtful())
        self._python_rows(fast, rows, staged)

    def _fast_write(self, fast: FastPath) -> None:
        """Write the rows the predicate selected (with their deadlines)."""
        if fast.make_partitions() and not self.one_transaction:
            self._commit()      # a new month's partition locks the table: others wait no longer than this
        if self.rk.name == "cases":
            first, last, shift = fast.bounds()
            if first:
                workdays.cover(self.store, self.ctx.cfg, first, last, shift)
        inserted, updated = fast.write(self.seq, deadlines.due_rows if self.rk.name == "cases" else None)
        if updated and self.rk.name == "cases" and not deadlines.INPUTS <= set(fast.plan.columns):
            # cases updated by a file without some of the deadline's columns keep the stored
            # values of those: their deadline from the merged row
            deadlines.refresh(self.store, keys=fast.keys())
        self.inserted += inserted
        self.updated += updated
        self._wrote(inserted + updated)

    def _python_rows(self, fast: FastPath, rows: Iterable[tuple[int, object]], staged: set[int]) -> None:
        """The rows of a batch not written by the fast path (those not in `staged`), through the
        Python validator in file order."""
        batch: list[Record] = []
        for n, raw in rows:
            if n in staged:
                continue
            record = self.guarded_row(n, raw)
            if record is not None:
                batch.append(record)
                if len(batch) >= BATCH:
                    self.flush(batch)
                    batch = []
        self.flush(batch)
        if self.fresh:                  # the Python path's cases: their deadlines now, like the others'
            first, last, shift = fast.bounds(self.fresh)
            if first:
                workdays.cover(self.store, self.ctx.cfg, first, last, shift)
            deadlines.refresh(self.store, keys=self.fresh)
            self.fresh = []

    def _wrote(self, count: int) -> None:
        """Commit each time another COMMIT_ROWS rows are in (other writers get a turn)."""
        before, self.written = self.written, self.written + count
        if self.written // COMMIT_ROWS > before // COMMIT_ROWS and not self.one_transaction:
            self._commit()

    def _read_all(self, progress: Progress | None) -> ImportResult:
        batch: list[Record] = []
        done = 0
        try:
            for n, raw in self.reader.rows():
                record = self.guarded_row(n, raw)
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
        except DecodeFailure:
            # A file-level problem: every good row before the undecodable line stays imported.
            self.flush(batch)
            self.flush(self.resolve_deferred())
            raise
        finally:
            rejects_file = self.rejects.close()
        return ImportResult(self.rk.name, str(self.reader.path), self.inserted, self.updated,
                            self.rejects.count, rejects_file, self.reader.ignored)

    def guarded_row(self, n: int, raw: object) -> Record | None:
        """`row`, but whatever goes wrong with one row rejects that row and the import goes on."""
        try:
            record = self.row(n, raw)
        except DecodeFailure:
            raise
        except Exception as exc:   # noqa: BLE001 — one row must never stop an import
            log.warning("row %s of %s rejected by an unexpected error", n, self.reader.path, exc_info=True)
            self.reject(n, raw, [("", f"无法处理该行（{type(exc).__name__}：{str(exc)[:120]}）")])
            return None
        if record is not None:
            self.originals[id(record)] = (n, raw)
        return record

    def row(self, n: int, raw: object) -> Record | None:
        """The row to store, or None when it is blank or rejected."""
        problem = _shape_problem(raw, self.reader.format)
        if problem:
            self.reject(n, raw, [("", problem)])
            return None
        assert isinstance(raw, (list, dict)), "_shape_problem passes only a CSV row or a JSON object"
        fields = self.reader.fields(raw)
        if not fields:
            return None
        values, errors = self.coercer.coerce(fields)
        if errors:
            self.reject(n, raw, errors)
            return None
        errors = self.checks.problems(values)
        missing = self.ctx.known.missing(self.rk, values)
        if errors:
            self.reject(n, raw, errors + missing)
            return None
        if missing:
            if all(c in self.self_refs for c, _ in missing) and not _self_named(values, missing):
                self.deferred.append((n, raw, values))
                return None
            self.reject(n, raw, missing)
            return None
        return self.admit(n, raw, values)

    def admit(self, n: int, raw: object, values: dict[str, Any]) -> Record | None:
        """Checks that depend on rows accepted before (an org's parent chain), then `accept`."""
        if self.rk.name == "orgs":
            loop = parent_loop(self.ctx.known.parents(), values["code"], values["parent"])
            if loop:
                self.reject(n, raw, [("parent", f"上级机构形成循环：{' → '.join(map(str, loop))}")])
                return None
        for name in self.sticky:
            if values[name] is CLEAR:
                values[name] = None
                self.clears.setdefault(name, []).append(values[self.rk.key[0]])
        return self.accept(values)

    def accept(self, values: dict[str, Any]) -> Record:
        self.ctx.known.add(self.rk, values)
        if self.columns is None:
            self.columns = self._columns()
            names = self.columns[:-1]
            self._pick = operator.itemgetter(*names) if len(names) > 1 else (lambda v: (v[names[0]],))
        return (*self._pick(values), self.seq)

    def _columns(self) -> tuple[str, ...]:
        present = self.reader.present
        names = [f.name for f in self.rk.fields if present is None or f.name in present or f.name in self.rk.key]
        return (*names, "_seq")

    def reject(self, n: int, raw: object, problems: list[tuple[str, str]]) -> None:
        named = [(self.reader.column(c) if c else "", reason) for c, reason in problems]
        self.rejects.add(n, named, _original(self.reader, raw))
        return None

    def resolve_deferred(self) -> list[Record]:
        """Rows naming a record of their own kind later in the file (an org's parent): accept them once
        the record they name is in, and reject the rest."""
        out: list[Record] = []
        progress = True
        while self.deferred and progress:
            waiting, self.deferred, progress = self.deferred, [], False
            for n, raw, values in waiting:
                if self.ctx.known.missing(self.rk, values):
                    self.deferred.append((n, raw, values))
                else:
                    record = self.admit(n, raw, values)
                    if record is not None:
                        self.originals[id(record)] = (n, raw)
                        out.append(record)
                    progress = True
        for n, raw, values in self.deferred:
            self.reject(n, raw, self.ctx.known.missing(self.rk, values))
        return out

    def flush(self, batch: list[Record]) -> None:
        if not batch:
            self.originals.clear()
            return
        assert self.columns is not None, "set by accept(), which made the batch's rows"
        try:
            updated = self.store.upsert_records(self.rk.name, self.columns, batch)
        except self.store.dialect.errors:
            # A value the database refuses slipped through validation: find the row, reject it,
            # and write the others (a poisoned row never drops its batch).
            updated, batch = self._flush_one_by_one(batch)
        self.updated += updated
        self.inserted += len(batch) - updated
        if self.fast and self.rk.name == "cases":
            at = self.columns.index(self.rk.key[0])
            self.fresh += [r[at] for r in batch]
        for name, keys in self.clears.items():
            self.store.clear_field(self.rk.name, name, keys)
        self.clears.clear()
        self.originals.clear()
        self._wrote(len(batch))

    def _flush_one_by_one(self, batch: list[Record]) -> tuple[int, list[Record]]:
        assert self.columns is not None, "set by accept(), which made the batch's rows"
        updated, written = 0, list[Record]()
        for record in batch:
            try:
                updated += self.store.upsert_records(self.rk.name, self.columns, [record])
                written.append(record)
            except self.store.dialect.errors as exc:
                n, raw = self.originals.get(id(record), (0, record))
                self.reject(n, raw, [("", f"数据库拒收该行（{type(exc).__name__}：{str(exc)[:120]}）")])
        return updated, written


def _self_named(values: dict[str, Any], missing: list[tuple[str, str]]) -> bool:
    """An org naming itself as its parent: rejected at once, never waiting for itself."""
    return any(values.get(c) == values.get("code") for c, _ in missing)


def _shape_problem(raw: object, fmt: str) -> str | None:
    if isinstance(raw, _Unparsable):
        return raw.reason
    if isinstance(raw, _TooWide):
        return f"该行有 {len(raw)} 个值，多于表头的 {raw.width} 列"
    if fmt != "csv" and not isinstance(raw, dict):
        return "记录应为 JSON 对象 {…}"
    return None


def _original(reader: Reader, raw: object) -> list[str]:
    if isinstance(raw, _Unparsable):
        return [raw.text]
    if isinstance(raw, (list, dict)):
        return reader.original(raw)
    return [repr(raw)]
