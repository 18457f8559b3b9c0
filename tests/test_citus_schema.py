"""The PostgreSQL schema distributes on Citus without change (issue 17 item 4): the tables
docs/postgresql.md declares distributed (create_distributed_table) and reference
(create_reference_table) obey Citus's rules, checked in PostgreSQL's catalog (no Citus here), and a
change that breaks them is caught (checker.store.citus)."""
from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from checker import config as config_mod
from checker.evaluate.scan import run_scan
from checker.rules import load_packs
from checker.store import Store, citus
from checker.store.dialect import PgConnection, PostgresDialect

from conftest import ROOT
from scanworld import load, people, touch
from test_engines_agree import seeded_records

DOC = (ROOT / "docs" / "postgresql.md").read_text(encoding="utf-8")


def declared() -> tuple[dict[str, str], set[str]]:
    """(table → distribution column, reference tables) as the docs' SQL says them."""
    dist = dict(re.findall(r"create_distributed_table\('(\w+)', '(\w+)'", DOC))
    refs = re.search(r"create_reference_table\(t\) FROM unnest\(ARRAY\[([^\]]*)\]\)", DOC)
    assert refs, "the docs name the reference tables"
    return dist, set(re.findall(r"'(\w+)'", refs.group(1)))


def test_the_docs_declare_what_the_check_checks():
    dist, refs = declared()
    assert dist == citus.DISTRIBUTED
    assert refs == set(citus.REFERENCE)
    assert {t for t, c in dist.items() if c == "org"} == {"cases", "evaluations", "complaints", "consultations",
                                                           "findings", "finding_events"}


def test_the_schema_obeys_citus_rules_for_the_tables_the_docs_declare(pg_database):
    dist, refs = declared()
    with Store(pg_database) as store:
        assert citus.problems(store.conn, dist, refs) == []


BREAKS = {
    "a unique index without org": ("CREATE UNIQUE INDEX ix_bad ON findings (fingerprint)",
                                   "findings: unique index ix_bad (fingerprint) lacks the distribution column org"),
    "one on a partition only": ("CREATE UNIQUE INDEX ix_bad ON finding_events_default (id)",
                                "finding_events_default: unique index ix_bad (id) lacks the distribution column org"),
    "a key without org": ("ALTER TABLE evaluations DROP CONSTRAINT evaluations_pkey; "
                          "ALTER TABLE evaluations ADD PRIMARY KEY (id, evaluated_at)",
                          "evaluations: unique index evaluations_pkey (id, evaluated_at) lacks the distribution column org"),
    "a NULL org": ("ALTER TABLE findings DROP CONSTRAINT findings_pkey CASCADE; "
                   "ALTER TABLE findings ALTER COLUMN org DROP NOT NULL",
                   "findings.org: the distribution column may be NULL"),
    "a local table referring to findings": (
        "ALTER TABLE outbox ADD COLUMN org TEXT; ALTER TABLE outbox ADD FOREIGN KEY (finding_id, org) "
        "REFERENCES findings (id, org)",
        "outbox: foreign key outbox_finding_id_org_fkey (finding_id, org) → findings (id, org): "
        "a local table refers to a distributed one"),
    "distributed tables joined without org": (
        "ALTER TABLE findings ADD UNIQUE (id, org, subject); ALTER TABLE finding_events ADD COLUMN subject TEXT; "
        "ALTER TABLE finding_events ADD FOREIGN KEY (finding_id, subject, actor) REFERENCES findings (id, org, subject)",
        "finding_events: foreign key finding_events_finding_id_subject_actor_fkey (finding_id, subject, actor) → "
        "findings (id, org, subject): lacks the distribution columns org → org"),
    "a distributed table referring to a local one": (
        "ALTER TABLE findings ADD FOREIGN KEY (last_scan_id) REFERENCES scans (id)",
        "findings: foreign key findings_last_scan_id_fkey (last_scan_id) → scans (id): "
        "a distributed table refers to a local one"),
}


@pytest.mark.parametrize("change", list(BREAKS), ids=list(BREAKS))
def test_a_change_that_breaks_a_rule_is_caught(pg_database, change):
    sql, problem = BREAKS[change]
    dist, refs = declared()
    with Store(pg_database) as store:
        raw = store.conn.raw
        raw.execute("BEGIN")                 # the schema is handed to the next test: the change is undone
        try:
            for statement in sql.split("; "):
                raw.execute(statement)
            found = citus.problems(store.conn, dist, refs)
        finally:
            raw.execute("ROLLBACK")
        assert problem in found, found
        assert citus.problems(store.conn, dist, refs) == []


# ---------------------------------------------------------------- the scan's statements, planned

PACKS = [ROOT / "rules" / "db33", ROOT / "rules" / "db50"]
_PLANNED = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE\s+TABLE\s+\S+\s+AS)\b", re.I)


