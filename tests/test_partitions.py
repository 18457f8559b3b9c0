"""PostgreSQL only: the tables that grow with history are partitioned by month (checker.store.dialect
MONTHLY; SQLite keeps plain tables). The audit trail `finding_events` by the month of `at`: each
event in its month's partition, an odd value in the default partition (a write never fails), moved
into its own month's partition once that is made; an existing table's rows kept by the migration."""
from __future__ import annotations

import uuid

import pytest

from checker.store import Store, migrations
from checker.store.dialect import ensure_partitions, partition_name

from conftest import pg_schema_url


def where(store, table: str = "finding_events") -> dict[int, str]:
    """Each row's id → the partition holding it."""
    return {r[0]: r[1] for r in store.conn.raw.execute(f'SELECT id, tableoid::regclass::text FROM "{table}"')}


def add_finding(store) -> int:
    store.conn.execute("""INSERT INTO findings (fingerprint, rule, clause, standard, kind, subject, org, severity,
                          status, message, opened_at) VALUES ('r:s', 'r', '§1', 'DB', 'record', 's', '330102',
                          'red', 'open', 'm', '2026-10-14T10:00:00+08:00')""")
    return int(store.scalar("SELECT id FROM findings"))


def add_event(store, finding_id: int, at: str) -> int:
    return store.conn.execute("INSERT INTO finding_events (finding_id, at, actor, action) VALUES (?, ?, 'scan', 'open')",
                              (finding_id, at)).lastrowid


def test_events_go_to_their_months_partition_and_odd_ones_to_the_default(pg_database):
    with Store(pg_database) as store:
        assert "finding_events_default" not in store.dialect.tables(store.conn)      # parts, not tables
        ensure_partitions(store.conn, "finding_events", ["2031-03"])
        fid = add_finding(store)
        march = add_event(store, fid, "2031-03-31T23:59:59+08:00")
        april = add_event(store, fid, "2031-04-01T00:00:00+08:00")     # no partition yet: the default
        odd = add_event(store, fid, "not a time")
        assert where(store) == {march: partition_name("finding_events", "2031-03"),
                                april: "finding_events_default", odd: "finding_events_default"}
        assert ensure_partitions(store.conn, "finding_events", ["2031-04"]) == ["finding_events_203104"]
        assert where(store)[april] == "finding_events_203104"          # moved out of the default
        assert [e["id"] for e in store.finding_events(fid)] == [march, april, odd]   # queries see one table
    with Store(pg_database) as store:                                   # opening makes the months ahead
        assert ensure_partitions(store.conn, "finding_events", ["2031-03", "2031-04", "2031-3", "x"]) == []


def test_opening_moves_rows_of_the_default_partition_into_their_months(pg_database):
    with Store(pg_database) as store:
        fid = add_finding(store)
        stray = add_event(store, fid, "2032-07-14T09:00:00+08:00")
        assert where(store)[stray] == "finding_events_default"
    with Store(pg_database) as store:
        assert where(store)[stray] == "finding_events_203207"


def test_the_migration_keeps_an_existing_audit_trail(pg_url, monkeypatch):
    import psycopg
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = pg_schema_url(pg_url, schema)
    try:
        with monkeypatch.context() as m:                       # a database made before the migration
            m.setattr(migrations, "MIGRATIONS",
                      tuple(x for x in migrations.MIGRATIONS if x.name != "0171_finding_events_by_month"))
            with Store(url) as old:
                assert old.scalar("SELECT relkind FROM pg_class WHERE relname = 'finding_events' "
                                  "AND relnamespace = current_schema()::regnamespace") == "r"
                fid = add_finding(old)
                ids = [add_event(old, fid, at) for at in ("2026-09-30T23:00:00+08:00", "2026-10-01T08:00:00+08:00",
                                                          "2026-10-20T08:00:00+08:00", "")]
        with Store(url) as new:
            assert "0171_finding_events_by_month" in new.applied
            assert where(new) == {ids[0]: "finding_events_202609", ids[1]: "finding_events_202610",
                                  ids[2]: "finding_events_202610", ids[3]: "finding_events_default"}
            assert add_event(new, fid, "2026-10-21T08:00:00+08:00") == ids[-1] + 1      # ids continue
            with pytest.raises(psycopg.errors.ForeignKeyViolation):                      # still checked
                add_event(new, fid + 100, "2026-10-21T08:00:00+08:00")
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
