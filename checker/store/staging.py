"""The bulk import's set-based fast path (CSV files; both stores).

A batch of raw CSV rows is staged as text (`_gw_stage`: the row number, then one column per header
cell; PostgreSQL by COPY, SQLite by executemany). One statement copies into `_gw_ok` the rows that a
conservative SQL predicate proves the Python validator (checker.ingest: coerce, checks, refs) would
accept, converted to exactly the values it would store; a second upserts them into the record table
(a case with its deadline, by checker.ingest.deadlines' SQL). Every other staged row is handed back
by number to the Python validator, the authority, which rejects it with its reason or accepts it.

The predicate is generated from the field specs of checker.records, field by field, and accepts
only the plain forms of each type; anything doubtful goes to Python:

- blank: NULL or '' (a value with whitespace Python would strip is doubtful);
- str: no whitespace or control character at either edge, at most MAX_TEXT characters; a reference must name a stored record;
- int: 1–`INT_DIGITS` ASCII digits within the field's bounds (signs, '.0', words: doubtful); a field
  of at most INT_LIST non-negative values: one of their plain spellings (a leading zero: doubtful);
- bool: the exact spellings of `bool_words` (every letter case);
- enum: one of the values; date: a day of the import's date window (the `_gw_days` table);
- datetime: `YYYY-MM-DD HH:MM:SS` or `…THH:MM:SS`, a day of the window, stored with the time zone's
  offset when it has one offset over the whole window (else every time is doubtful);
- across fields: the later-than pairs, the not-in-the-future time and the case checks of
  checker.ingest.checks, given to `FastImport` as data or stated in `CROSS` below;
- the key: once in the batch (compared as Python strips it), so the rows of one key keep their order.

Kinds that refer to themselves, are referred to, have sticky, float or choice fields or a composite
key are imported by the Python path alone (`supported`). tests/test_import_fastpath.py feeds
generated rows through both paths on both stores and requires identical tables and rejects.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable

from ..ingest.records import KINDS, MAX_TEXT, Field, RecordKind
from .dialect import MONTHLY, is_new, upsert_keyed

if TYPE_CHECKING:
    from .base import StoreBase

# The characters str.strip() removes: a value with one at either edge is doubtful.
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
FAST_TYPES = frozenset({"str", "int", "bool", "enum", "date", "datetime"})
INT_DIGITS = 9                       # longer digit strings (leading zeros …) go to Python
REFERENCED = frozenset(f.ref for rk in KINDS.values() for f in rk.fields if f.ref)
STAGE, OK, DAYS, DUPS = "_gw_stage", "_gw_ok", "_gw_days", "_gw_dups"
# A time of day, in two hashed lists of constants rather than a table of the 86,400 times (which each
# connection had to stage, 0.1 s; a lookup in 1,440 + 60 values costs 0.36 s CPU a column at 1M on
# PostgreSQL, the table's 0.59 s); PostgreSQL hashes an IN list, SQLite makes it an index.
HOURS_MINUTES = tuple(f"{h:02}:{m:02}" for h in range(24) for m in range(60))
SECONDS = tuple(f":{s:02}" for s in range(60))
INT_LIST = 1001                      # an int field of at most this many values: its plain spellings listed
                                     # (more would lengthen every checking statement: it is planned per batch)
# The staged rows the checked statement did not write. EXCEPT, a set operation (a sort or a hash on
# both stores): NOT IN over a subquery is a plain subplan on PostgreSQL once it outgrows work_mem,
# and a correlated NOT EXISTS scans the unindexed OK table for every staged row on SQLite (a 10M
# import was at 5 % of cases.csv after 16 minutes).
_NOT_WRITTEN = f"SELECT _n FROM {STAGE} EXCEPT SELECT _n FROM {OK}"
DEFER_ROWS = 100_000                 # a load this big, and
DEFER_SHARE = 0.2                    # this share of the table after it, builds the indexes after it

# Cross-field checks of checker.ingest.checks that are not table-driven there (`_case_problems`),
# as conditions a row must meet to be written here (v: the converted values).
CROSS = {
    "cases": ("(v.promised_at IS NULL OR substr(v.promised_at, 1, 10) >= substr(v.accepted_at, 1, 10))",
              "(v.status <> 'closed' OR v.closed_at IS NOT NULL)"),
}


def supported(rk: RecordKind) -> bool:
    """Whether a kind's CSV files may take the fast path."""
    return (len(rk.key) == 1 and rk.name not in REFERENCED
            and all(f.type in FAST_TYPES and not f.sticky and f.ref != rk.name for f in rk.fields))


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(_lit(v) for v in values) + ")"


