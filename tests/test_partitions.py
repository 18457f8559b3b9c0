"""PostgreSQL only: the tables that grow with history are partitioned by month (checker.store.dialect
MONTHLY; SQLite keeps plain tables). The audit trail `finding_events` by the month of `at`: each
event in its month's partition, an odd value in the default partition (a write never fails), moved
into its own month's partition once that is made; an existing table's rows kept by the migration."""
from __future__ import annotations

import uuid
from datetime import datetime

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
    return store.conn.execute("INSERT INTO finding_events (finding_id, org, at, actor, action) "
                              "VALUES (?, COALESCE((SELECT org FROM findings WHERE id = ?), ''), ?, 'scan', 'open')",
                              (finding_id, finding_id, at)).lastrowid


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


# ------------------------------------------------------------------------------ the record tables

CASES = [["case_no", "item_code", "org", "channel", "accepted_at", "status"]]


def _import_cases(store, tmp_path, rows, name="c.csv"):
    from checker import config as config_mod
    from checker.ingest import ImportRun, import_file

    cfg = config_mod.load(None, database=store.path)
    if not store.count("orgs"):
        for kind, lines in {"orgs": [["code", "name", "parent", "level"], ["500100", "重庆市", "", "city"],
                                     ["500103", "渝中区", "500100", "district"]],
                            "items": [["code", "name", "org", "promised_days"], ["K1", "许可", "500103", "5"]]}.items():
            (tmp_path / f"{kind}.csv").write_text("\n".join(",".join(r) for r in lines) + "\n", encoding="utf-8")
            import_file(store, cfg, kind, tmp_path / f"{kind}.csv")
    (tmp_path / name).write_text("\n".join(",".join(r) for r in [*CASES, *rows]) + "\n", encoding="utf-8")
    now = datetime.fromisoformat("2026-12-01T09:00:00+08:00")
    return import_file(store, cfg, "cases", tmp_path / name, run=ImportRun(store, cfg, now=now))


def _places(store) -> dict[str, tuple[str, str, str]]:
    """case_no → (partition, org, accepted_at), and the key table must say the same."""
    places = {r[0]: (r[1], r[2], r[3]) for r in store.conn.raw.execute(
        "SELECT case_no, tableoid::regclass::text, org, accepted_at FROM cases")}
    keys = {r[0]: (r[1], r[2]) for r in store.conn.raw.execute("SELECT case_no, org, accepted_at FROM case_keys")}
    assert keys == {k: v[1:] for k, v in places.items()}
    return places


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "python path"])
def test_cases_live_in_their_months_partition_and_move_when_their_time_changes(pg_database, tmp_path,
                                                                                 monkeypatch, fast):
    from checker.ingest import importer
    if not fast:
        monkeypatch.setattr(importer._Job, "_read_fast", importer._Job._read_all)
    with Store(pg_database) as store:
        r = _import_cases(store, tmp_path, [["C1", "K1", "500103", "online", "2026-10-09 09:00:00", "accepted"],
                                            ["C2", "K1", "500103", "online", "2024-05-09 09:00:00", "accepted"]])
        assert (r.inserted, r.updated) == (2, 0)
        assert {k: v[0] for k, v in _places(store).items()} == {"C1": "cases_202610", "C2": "cases_202405"}
        # re-imported: C1 unchanged in place, C2 moved to another month and org, C3 new
        r = _import_cases(store, tmp_path, [["C1", "K1", "500103", "online", "2026-10-09 09:00:00", "processing"],
                                            ["C2", "K1", "500100", "online", "2026-11-03 10:00:00", "accepted"],
                                            ["C3", "K1", "500103", "window", "2026-11-04 10:00:00", "accepted"]], "d.csv")
        assert (r.inserted, r.updated, r.rejected) == (1, 2, 0), open(r.rejects_file).read()
        places = _places(store)
        assert places["C1"] == ("cases_202610", "500103", "2026-10-09T09:00:00+08:00")
        assert places["C2"] == ("cases_202611", "500100", "2026-11-03T10:00:00+08:00")
        assert store.count("cases") == 3 and store.get("cases", "C1")["status"] == "processing"
        assert store.get("cases", "C2")["due_at"]                          # its deadline from its new time
        # moved around the store (raw SQL: the key table not told), then re-imported: found by its key
        store.conn.execute("UPDATE cases SET accepted_at = '2026-10-20T10:00:00+08:00' WHERE case_no = 'C3'")
        r = _import_cases(store, tmp_path, [["C3", "K1", "500103", "window", "2026-11-04 10:00:00", "processing"]],
                          "e.csv")
        assert (r.inserted, r.updated, store.count("cases")) == (0, 1, 3)
        assert _places(store)["C3"] == ("cases_202611", "500103", "2026-11-04T10:00:00+08:00")


