"""SQL of the scan: the live and changed records of a kind, the subjects of active findings, the
scans table, and the lookups of the checklist and cadence evaluators."""
from __future__ import annotations

import functools
import json
import math
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..ingest.records import KINDS, OPEN_CASE_STATUSES
from ..statuses import ACTIVE_STATUSES, sql_list
from .base import StoreBase

_OPEN = sql_list(OPEN_CASE_STATUSES)

# What is still "live" per record kind: what can still breach a rule as time passes.
LIVE_SQL = {
    "cases": f"status IN ({_OPEN})",
    "consultations": "answered_at IS NULL",
    "complaints": "valid = 1 AND rectified_at IS NULL",
    "evaluations": "level <= 2 AND (callback_at IS NULL OR rectified_at IS NULL)",
    "appointments": "reminded_at IS NULL AND status = 'booked' AND slot_at >= :since AND slot_at < :until",
    "disclosures": "published_at IS NULL",
}
_ACTIVE_SQL = sql_list(ACTIVE_STATUSES)
# The WAL pages a scan's commits may leave for its checkpoint (4 KB pages: 80 MB, as an import's
# bulk_writes); a 1M daily scan writes about 7,400 (its findings, their indexes, the roll-ups)
SCAN_WAL_PAGES = 20000
_ACTIVE, _KEPT = f"({_ACTIVE_SQL})", f"({sql_list(ACTIVE_STATUSES + ('verified',))})"   # fire_changes' finding lookups


def _live_indexes(conn: sqlite3.Connection) -> None:
    conn.executescript("""
    CREATE INDEX IF NOT EXISTS ix_consultations_answered ON consultations (answered_at);
    CREATE INDEX IF NOT EXISTS ix_complaints_open ON complaints (valid, rectified_at);
    CREATE INDEX IF NOT EXISTS ix_evaluations_level ON evaluations (level);
    CREATE INDEX IF NOT EXISTS ix_inspections_org_check ON inspections (org, "check", date);
    CREATE INDEX IF NOT EXISTS ix_supervisions_org_kind ON supervisions (org, kind, date);
    """)