def _cases(word: str) -> list[str]:
    """Every letter-case spelling of a word."""
    out = [""]
    for ch in word:
        forms = {ch, ch.upper(), ch.lower()} if ch.isascii() else {ch}
        out = [o + f for o in out for f in sorted(forms)]
    return out


@dataclass(frozen=True)
class Plan:
    """What the fast path of one file needs, from checker.ingest (the Python checks' own data)."""

    kind: RecordKind
    positions: dict[str, int]          # field → staged column (0-based cell of the CSV row)
    width: int                         # cells staged per row
    columns: tuple[str, ...]           # the fields written (as the Python path writes them), without _seq
    window: tuple[str, str]            # the date window (config ingest.date_min/date_max)
    offset: str | None                 # the time zone's one offset over the window ('+08:00'), or None
    latest: str | None                 # the latest local time a record may have happened (in `offset`)
    happened: str | None               # that field
    order: tuple[tuple[str, str], ...]  # (later, earlier) fields
    bool_words: dict[str, int]         # lower-case spelling → 0/1
    words: dict[str, tuple[str, ...]]  # field → its accepted words (values Python maps: doubtful here)


class FastImport:
    """The fast path of one file: `stage` a batch, `select` the provable rows, `write` them."""

    def __init__(self, store: StoreBase, plan: Plan):
        self.store, self.plan, self.conn = store, plan, store.conn
        self.deferred: list[str] = []            # CREATE INDEX statements to run after the load
        self.months_made = False                 # the partitions of this batch's months made (make_partitions)
        self.survey: tuple[list[str], tuple[str | None, str | None, int]] | None = None   # this batch's (`_survey`)
        self.no_orphans = False                  # the record table was empty when the import locked it
        self.staged: int | None = None           # rows staged (`stage`, `stage_csv`), and selected by `select`
        self.selected = 0
        rk = plan.kind
        self.key = rk.key[0]
        cells = ", ".join(f"c{i} TEXT" for i in range(plan.width))
        self.conn.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
        self.conn.execute(f"CREATE TEMP TABLE {STAGE} (_n INTEGER, {cells})")
        fields = ", ".join(f'"{f.name}" {_affinity(f.type)}' for f in rk.fields)
        self.conn.execute(f"DROP TABLE IF EXISTS temp.{OK}")
        self.conn.execute(f"CREATE TEMP TABLE {OK} (_n INTEGER, {fields})")
        self.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {DAYS} (day TEXT PRIMARY KEY)")
        if (store.scalar(f"SELECT min(day) || max(day) FROM {DAYS}") or "") != plan.window[0] + plan.window[1]:
            self.conn.execute(f"DELETE FROM {DAYS}")
            first, last = date.fromisoformat(plan.window[0]), date.fromisoformat(plan.window[1])
            days = [((first + timedelta(d)).isoformat(),) for d in range((last - first).days + 1)]
            store.dialect.stage(self.conn, DAYS, 1, days)
        self.conn.execute(f"DROP TABLE IF EXISTS temp.{DUPS}")
        self.conn.execute(f"CREATE TEMP TABLE {DUPS} (k TEXT)")
        self._select = self._select_sql()

    # -- the SQL, generated from the field specs

    def _value(self, f: Field) -> tuple[str, str]:
        """(the stored value, the condition a non-blank raw value must meet) of one field."""
        r = f"s.c{self.plan.positions[f.name]}"
        if f.type == "str":
            ok = f"{_unpadded(r, self.store.dialect.edge_codes(r))} AND length({r}) <= {MAX_TEXT}"
            if f.ref:
                ref = KINDS[f.ref]
                ok += f' AND {r} IN (SELECT "{ref.key[0]}" FROM "{ref.name}")'
            return r, ok
        if f.type == "int" and f.minimum is not None and f.maximum is not None and 0 <= f.minimum <= f.maximum < f.minimum + INT_LIST:
            # its plain spellings listed (hashed: 2x cheaper than the digits test and the cast for bounds)
            plain = f"{r} IN {_in(str(i) for i in range(int(f.minimum), int(f.maximum) + 1))}"
            return f"CASE WHEN {plain} THEN CAST({r} AS INTEGER) END", plain
        if f.type == "int":
            digits = f"length({r}) BETWEEN 1 AND {INT_DIGITS} AND ltrim({r}, '0123456789') = ''"
            value = f"CASE WHEN {digits} THEN CAST({r} AS INTEGER) END"
            bounds = [f"CAST({r} AS INTEGER) >= {int(f.minimum)}"] if f.minimum is not None else []
            bounds += [f"CAST({r} AS INTEGER) <= {int(f.maximum)}"] if f.maximum is not None else []
            if not bounds:
                return value, digits
            # the digits checked once, the cast only after them (AND does not order its operands)
            return value, f"CASE WHEN {digits} THEN ({' AND '.join(bounds)}) ELSE 1 = 0 END"
        if f.type == "bool":
            spell = {w: v for word, v in self.plan.bool_words.items() for w in _cases(word)}
            true = [w for w, v in spell.items() if v == 1]
            return f"CASE WHEN {r} IN {_in(true)} THEN 1 ELSE 0 END", f"{r} IN {_in(spell)}"
        if f.type == "enum":
            return r, f"{r} IN {_in(f.values)}"
        if f.type == "date":
            return r, f"{r} IN (SELECT day FROM {DAYS})"
        # datetime: the plain local form only, when the zone has one offset over the window
        if self.plan.offset is None:
            return "NULL", "1 = 0"
        # 19 characters: a day of the window, 'T' or ' ', a time of day (the lookups prove the digits,
        # several times cheaper than a regular expression on PostgreSQL)
        ok = (f"length({r}) = 19 AND substr({r}, 11, 1) IN ('T', ' ') AND substr({r}, 1, 10) IN (SELECT day FROM {DAYS}) "
              f"AND substr({r}, 12, 5) IN {_in(HOURS_MINUTES)} AND substr({r}, 17, 3) IN {_in(SECONDS)}")
        return f"substr({r}, 1, 10) || 'T' || substr({r}, 12, 8) || {_lit(self.plan.offset)}", ok

    def _select_sql(self) -> str:
        plan, rk = self.plan, self.plan.kind
        values, oks = [], []
        for f in rk.fields:
            if f.name not in plan.positions:          # no such column in the file: blank
                values.append(f'CAST(NULL AS {_affinity(f.type)}) AS "{f.name}"')
                if f.required:
                    oks.append("1 = 0")
                continue
            r = f"s.c{plan.positions[f.name]}"
            value, ok = self._value(f)
            _check_words(f, plan)
            values.append(f'CASE WHEN {r} IS NULL OR {r} = \'\' THEN NULL ELSE {value} END AS "{f.name}"')
            blank = f"{r} IS NULL OR {r} = ''"
            oks.append(f"NOT ({blank}) AND {ok}" if f.required else f"({blank} OR ({ok}))")
        for i in sorted(set(range(plan.width)) - set(plan.positions.values())):      # columns of no field
            oks.append(f"length(s.c{i}) <= {MAX_TEXT} OR s.c{i} IS NULL")      # (the csv module's field limit)
        key = f"s.c{plan.positions[self.key]}" if self.key in plan.positions else "NULL"
        cross = [f'(v."{a}" IS NULL OR v."{b}" IS NULL OR v."{a}" >= v."{b}")' for a, b in plan.order]
        if plan.happened and plan.latest:
            cross.append(f'(v."{plan.happened}" IS NULL OR v."{plan.happened}" <= {_lit(plan.latest)})')
        cross += CROSS.get(rk.name, ())
        names = ", ".join(f'"{f.name}"' for f in rk.fields)
        # The lookups stay in a CASE, so that PostgreSQL hashes each table once rather than joining it
        # (a join planned on a temporary table's unknown size: nested loops, 3x slower). A key more
        # than once in the batch (as Python strips it) is in DUPS (`select`): its rows are doubtful,
        # taken out after (in the CASE, that lookup cost 3 µs a row on PostgreSQL). When every staged
        # row was written, the written keys alone are counted: each is its stripped self (no
        # whitespace at either edge), so no trim() a row (1M: 0.70 → 0.4 s).
        # The values are computed once a row where the dialect fences the inner query (PostgreSQL would
        # otherwise expand each value into every cross check naming it: 1M rows, 5.3 s CPU → 4.1 s).
        checks = " AND ".join(f"({c})" for c in oks) or "1 = 1"
        stripped = f"trim({key}, {_lit(WHITESPACE)})"
        self._dups = (f"INSERT INTO {DUPS} (k) SELECT {stripped} AS k FROM {STAGE} s "
                      f"WHERE {key} IS NOT NULL GROUP BY 1 HAVING count(*) > 1")
        self._dups_written = f'INSERT INTO {DUPS} (k) SELECT "{self.key}" FROM {OK} GROUP BY 1 HAVING count(*) > 1'
        self._undup = f'DELETE FROM {OK} WHERE "{self.key}" IN (SELECT k FROM {DUPS})'
        return (f"INSERT INTO {OK} (_n, {names}) SELECT v._n, {', '.join(f'v.{n}' for n in _quoted(rk))} FROM ("
                f"SELECT s._n AS _n, {', '.join(values)}, CASE WHEN {checks} THEN 1 ELSE 0 END AS _ok FROM {STAGE} s"
                f"{self.store.dialect.fence}) v "
                f"WHERE v._ok = 1" + "".join(f" AND {c}" for c in cross))

    # -- a big load: the secondary indexes built after it

    def defer_indexes(self, expected_rows: int) -> bool:
        """Drop the record table's secondary indexes when the load (about `expected_rows`) is at
        least DEFER_SHARE of what the table will hold and at least DEFER_ROWS (PostgreSQL only, see
        the dialect); `restore_indexes` builds them again. Between the two the import must not
        commit: a crash then undoes the drop with the rows, and no other session ever sees the
        table without its indexes (they wait for the import's lock instead)."""
        dialect, table = self.store.dialect, self.plan.kind.name
        if expected_rows < DEFER_ROWS:
            return False
        indexes = dialect.deferred_indexes(self.conn, table)
        if not indexes or expected_rows < DEFER_SHARE * (dialect.estimated_rows(self.conn, table) + expected_rows):
            return False
        for name, _ in indexes:
            self.conn.execute(f'DROP INDEX "{name}"')
        self.deferred = [sql for _, sql in indexes]
        # The drops lock the table (and its partitions) against every other session until the import
        # ends: empty now, it can hold no record without a key row but those this import writes.
        self.no_orphans = not self.store.scalar(f'SELECT EXISTS (SELECT 1 FROM "{table}")')
        return True

    def restore_indexes(self) -> None:
        if self.deferred:
            self.store.dialect.build_indexes(self.conn, self.deferred)
            self.deferred = []

    # -- one batch

    def stage(self, rows: list[list[Any]]) -> None:
        """Stage [row number, cell, …] rows (each `width` + 1 long; none holding a NUL character)."""
        dialect = self.store.dialect
        dialect.empty(self.conn, STAGE)
        dialect.empty(self.conn, OK)
        self.months_made, self.survey = False, None
        dialect.stage(self.conn, STAGE, self.plan.width + 1, rows)
        self.staged = len(rows)

    @property
    def parses_csv(self) -> bool:
        """Whether the store stages raw CSV records itself (`stage_csv`: PostgreSQL's COPY)."""
        return self.store.dialect.parses_csv

    def stage_csv(self, data: bytes, first: int) -> int | None:
        """Stage whole CSV records (UTF-8 bytes, `width` cells each), numbered from `first`, parsed by
        the store (PostgreSQL's COPY … (FORMAT csv), which splits well-formed CSV as the csv module
        does); the rows staged, or None when the store refused them (nothing staged). An empty cell
        may be staged as NULL: blank either way."""
        dialect = self.store.dialect
        dialect.empty(self.conn, STAGE)
        dialect.empty(self.conn, OK)
        self.months_made, self.survey = False, None
        self.staged = dialect.stage_csv(self.conn, STAGE, [f"c{i}" for i in range(self.plan.width)], first, data)
        return self.staged

    def doubtful_rows(self) -> list[tuple[int, list[str]]]:
        """(row number, cells) of the staged rows not written, in file order: the Python path's."""
        if self.selected == self.staged:
            return []
        cells = ", ".join(f"s.c{i}" for i in range(self.plan.width))
        return [(r[0], ["" if c is None else c for c in r[1:]]) for r in self.conn.execute(
            f"SELECT s._n, {cells} FROM {STAGE} s WHERE s._n IN ({_NOT_WRITTEN}) ORDER BY s._n")]

    def select(self) -> None:
        """The staged rows the predicate proves good, converted, into `_gw_ok`; the rows of a key the
        batch holds more than once (as Python strips it) taken out again. A written row's key is its
        stripped self, so when every staged row was written the written keys are counted (no trim()
        a row); else the stripped keys of every staged row."""
        self.store.dialect.empty(self.conn, DUPS)
        self.selected = self.conn.execute(self._select).rowcount
        if self.conn.execute(self._dups_written if self.selected == self.staged else self._dups).rowcount:
            self.selected -= self.conn.execute(self._undup).rowcount

    def make_partitions(self) -> list[str]:
        """The monthly partitions the selected rows need, made where missing (PostgreSQL's
        partitioned record tables; otherwise none): the names made. Making one locks the table for
        every other session until the import's transaction ends, so the import commits after it."""
        table = self.plan.kind.name
        if not self.store.dialect.key_table(self.conn, table):
            return []
        months = self._survey()[0]
        self.months_made = True         # for this batch: `write` need not look again
        return list(self.store.dialect.ensure_partitions(self.conn, table, months))

    def bounds(self, keys: list[Any] | None = None) -> tuple[str | None, str | None, int]:
        """(first day, last day, longest shift) of the selected cases, or of the stored cases `keys`:
        what their deadlines need."""
        if keys is None:
            return self._survey()[1]
        row = self.conn.execute(f"SELECT {_BOUNDS} FROM cases WHERE case_no IN (SELECT value FROM json_each(:keys))",
                                {"keys": json.dumps(keys)}).fetchone()
        return row[0], row[1], int(row[2] or 0)

    def _survey(self) -> tuple[list[str], tuple[str | None, str | None, int]]:
        """The months of the selected rows (of a partitioned table; else none) and their `bounds` (of
        cases; else nothing), in one read of the batch. The days are cut from the earliest and latest
        times (an ISO time's day is its first ten characters, so they sort alike): cheaper than a day a
        row. (A read for the months and one for the bounds and two counts cost 0.12 s a batch of
        150,000 rows, this one read 0.05 s.)"""
        if self.survey is None:
            table = self.plan.kind.name
            month = f'substr("{MONTHLY[table]}", 1, 7)' if self.store.dialect.key_table(self.conn, table) else "''"
            bounds = ("min(accepted_at), max(accepted_at), max(promised_at), "
                      "max(COALESCE(suspended_days, 0) + COALESCE(extended_days, 0))") if table == "cases" else \
                "NULL, NULL, NULL, NULL"
            rows = self.conn.execute(f"SELECT {month}, {bounds} FROM {OK} GROUP BY 1").fetchall()
            firsts = [str(r[1])[:10] for r in rows if r[1] is not None]
            lasts = [str(v)[:10] for r in rows for v in (r[2], r[3]) if v is not None]
            self.survey = ([r[0] for r in rows if r[0]],
                           (min(firsts, default=None), max(lasts, default=None), max((int(r[4] or 0) for r in rows), default=0)))
        return self.survey

    def write(self, seq: int, due_rows: Callable[..., str] | None = None) -> tuple[int, int]:
        """Upsert the selected rows at change `seq`; (inserted, updated). `due_rows(source, rid, where,
        carry)`: the SQL of the deadlines of the cases of `source` with the `carry` columns beside them
        (checker.ingest.deadlines), for cases: each row read once, its deadline computed in the same pass."""
        rk, key = self.plan.kind, self.key
        total = self.selected
        if not total:
            return 0, 0
        cols = [*self.plan.columns, "_seq", *(["due_at"] if due_rows else [])]
        exprs = [f'o."{c}"' for c in self.plan.columns] + [":seq"] + (["o.due"] if due_rows else [])
        picked = ", ".join(f'{e} AS "{c}"' for e, c in zip(exprs, cols))
        column = f'"{key}"'

        def rows(new: bool | None) -> str:
            if not due_rows:
                return f"SELECT {picked} FROM {OK} o WHERE {is_new(f'o.{column}', new)}"
            due = due_rows(OK, f"c.{column}", is_new(f"c.{column}", new), self.plan.columns)
            return f"SELECT {picked} FROM ({due}) o WHERE 1 = 1"

        if self.store.dialect.key_table(self.conn, rk.name):       # PostgreSQL's partitioned record tables
            return upsert_keyed(self.conn, rk.name, cols, OK, rows, {"seq": seq}, months_made=self.months_made,
                                orphans=not self.no_orphans, total=total)
        existing = f'SELECT count(*) FROM {OK} o WHERE EXISTS (SELECT 1 FROM "{rk.name}" t WHERE t."{key}" = o."{key}")'
        names = ", ".join(f'"{c}"' for c in cols)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != key)
        upsert = f'INSERT INTO "{rk.name}" ({names}) {rows(None)} ON CONFLICT ("{key}") DO UPDATE SET {updates}'
        updated = self.store.dialect.upsert_counting(self.conn, upsert, {"seq": seq}, existing)
        self.store.dialect.loaded(self.conn, rk.name)
        return total - updated, updated

    def keys(self) -> list[Any]:
        """The keys of the selected rows."""
        return [r[0] for r in self.conn.execute(f'SELECT "{self.key}" FROM {OK}')]

    def doubtful(self) -> list[int]:
        """The numbers of the staged rows not written: the Python path's, in file order."""
        return [r[0] for r in self.conn.execute(
            f"{_NOT_WRITTEN} ORDER BY 1")]