def test_the_migration_partitions_existing_records_and_fills_their_key_tables(pg_url, monkeypatch, tmp_path):
    import psycopg
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = pg_schema_url(pg_url, schema)
    rows = [["C1", "K1", "500103", "online", "2026-09-30 23:00:00", "accepted"],
            ["C2", "K1", "500103", "online", "2026-10-01 08:00:00", "accepted"],
            ["C3", "K1", "500100", "window", "2024-02-29 08:00:00", "accepted"]]
    try:
        with monkeypatch.context() as m:                       # a database made before the migration
            m.setattr(migrations, "MIGRATIONS",
                      tuple(x for x in migrations.MIGRATIONS if x.name != "0180_records_by_month"))
            with Store(url) as old:
                assert _import_cases(old, tmp_path, rows).inserted == 3
                old.conn.execute("INSERT INTO evaluations (id, org, channel, level, evaluated_at) "
                                 "VALUES ('E1', '500103', 'online', 5, '2026-10-02T10:00:00+08:00')")
                indexes = sorted(r[0] for r in old.conn.raw.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'cases' AND schemaname = current_schema()"))
                before = old.rows("SELECT * FROM cases ORDER BY case_no")
        with Store(url) as new:
            assert "0180_records_by_month" in new.applied
            assert new.rows("SELECT * FROM cases ORDER BY case_no") == before
            assert {k: v[0] for k, v in _places(new).items()} == \
                {"C1": "cases_202609", "C2": "cases_202610", "C3": "cases_202402"}
            assert sorted(r[0] for r in new.conn.raw.execute(      # every index again (the key's renamed)
                "SELECT indexname FROM pg_indexes WHERE tablename = 'cases' AND schemaname = current_schema()")) == \
                indexes
            assert new.scalar("SELECT count(*) FROM evaluation_keys") == 1
            assert new.scalar("SELECT tableoid::regclass::text FROM evaluations") == "evaluations_202610"
            r = _import_cases(new, tmp_path, [["C3", "K1", "500100", "window", "2024-02-29 08:00:00", "processing"]], "d.csv")
            assert (r.inserted, r.updated) == (0, 1) and new.get("cases", "C3")["status"] == "processing"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_a_read_only_role_opens_the_store_in_a_new_month(pg_database, monkeypatch):
    """A reader (SELECT only) opening the store when this month's partitions are not made yet must
    open it, not fail making them; the next writer makes them."""
    import psycopg

    from checker.store import dialect
    with Store(pg_database) as store:
        schema = store.scalar("SELECT current_schema()")
        ahead = partition_name("cases", dialect._months_around(dialect.PARTITION_MONTHS_AHEAD + 2)[-1])
        assert ahead not in store.dialect.tables(store.conn)
    role = f"ro_{uuid.uuid4().hex[:10]}"
    base = pg_database.split("?")[0]
    with psycopg.connect(pg_database, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    reader = pg_database.replace(base, base.replace("postgres@", f"{role}@", 1))
    try:
        monkeypatch.setattr(dialect, "PARTITION_MONTHS_AHEAD", dialect.PARTITION_MONTHS_AHEAD + 2)  # a month later
        with Store(reader) as store:
            assert store.scalar("SELECT current_user") == role
            assert store.count("cases") == 0 and store.finding_events(1) == []
        with Store(pg_database) as store:                  # the owner's next open makes them
            assert ahead in {r[0] for r in store.conn.raw.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace")}
    finally:
        with psycopg.connect(pg_database, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')