def _scan_problems(url: str, tmp_path, monkeypatch) -> list[str]:
    """What Citus could not push down (citus.plan_problems) in the plan of every statement the scans
    of a seeded city run on PostgreSQL: a first scan, incremental ones after imports, SQL edits,
    verified findings and a record the scan cannot evaluate (a data-quality finding), and an
    incremental scan of the reference engine (its selection of records). Each statement is
    EXPLAINed as it runs, its temporary tables as they are then."""
    plans: list[tuple[str, dict]] = []
    execute, scanning = PgConnection.execute, [False]

    def explained(self, sql, params=None):
        if scanning[0] and _PLANNED.match(sql):
            plans.append((sql, execute(self, "EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0][0]["Plan"]))
        return execute(self, sql, params)

    def scan(store, when, **kwargs):
        scanning[0] = True
        try:
            run_scan(store, cfg, book, when, **kwargs)
        finally:
            scanning[0] = False

    monkeypatch.setattr(PgConnection, "execute", explained)
    cfg = config_mod.load(None, database=url)
    rng, records = random.Random(5), seeded_records(5, 150)
    book = load_packs(PACKS)
    now = datetime(2026, 10, 12, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    with Store(url) as store:
        load(store, cfg, records, tmp_path)
        store.conn.execute("""INSERT INTO cases (case_no, item_code, org, channel, accepted_at, promised_at, status)
            VALUES ('BAD1', 'I1', 'H1', 'window', '2026-10-03T09:00:00+08:00', '2188-05-06T12:00:00+08:00', 'processing')""")
        scan(store, now)
        for step in range(3):
            people(rng, [store, store], now)
            load(store, cfg, touch(rng, records, now), tmp_path)
            store.conn.execute("UPDATE cases SET status = 'closed', closed_at = accepted_at WHERE case_no = ?",
                               (f"C{step:05d}",))
            now += timedelta(hours=30)
            scan(store, now)
        scan(store, now + timedelta(hours=1), engine="durable")
        found = store.scalar("SELECT count(*) FROM findings WHERE rule = 'govwatch.data_quality' AND status = 'open'")
        assert found == 1 and store.scalar("SELECT count(*) FROM findings WHERE status = 'verified'") > 0
        owner = citus.owners(store.conn)
    return [f"{problem}\n    in: {' '.join(sql.split())}" for sql, plan in plans
            for problem in citus.plan_problems(plan, owner)]


def test_every_statement_of_the_scan_pushes_down(pg_database, tmp_path, monkeypatch):
    """Citus could push every statement of the scans down as it stands. The incremental scan looks a
    record's finding up by the record key (fire_changes, select_records, unevaluable_records), which
    is not the distribution column: on PostgreSQL the findings it needs are read into temporary tables
    first (dialect.stages_findings), so no statement joins findings to a record table or reads them
    in a correlated subquery. A case's evaluations (`evaluated`, E1) are correlated with it on
    (org, case_no), and the deadline refresh joins a case to its new deadline on (case_no, org)."""
    found = _scan_problems(pg_database, tmp_path, monkeypatch)
    assert found == [], "\n".join(found)


# Statements in the forms the scan ran before (a case's evaluations by case_no alone, the deadline
# refresh by the case key alone) and as it runs them now: the check tells them apart.
_EVALUATED = ("SELECT org, SUM(CASE WHEN status = 'closed' AND EXISTS (SELECT 1 FROM evaluations e WHERE {on}) "
              "THEN 1 ELSE 0 END) FROM cases GROUP BY org")
_REFRESH = ("UPDATE cases SET due_at = y.due FROM (SELECT c.case_no AS rid, c.org AS org, c.promised_at AS due "
            "FROM cases c WHERE c._seq >= 0) AS y WHERE {on} AND cases.due_at IS DISTINCT FROM y.due")
FORMS = {"evaluations by case_no": (_EVALUATED.format(on="e.case_no = cases.case_no"), "a subquery on evaluations"),
         "evaluations by org and case_no": (_EVALUATED.format(on="e.org = cases.org AND e.case_no = cases.case_no"), None),
         "refresh by case_no": (_REFRESH.format(on="cases.case_no = y.rid"), "cases joined to cases"),
         "refresh by case_no and org": (_REFRESH.format(on="cases.case_no = y.rid AND cases.org = y.org"), None)}


@pytest.mark.parametrize("form", list(FORMS), ids=list(FORMS))
def test_a_statement_correlated_or_joined_off_the_distribution_column_is_caught(pg_database, form):
    sql, problem = FORMS[form]
    with Store(pg_database) as store:
        plan = store.conn.raw.execute("EXPLAIN (FORMAT JSON) " + sql).fetchone()[0][0]["Plan"]
        found = citus.plan_problems(plan, citus.owners(store.conn))
    if problem is None:
        assert found == [], found
    else:
        assert any(problem in p for p in found), found