def _appointments_status(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE INDEX IF NOT EXISTS ix_appointments_status ON appointments (status, slot_at)")


def _finding_seen(conn: sqlite3.Connection) -> None:
    # When a still-firing finding was last seen (a narrow row: a scan updates tens of thousands)
    conn.execute("CREATE TABLE finding_seen (finding_id INTEGER PRIMARY KEY, seen_at TEXT NOT NULL, "
                 "seen_scan INTEGER)")


def _rule_seen(conn: sqlite3.Connection) -> None:
    # When each record rule was last evaluated: its active findings' last-seen time (store/findings.py
    # mark_rules_seen), instead of a finding_seen row per finding still firing
    conn.execute("CREATE TABLE rule_seen (rule TEXT PRIMARY KEY, seen_at TEXT NOT NULL, seen_scan INTEGER)")


def _reconcile_indexes(conn: sqlite3.Connection) -> None:
    # What a daily scan's reconcile reads of ~60,000 active findings, from indexes alone (1M cases):
    # - the fired pairs whose finding is new or closed: the fingerprint with its status
    #   (a table lookup per fired pair before: 0.13 s → 0.02 s);
    # - the active findings of the record rules, by rule (only the active ones are in it, so closed
    #   history does not slow it down): the ones that did not fire (0.12 s → 0.05 s).
    conn.executescript(f"""
    CREATE INDEX IF NOT EXISTS ix_findings_fp_status ON findings (fingerprint, status);
    CREATE INDEX IF NOT EXISTS ix_findings_active ON findings (rule, fingerprint) WHERE status IN ({_ACTIVE_SQL});
    """)


def _period_indexes(conn: sqlite3.Connection) -> None:
    # A period's P5/P7 and P9 roll-ups (twice in every daily scan: last month and this one) read
    # these columns of a month's rows: from the index alone, not a table lookup per row (2.5x faster).
    conn.executescript("""
    CREATE INDEX IF NOT EXISTS ix_cases_period ON cases (accepted_at, org, status, closed_at, due_at, channel);
    CREATE INDEX IF NOT EXISTS ix_evaluations_period ON evaluations (evaluated_at, org, channel, level);
    """)


def _scan_covering_indexes(conn: sqlite3.Connection) -> None:
    # Replaced, not added (ingest keeps the same number of indexes), each now covering what a daily
    # scan reads, so no table lookup per row (1M cases, 50,000 open):
    # - the period index gets item_code (P7's online_full_process): without it SQLite fell back to
    #   ix_cases_date and a table lookup per row (a month's cases roll-up 0.6 s → 0.28 s);
    # - the status index gets the open cases' deadline, hall, item and key: the overdue and near-due
    #   rules (0.13 s → 0.01 s, 0.15 s → 0.03 s) and the latest open deadline (0.07 s → 0 s).
    conn.executescript("""
    DROP INDEX IF EXISTS ix_cases_period;
    CREATE INDEX ix_cases_period ON cases (accepted_at, org, status, closed_at, due_at, channel, item_code);
    DROP INDEX IF EXISTS ix_cases_status;
    CREATE INDEX ix_cases_status ON cases (status, due_at, hall, item_code, case_no);
    """)


def _cases_seq_covering(conn: sqlite3.Connection) -> None:
    # Replaced, not added: the cases' change-number index covers what the shipped case rules read
    # (the columns of ix_cases_status), so an incremental scan's walk of the changed cases, one per
    # case rule, reads the index's newest entries and no table row per changed case (1M, 10,000
    # changed: 23 ms → 7 ms a rule; at 10M each was 10,000 random reads of an 8 GB file). The key
    # comes second: an import batch writes one change number, so its entries are placed by key,
    # appended for a file in key order as before (200,000 new cases: +1–6 % CPU; in random order +20 %).
    conn.executescript("""
    DROP INDEX IF EXISTS ix_cases_seq;
    CREATE INDEX ix_cases_seq ON cases (_seq, case_no, status, due_at, hall, item_code);
    """)


def _evaluations_case_org(conn: sqlite3.Connection) -> None:
    # Replaced, not added: `evaluated` (E1) looks a case's evaluations up by case_no and org
    # (correlated on the org, the distribution column: on Citus each shard answers for its cases);
    # with the org in the index the look-up reads the index alone, as it did by case_no alone.
    conn.executescript("""
    DROP INDEX IF EXISTS ix_evaluations_case_no;
    CREATE INDEX ix_evaluations_case_no ON evaluations (case_no, org);
    """)


def _live_covering_indexes(conn: sqlite3.Connection) -> None:
    # Replaced, not added: the indexes a daily scan reaches the live appointments, consultations and
    # bad evaluations by cover what the shipped rules read of them and their key, so the clock walks
    # and the count of the live records read no table row (10M cases, 2.8 million evaluations: a
    # rule's walk of the day's evaluations 0.13 s → 0.005 s CPU, the count of the live ones 0.2 s →
    # 0.02 s, the appointments' 0.16 s → 0.007 s; each was thousands of random reads of a 9 GB file).
    conn.executescript("""
    DROP INDEX IF EXISTS ix_appointments_status;
    CREATE INDEX ix_appointments_status ON appointments (status, slot_at, reminded_at, id);
    DROP INDEX IF EXISTS ix_consultations_answered;
    CREATE INDEX ix_consultations_answered ON consultations (answered_at, received_at, channel, promised_at, id);
    DROP INDEX IF EXISTS ix_evaluations_level;
    CREATE INDEX ix_evaluations_level ON evaluations (level, callback_at, rectified_at);
    DROP INDEX IF EXISTS ix_evaluations_period;
    CREATE INDEX ix_evaluations_period ON evaluations (evaluated_at, org, channel, level, callback_at, rectified_at, id);
    """)


def _cases_closed_covering(conn: sqlite3.Connection) -> None:
    # The cases concluded in a period, by closed_at (db50's E1, DB50/T 957.7 §5.4.2 b), read from an
    # index holding what the indicator reads of them: no index on closed_at made SQLite walk every
    # case by ix_cases_org for the GROUP BY (1M cases: E1 of a month 1.34 s → 0.29 s, so a db50
    # city's daily scan, two periods of it, about 2.9 s → 0.8 s). One index more for an import to
    # write (1M cases: about 1.5 s to build on SQLite).
    conn.executescript("""
    CREATE INDEX IF NOT EXISTS ix_cases_closed ON cases (closed_at, org, status, case_no);
    """)


def _workdays(conn: sqlite3.Connection) -> None:
    conn.executescript("""
    CREATE TABLE workdays (
        cal TEXT NOT NULL,             -- '' the global calendar, else a hall with days of its own
        day TEXT NOT NULL,             -- YYYY-MM-DD
        ord INTEGER NOT NULL,          -- working days from the table's first day through `day`
        work INTEGER NOT NULL,         -- 1 a working day
        eod TEXT NOT NULL,             -- the end of the day, ISO local (a deadline)
        PRIMARY KEY (cal, day)) WITHOUT ROWID;
    CREATE INDEX ix_workdays_ord ON workdays (cal, ord, work);
    CREATE TABLE workday_cals (cal TEXT PRIMARY KEY) WITHOUT ROWID;
    """)


def _scans_basis(conn: sqlite3.Connection) -> None:
    # What the scan evaluated its record rules with (JSON: each rule's condition digest and the
    # calendar), so that the next scan evaluates only the rows whose firing can have changed
    conn.execute("ALTER TABLE scans ADD COLUMN basis TEXT")


@functools.lru_cache(maxsize=64)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp_full(pattern: str, value: object) -> int:
    return int(value is not None and _pattern(pattern).fullmatch(str(value)) is not None)


class ScanStore(StoreBase):
    """Queries of checker.evaluate.scan (indexed by status / _seq so a scan's cost follows live records)."""

    def __init__(self, path: str | Path, password_env: str | None = None) -> None:
        super().__init__(path, password_env)
        self.conn.create_function("regexp_full", 2, _regexp_full, deterministic=True)

    def live_records(self, kind: str, since: str, until: str) -> list[dict[str, Any]]:
        """Records of a kind that may breach a rule as time passes (appointments: slots in [since, until))."""
        return self.rows(f'SELECT * FROM "{_kind(kind)}" WHERE {LIVE_SQL[kind]}', {"since": since, "until": until})

    def changed_records(self, kind: str, since_seq: int) -> list[dict[str, Any]]:
        return self.rows(f'SELECT * FROM "{_kind(kind)}" WHERE _seq > ?', (since_seq,))

    def all_records(self, kind: str) -> list[dict[str, Any]]:
        return self.rows(f'SELECT * FROM "{_kind(kind)}"')

    def record_chunks(self, kind: str, size: int) -> Iterator[list[dict[str, Any]]]:
        """Every record of a kind, `size` at a time (a full scan's memory stays flat)."""
        cur = self.conn.execute(f'SELECT * FROM "{_kind(kind)}"')
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(size):
            yield [dict(zip(names, r)) for r in rows]

    def records_by_key(self, kind: str, keys: Iterable[Any]) -> list[dict[str, Any]]:
        rk = KINDS[_kind(kind)]
        keys = list(keys)
        if not keys or len(rk.key) != 1:
            return []
        out = []
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            out += self.rows(f'SELECT * FROM "{rk.name}" WHERE "{rk.key[0]}" IN ({marks})', chunk)
        return out

    def select_records(self, kind: str, rule_ids: Iterable[str], since: str, until: str, since_seq: int) -> str:
        """temp._sel_<kind>(rid): the row ids (store.dialect.rowid) of the records an incremental scan looks at: live, changed
        since `since_seq`, and the subjects of these rules' active findings. Returns the table's name."""
        rk = KINDS[_kind(kind)]
        table = f"temp._sel_{rk.name}"
        self.conn.execute(f"DROP TABLE IF EXISTS {table}")
        rid = self.dialect.rowid(None, kind)
        params = {"rules": json.dumps(list(rule_ids)), "since": since, "until": until, "since_seq": since_seq}
        subjects = self._findings_set("SELECT subject FROM findings WHERE rule IN (SELECT value FROM json_each(:rules)) "
                                      f"AND status IN ({_ACTIVE_SQL})", params)
        self.conn.execute(f"""CREATE TABLE {table} AS
            SELECT {rid} AS rid FROM "{rk.name}" WHERE {LIVE_SQL[kind]}
            UNION SELECT {rid} FROM "{rk.name}" WHERE _seq > :since_seq
            UNION SELECT {rid} FROM "{rk.name}" WHERE "{rk.key[0]}" IN {subjects}""", params)
        return table

    def fire_changes(self, delta: str, kind: str, fixed: str, now: str, prev: str, params: dict[str, Any],
                     window: list[tuple[str, str, str]] | None = None) -> None:
        """An incremental scan's evaluation of one record rule whose condition is `fixed` AND `now` at
        this scan and `fixed` AND `prev` at the previous one (`fixed`: the conjuncts that do not read the
        clock; `prev`: `now` with the previous scan's :_prev_now and :_prev_today), `params` holding
        :_rule, :_kind and :_since (the previous scan's change number). Into `delta` (fires 1 or 0):
        only the rows whose firing can differ from the previous scan's —
        - rows whose condition's truth moved with the clock (read by the condition's own indexes,
          the status of open cases, …, once for both times);
        - changed rows (`_seq` > :_since, by the `_seq` index) whose condition holds at both times and
          that have no active finding (one that has needs nothing), or at neither time and have an
          active or verified finding (to resolve, or to see cleared);
        - the subjects of the rule's verified findings not yet seen cleared that still fire.
        `window` (checker.evaluate.window): (column, lo, hi) ranges outside which no row's truth can
        have moved with the clock, so the first walk reads only the rows with a column in one of
        them ("col" >= lo AND "col" < hi, by the column's index where it leads one); an empty list:
        no row's can; None: every row of the fixed conjuncts is walked.
        The three are disjoint. An unchanged row whose condition holds at both times fired in the
        previous scan and still fires: its active finding stays as it is. An unchanged row whose
        condition held at neither time has no active or uncleared verified finding (the previous
        scan resolved it or saw it cleared), so it needs nothing.
        The findings are looked up as the dialect says (stages_findings: _changed_joined or _changed_staged)."""
        rk = KINDS[_kind(kind)]
        key = f'{kind}."{rk.key[0]}"'
        text = f"CAST({key} AS TEXT)"
        into = f"INSERT INTO {_delta(delta)} (fingerprint, rule, subject, kind, fires) "
        fires = f"CASE WHEN ({fixed}) AND ({now}) THEN 1 ELSE 0 END"
        columns = _fired_rows(kind, text, fires)
        both, neither = f"({fixed}) AND ({now}) AND ({prev})", f"(({fixed}) AND (({now}) OR ({prev}))) IS NOT TRUE"
        narrow, bounds = _window(kind, window)
        args = {**params, **bounds}
        if narrow != "(0 = 1)":
            self.conn.execute(f"{into}{columns} WHERE {narrow} AND ({fixed}) AND (({now}) IS TRUE) <> (({prev}) IS TRUE)",
                              args)
        changed = self._changed_staged if self.dialect.stages_findings else self._changed_joined
        changed(into, kind, text, fires, both, neither, args)
        verified = self._findings_set("SELECT subject FROM findings INDEXED BY ix_findings_status "
                                      "WHERE status = 'verified' AND rule = :_rule AND cleared_at IS NULL", args)
        self.conn.execute(f'{into}{columns} INDEXED BY "sqlite_autoindex_{rk.name}_1" '
                          f"WHERE {key} IN {verified} AND +_seq <= :_since AND {both}", args)

    def _changed_joined(self, into: str, kind: str, text: str, fires: str, both: str, neither: str,
                        args: dict[str, Any]) -> None:
        """fire_changes' changed rows, each row's finding looked up by fingerprint from the record's
        statement (the condition first: one finding lookup a row)."""
        finding = f"SELECT 1 FROM findings f WHERE f.fingerprint = :_rule || ':' || {text} AND f.status IN "
        self.conn.execute(f'{into}{_fired_rows(kind, text, fires)} INDEXED BY "ix_{kind}_seq" '
                          f"WHERE _seq > :_since AND (({both} AND NOT EXISTS ({finding}{_ACTIVE})) "
                          f"OR ({neither} AND EXISTS ({finding}{_KEPT})))", args)

    def _changed_staged(self, into: str, kind: str, text: str, fires: str, both: str, neither: str,
                        args: dict[str, Any]) -> None:
        """fire_changes' changed rows in three statements, none reading a record table and findings
        together: the changed rows whose condition holds at both times or at neither (temp._changed_rows),
        then those rows' active and verified findings (temp._found: findings joined to the temporary
        table only), then the rows to evaluate, from the two temporary tables."""
        self._stage("temp._changed_rows", "fingerprint TEXT NOT NULL, subject TEXT NOT NULL, fires INTEGER NOT NULL",
                    f"SELECT :_rule || ':' || {text}, {text}, {fires} FROM \"{kind}\" INDEXED BY \"ix_{kind}_seq\" "
                    f"WHERE _seq > :_since AND ({both} OR {neither})", args)
        self._stage("temp._found", "fingerprint TEXT NOT NULL, active INTEGER NOT NULL",
                    f"SELECT fingerprint, CASE WHEN status IN {_ACTIVE} THEN 1 ELSE 0 END FROM findings "
                    f"WHERE fingerprint IN (SELECT fingerprint FROM temp._changed_rows) AND status IN {_KEPT}", args)
        found = "SELECT 1 FROM temp._found f WHERE f.fingerprint = c.fingerprint"
        self.conn.execute(f"{into}SELECT c.fingerprint, :_rule, c.subject, :_kind, c.fires FROM temp._changed_rows c "
                          f"WHERE (c.fires = 1 AND NOT EXISTS ({found} AND f.active = 1)) "
                          f"OR (c.fires = 0 AND EXISTS ({found}))", args)

    def _findings_set(self, select: str, params: dict[str, Any]) -> str:
        """One column of findings (`select`, with `params`) for a record statement of the scan to read
        as `x IN <this>`: the subquery itself, or where the dialect stages findings (stages_findings),
        a read of temp._found_values, filled by `select` now."""
        if not self.dialect.stages_findings:
            return f"({select})"
        self._stage("temp._found_values", "v TEXT", select, params)
        return "(SELECT v FROM temp._found_values)"

    def _stage(self, table: str, columns: str, select: str, params: dict[str, Any]) -> None:
        """A temporary table of the scan's (made once a connection) holding the rows of `select` only."""
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        self.dialect.empty(self.conn, table)
        self.conn.execute(f"INSERT INTO {table} {select}", params)

    def new_delta_table(self) -> str:
        """temp._delta: the (rule, subject) pairs an incremental scan evaluated (fire_changes), with
        whether they fire."""
        self.conn.execute("DROP TABLE IF EXISTS temp._delta")
        self.conn.execute("CREATE TABLE temp._delta (fingerprint TEXT NOT NULL, rule TEXT NOT NULL, "
                          "subject TEXT NOT NULL, kind TEXT NOT NULL, fires INTEGER NOT NULL)")
        return "temp._delta"

    def split_delta(self, delta: str, fired: str, cleared: str) -> None:
        """The evaluated pairs that fire into the fired table, the others into `cleared`."""
        self.conn.execute(f"INSERT INTO {fired} (fingerprint, rule, subject, kind) "
                          f"SELECT fingerprint, rule, subject, kind FROM {_delta(delta)} WHERE fires = 1")
        self.conn.execute(f"INSERT INTO {cleared} (fingerprint, rule, subject, kind) "
                          f"SELECT fingerprint, rule, subject, kind FROM {_delta(delta)} WHERE fires = 0")
        self.dialect.analyze(self.conn, cleared)      # joined to findings by the reconcile

    def new_cleared_table(self) -> str:
        """temp._cleared: the (rule, subject) pairs an incremental scan evaluated that do not fire."""
        self.conn.execute("DROP TABLE IF EXISTS temp._cleared")
        self.conn.execute("CREATE TABLE temp._cleared (fingerprint TEXT PRIMARY KEY, rule TEXT NOT NULL, "
                          "subject TEXT NOT NULL, kind TEXT NOT NULL)")
        return "temp._cleared"

    def max_seq(self, kind: str) -> int:
        """The latest change number among a kind's rows (0: none)."""
        return int(self.scalar(f'SELECT max(_seq) FROM "{_kind(kind)}"') or 0)

    def deleted_seq(self) -> int:
        """The change number of the latest deleted record row (checker.store.dialect seq_triggers)."""
        return int(self.scalar("SELECT value FROM meta WHERE key = 'deleted_seq'") or 0)

    def count_selection(self, selection: str) -> int:
        """The rows of a selection table (select_records)."""
        if not re.fullmatch(r"temp\._sel_\w+", selection):
            raise ValueError(f"not a selection table: {selection}")
        return int(self.scalar(f"SELECT count(*) FROM {selection}"))

    def count_selected(self, kind: str, since: str, until: str, since_seq: int) -> int:
        """How many records an incremental scan counts as looked at: the live ones and those changed
        since `since_seq` (two index counts)."""
        rk = KINDS[_kind(kind)]
        params = {"since": since, "until": until, "since_seq": since_seq}
        live = self.scalar(f'SELECT count(*) FROM "{rk.name}" WHERE {LIVE_SQL[kind]}', params)
        changed = self.scalar(f'SELECT count(*) FROM "{rk.name}" INDEXED BY "ix_{rk.name}_seq" '
                              f'WHERE _seq > :since_seq AND NOT ({LIVE_SQL[kind]})', params)
        return int(live) + int(changed)

    def unevaluable_records(self, kind: str, first: str, last: str, since_seq: int | None,
                            rule_id: str) -> list[tuple[str, Any, str, str, str]]:
        """(key, org, field, value, reason) of the records (changed after `since_seq`, or all when it is
        None) whose dates lie outside the workdays table [first, last] or whose deadline cannot be
        computed, and of the records of `rule_id`'s active findings (so they are looked at again)."""
        rk = KINDS[_kind(kind)]
        key = rk.key[0]
        dates = [f.name for f in rk.fields if f.type in ("datetime", "date")] + (["due_at"] if kind == "cases" else [])
        checks = [(f'"{d}" IS NOT NULL AND (substr("{d}", 1, 10) < :first OR substr("{d}", 1, 10) > :last)', d, "DATE")
                  for d in dates]
        if kind == "cases":
            checks.append(("due_at IS NULL AND (promised_at IS NOT NULL OR EXISTS (SELECT 1 FROM items i WHERE "
                           "i.code = cases.item_code AND (i.immediate = 1 OR COALESCE(i.promised_days, "
                           "i.statutory_days) IS NOT NULL)))", "due_at", "DUE"))
        # The changed records and those of the active findings as two disjoint selections, not one
        # `_seq > :since_seq OR key IN (…)`: SQLite answers that OR with a MULTI-INDEX OR, whose rowid
        # set holds every row matched in memory (a first scan matches every record: 232 MB of SQLite
        # heap at 10M cases). Each branch of the UNION ALL streams.
        params = {"first": first, "last": last, "rule": rule_id, "kind": kind, "since_seq": since_seq}
        wheres = ["1 = 1"] if since_seq is None else [
            "_seq > :since_seq",
            f'_seq <= :since_seq AND "{key}" IN ' + self._findings_set(
                "SELECT json_extract(data, '$.record_key') FROM findings WHERE rule = :rule "
                f"AND subject_kind = :kind AND status IN ({_ACTIVE_SQL})", params)]
        whens = " ".join(f"WHEN {cond} THEN {i}" for i, (cond, _, _) in enumerate(checks))
        org = "org" if "org" in rk.columns else "NULL"
        selects = " UNION ALL ".join(f'SELECT "{key}" AS k, {org} AS org, CASE {whens} END AS problem '
                                     f'FROM "{rk.name}" WHERE {where}' for where in wheres)
        sql = f"SELECT k, org, problem FROM ({selects}) AS _u WHERE problem IS NOT NULL"
        found = self.conn.execute(sql, params).fetchall()
        out = []
        for k, org_code, i in found:
            _, name, what = checks[i]
            value = self.scalar(f'SELECT "{name}" FROM "{rk.name}" WHERE "{key}" = ?', (k,))
            reason = (f"超出工作日历的范围 {first}…{last}，无法计算工作日" if what == "DATE"
                      else f"承诺办结时间无法计算（期限超出工作日历的范围 {first}…{last}）")
            out.append((str(k), org_code, name, "—" if value is None else str(value), reason))
        return out

    def workday_spans(self, kind: str, prev_day: str, day: str, add_lo: float,
                      add_hi: float) -> list[tuple[str, str]] | None:
        """Per calendar a record of `kind` counts in (cases: the global one and each hall with days of
        its own), the first and last day whose working-day ordinal lies in [T_min + add_lo,
        T_max + add_hi], T being the ordinals of `prev_day` and `day` in that calendar (no such day:
        the calendar is left out). None when either day is outside the table."""
        cals = [""] + ([r[0] for r in self.conn.execute("SELECT cal FROM workday_cals ORDER BY cal")]
                       if kind == "cases" else [])
        out = []
        for cal in cals:
            ords = [self.scalar("SELECT ord FROM workdays WHERE cal = ? AND day = ?", (cal, d)) for d in (prev_day, day)]
            if None in ords:
                return None
            lo, hi = math.floor(min(ords) + add_lo), math.ceil(max(ords) + add_hi)
            first = self.scalar("SELECT min(day) FROM workdays WHERE cal = ? AND ord >= ?", (cal, lo))
            last = self.scalar("SELECT max(day) FROM workdays WHERE cal = ? AND ord <= ?", (cal, hi))
            if first is not None and last is not None and first <= last:
                out.append((str(first), str(last)))
        return out

    def working_day_end(self, day: str, n: int) -> str | None:
        """The end of the Nth working day after `day` in the global calendar (None outside the table)."""
        end: str | None = self.scalar("""SELECT eod FROM workdays WHERE cal = '' AND work = 1 AND ord =
                              (SELECT ord FROM workdays WHERE cal = '' AND day = ?) + ?""", (day, int(n)))
        return end

    # ------------------------------------------------------------------ record rules' queries
    # The conditions and column lists are SQL the rule compiler (checker.rules.compiler) and the
    # derived fields (checker.ingest.derived) build; the store runs them over a kind's table.

    def fire_records(self, fired: str, kind: str, where: str, params: dict[str, Any]) -> None:
        """Into the scan's `fired` table: (fingerprint, rule, subject, kind) of the records of a kind
        matching `where` (the rule's condition), set-wise. `params` holds :_rule and :_kind."""
        key = f'CAST({kind}."{KINDS[_kind(kind)].key[0]}" AS TEXT)'
        self.conn.execute(
            f"INSERT INTO {fired} (fingerprint, rule, subject, kind) SELECT :_rule || ':' || {key}, :_rule, "
            f'{key}, :_kind FROM "{kind}" WHERE {where}', params)

    def derived_chunks(self, kind: str, columns: str, where: str, params: dict[str, Any],
                       size: int) -> Iterator[list[Any]]:
        """(key, *columns) of the records of a kind matching `where`, `size` rows at a time."""
        key = KINDS[_kind(kind)].key[0]
        cur = self.conn.execute(f'SELECT {kind}."{key}" AS _key, {columns} FROM "{kind}" WHERE {where}', params)
        while chunk := cur.fetchmany(size):
            yield chunk

    def derived_row(self, kind: str, columns: str, key: object, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """`columns` of the record of a kind with this key (None: no such record)."""
        column = f'{kind}."{KINDS[_kind(kind)].key[0]}"'
        row: tuple[Any, ...] | None = self.conn.execute(f'SELECT {columns} FROM "{kind}" WHERE {column} = :_key',
                                 {**params, "_key": key}).fetchone()
        return row

    def derived_rows_by_key(self, kind: str, columns: str, keys: list[str], params: dict[str, Any]) -> list[Any]:
        """`columns` of the records of a kind with these keys (any order)."""
        column = f'{kind}."{KINDS[_kind(kind)].key[0]}"'
        rows: list[Any] = self.conn.execute(f'SELECT {columns} FROM "{kind}" WHERE {column} IN (SELECT value FROM json_each(:_keys))',
                                 {**params, "_keys": json.dumps(keys)}).fetchall()
        return rows

    # ------------------------------------------------------------------ working-day ordinals

    def workdays_state(self) -> dict[str, Any] | None:
        value = self.scalar("SELECT value FROM meta WHERE key = 'workdays'")
        return json.loads(value) if value else None

    def replace_workdays(self, state: dict[str, Any], calendars: dict[str, list[tuple[Any, ...]]]) -> None:
        """The workdays table anew: `calendars` maps '' and each hall with its own days to the rows of
        checker.calendar.ordinal_rows. One short write transaction."""
        with self.transaction() as c:
            c.execute("DELETE FROM workdays")
            c.execute("DELETE FROM workday_cals")
            for cal, rows in calendars.items():
                c.executemany("INSERT INTO workdays (cal, day, ord, work, eod) VALUES (?, ?, ?, ?, ?)",
                              [(cal, *r) for r in rows])
                if cal:
                    c.execute("INSERT INTO workday_cals (cal) VALUES (?)", (cal,))
            c.execute("INSERT INTO meta (key, value) VALUES ('workdays', ?) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (json.dumps(state),))

    def set_workdays_seq(self, seq: int) -> None:
        """The change sequence up to which the cases' deadlines follow the workdays table."""
        self.conn.execute("UPDATE meta SET value = json_set(value, '$.seq', ?) WHERE key = 'workdays'", (seq,))

    def update_deadlines(self, due_rows: str, params: dict[str, Any]) -> int:
        """Set cases.due_at from `due_rows` (SELECT rid, org, due: checker.ingest.deadlines.due_rows)
        where it differs; how many rows changed. Joined on the org too: a case to its own row within
        its org (on Citus, within a shard)."""
        rowid = self.dialect.rowid("cases", "cases")
        return int(self.conn.execute(f"UPDATE cases SET due_at = y.due FROM ({due_rows}) AS y "
                                     f"WHERE {rowid} = y.rid AND cases.org = y.org "
                                     f"AND cases.due_at IS DISTINCT FROM y.due", params).rowcount)

    def date_bounds(self, since_seq: int = 0) -> tuple[str | None, str | None]:
        """The earliest and latest date (YYYY-MM-DD) a rule counts from or to (each kind's period field,
        and promised times), among the records changed at or after `since_seq` (0: all)."""
        lows: list[str] = []
        highs: list[str] = []
        for rk in KINDS.values():
            if not (rk.date_field and rk.field(rk.date_field).type == "datetime"):
                continue
            # changed rows by the _seq index (not the min/max shortcut of the date index, which would
            # walk every older row looking for a changed one)
            where = "" if since_seq <= 0 else f' INDEXED BY "ix_{rk.name}_seq" WHERE _seq >= :since'
            for fn, name, out in [("min", rk.date_field, lows), ("max", rk.date_field, highs)] + (
                    [("max", "promised_at", highs)] if "promised_at" in rk.columns else []):
                value = self.scalar(f'SELECT {fn}("{name}") FROM "{rk.name}"{where}', {"since": since_seq})
                if value:
                    out.append(str(value)[:10])
        return (min(lows) if lows else None), (max(highs) if highs else None)

    def longest_term(self, since_seq: int = 0) -> int:
        """The most working days a case's deadline can lie after its acceptance (items' terms, plus the
        longest suspension and extension of the cases changed at or after `since_seq`)."""
        days = self.scalar("SELECT max(max(COALESCE(promised_days, 0), COALESCE(statutory_days, 0))) FROM items")
        # no row is above the current change + 1 (the import writes at the current one, the change-stamp
        # triggers one above it): the items' terms alone, without reading cases (a bulk import asks so
        # once a batch, while its load may have dropped the _seq index)
        current = self.current_seq()
        shift = 0 if since_seq > current + 1 else self.scalar(
            "SELECT max(COALESCE(suspended_days, 0) + COALESCE(extended_days, 0)) FROM cases WHERE _seq >= ?", (since_seq,))
        return int(days or 0) + int(shift or 0)

    def derived_params(self) -> dict[str, Any] | None:
        """The config parameters of the derived fields (checker.derived.params) the last scan used."""
        value = self.scalar("SELECT value FROM meta WHERE key = 'derived_params'")
        return json.loads(value) if value else None

    def save_derived_params(self, params: dict[str, Any]) -> None:
        """Record the scan's derived-field parameters (messages read later are rendered with them)."""
        text = json.dumps(params, sort_keys=True)
        if self.scalar("SELECT value FROM meta WHERE key = 'derived_params'") != text:
            self.conn.execute("INSERT INTO meta (key, value) VALUES ('derived_params', ?) "
                              "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (text,))

    def last_scan(self) -> dict[str, Any] | None:
        """now, to_seq and basis (JSON text or None) of the last finished scan (None: never scanned)."""
        return self.row("SELECT now, to_seq, basis FROM scans WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1")

    def last_scan_seq(self) -> int | None:
        """The change sequence the last finished scan covered (None: never scanned)."""
        seq = self.scalar("SELECT to_seq FROM scans WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1")
        return None if seq is None else int(seq)

    def start_scan(self, now: str, started_at: str, full: bool, version: str, from_seq: int, to_seq: int) -> int:
        cur = self.conn.execute(
            "INSERT INTO scans (now, started_at, full, ruleset_version, from_seq, to_seq) VALUES (?, ?, ?, ?, ?, ?)",
            (now, started_at, int(full), version, from_seq, to_seq))
        return int(cur.lastrowid)

    def finish_scan(self, scan_id: int, finished_at: str, evaluated: int, opened: int, resolved: int,
                    reopened: int, open_: int, basis: str | None = None) -> None:
        self.conn.execute("UPDATE scans SET finished_at = ?, evaluated = ?, opened = ?, resolved = ?, reopened = ?, "
                          "open = ?, basis = ? WHERE id = ?",
                          (finished_at, evaluated, opened, resolved, reopened, open_, basis, scan_id))

    @contextmanager
    def scan_writes(self) -> Iterator[None]:
        """A scan's writes on this connection: their commits leave the WAL checkpoint (thousands of
        pages a morning) to `checkpoint` once the scan has released its lock, up to SCAN_WAL_PAGES
        (past it a commit checkpoints as usual: the WAL stays bounded)."""
        with self.dialect.deferred_checkpoints(self.conn, SCAN_WAL_PAGES):
            yield

    def checkpoint(self) -> tuple[int, int] | None:
        """Fold the WAL back into the database file (SQLite, PASSIVE: neither readers nor a writer
        meanwhile wait on it); (pages in the WAL, pages folded), None if there was nothing to do."""
        return self.dialect.checkpoint(self.conn)

    def orgs_at_levels(self, levels: Iterable[str]) -> list[dict[str, Any]]:
        levels = list(levels)
        return self.rows(f"SELECT code, name, level FROM orgs WHERE level IN ({', '.join('?' * len(levels))}) "
                         "ORDER BY code", levels)

    def latest_inspections(self, checks: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """(org, check) → the latest inspection row (by date, then id) of those checks."""
        checks = list(checks)
        rows = self.rows(
            f'SELECT org, "check", date, result, note, id FROM inspections WHERE "check" IN '
            f'({", ".join("?" * len(checks))}) ORDER BY org, "check", date, id', checks)
        return {(r["org"], r["check"]): r for r in rows}

    def latest_supervisions(self, kind: str) -> dict[str, str]:
        """org → date of its latest supervision of a kind."""
        return dict(self.conn.execute("SELECT org, MAX(date) FROM supervisions WHERE kind = ? GROUP BY org",
                                      (kind,)).fetchall())


def _window(kind: str, window: list[tuple[str, str, str]] | None) -> tuple[str, dict[str, str]]:
    """fire_changes' narrowing of the clock walk: its SQL and bound values ("(0 = 1)": no row)."""
    if window is None:
        return "(1 = 1)", {}
    if not window:
        return "(0 = 1)", {}
    _kind(kind)
    parts: list[str] = []
    bounds: dict[str, str] = {}
    for i, (column, lo, hi) in enumerate(window):
        if not re.fullmatch(r"[a-z_]+", column):           # derived.Moves names a stored column
            raise ValueError(f"not a column of {kind}: {column!r}")
        parts.append(f'("{column}" >= :_w{i}lo AND "{column}" < :_w{i}hi)')
        bounds |= {f"_w{i}lo": lo, f"_w{i}hi": hi}
    return f"({' OR '.join(parts)})", bounds


def _fired_rows(kind: str, text: str, fires: str) -> str:
    """SELECT of a kind's rows as temp._delta's (fingerprint, rule, subject, kind, fires), up to its FROM."""
    return f"SELECT :_rule || ':' || {text}, :_rule, {text}, :_kind, {fires} FROM \"{kind}\""


def _delta(table: str) -> str:
    if table != "temp._delta":
        raise ValueError(f"not a delta table: {table}")
    return table


def _kind(kind: str) -> str:
    KINDS[kind]              # unknown kinds raise KeyError, never reach SQL
    return kind