# What the deadlines of a set of cases need: their first and last day, and the longest shift.
_BOUNDS = ("min(substr(accepted_at, 1, 10)), max(max(substr(accepted_at, 1, 10), COALESCE(substr(promised_at, 1, 10), ''))), "
           "max(COALESCE(suspended_days, 0) + COALESCE(extended_days, 0))")


def _unpadded(r: str, codes: tuple[str, str]) -> str:
    """The value has nothing str.strip() would remove: neither its first nor its last character (their
    code points `codes`, as the dialect reads them) is a control character, a space or another
    whitespace character (a few that are not whitespace, such as U+0001, are doubtful too: the Python
    path decides them). Code points compared as integers: cheaper than comparing one-character strings."""
    others = ", ".join(str(ord(c)) for c in WHITESPACE if c > " ")
    return " AND ".join(f"{e} > 32 AND {e} NOT IN ({others})" for e in codes)


def _quoted(rk: RecordKind) -> list[str]:
    return [f'"{f.name}"' for f in rk.fields]


def _affinity(type_: str) -> str:
    return "INTEGER" if type_ in ("int", "bool") else "TEXT"


def _check_words(f: Field, plan: Plan) -> None:
    """A word Python maps (好差评 levels, 公开类别 …) must never be a value accepted here: the Python
    converter tries words first (`v in words or v.lower() in words`)."""
    words = set(plan.words.get(f.name, ()))
    if not words:
        return
    plain = {"enum": f.values, "bool": [s for w in plan.bool_words for s in _cases(w)]}.get(f.type)
    clash = (any(w.isascii() and w.isdigit() for w in words) if f.type == "int" else
             any(v in words or v.lower() in words for v in plain) if plain is not None else True)
    if clash:
        raise AssertionError(f"the words of {plan.kind.name}.{f.name} overlap the values the fast path accepts")
