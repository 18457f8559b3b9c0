"""The PostgreSQL schema distributes on Citus without change (issue 17 item 4): the tables
docs/postgresql.md declares distributed (create_distributed_table) and reference
(create_reference_table) obey Citus's rules, checked in PostgreSQL's catalog (no Citus here), and a
change that breaks them is caught (checker.store.citus)."""
from __future__ import annotations

import re

import pytest

from checker.store import Store, citus

from conftest import ROOT

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
