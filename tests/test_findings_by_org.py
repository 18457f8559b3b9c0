"""Findings and their events keyed by org, so that they distribute by org on Citus (issue 17 item 4;
docs/postgresql.md "Citus"), with the same answers as before on both stores:

- a finding of no org is stored with the org '' (checker.store.findings.NO_ORG), never NULL, and read
  back as None: who sees it (CLI, bot listings, reports, access scopes) is unchanged;
- a fingerprint stays one finding (a record that moves to another org keeps it);
- an event carries its finding's org; an event of no finding is refused;
- the outbox has no foreign key to findings: a row naming a finding deleted around govwatch is kept
  `obsolete` with its reason, never sent;
- the migrations 0200-0203 convert an existing store with data (NULL orgs, events, finding_seen)."""
from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from checker import findings as findings_mod
from checker import notify
from checker.errors import Forbidden
from checker.findings.access import Scope
from checker.store import Store, citus, migrations
from govwatch import cli

from botworld import DAY, Rule, fire, seed
from conftest import pg_schema_url

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

OVERDUE = Rule("db33.case.overdue")
AT = DAY.isoformat()


@pytest.fixture
def world(store, cfg, tmp_path):
    seed(store, cfg, tmp_path)
    return store


def ids_by_subject(store, **kw) -> dict[str, int]:
    return {f["subject"]: f["id"] for f in findings_mod.list_findings(store, now=DAY, **kw)}


def test_a_finding_of_no_org_is_stored_as_the_empty_org_and_read_as_none(world, cfg, database, capsys):
    ids = fire(world, cfg, [(OVERDUE, "C001", "办件超期", "E1"),
                            (OVERDUE, "X1", "无所属机构", None, None),
                            (OVERDUE, "X2", "无所属机构，已分派", "E1", None)])
    stored = dict(world.conn.execute("SELECT subject, org FROM findings").fetchall())
    assert stored == {"C001": "330102001", "X1": "", "X2": ""}
    assert dict(world.conn.execute("SELECT finding_id, org FROM finding_events").fetchall()) == {
        ids["C001"]: "330102001", ids["X1"]: "", ids["X2"]: ""}
    # the store's answers: None, as before
    assert world.finding_row(ids["X1"])["org"] is None
    assert [e["org"] for e in world.finding_events(ids["X1"])] == [None]
    assert {f["subject"]: f["org"] for f in findings_mod.list_findings(world, now=DAY)} == {
        "C001": "330102001", "X1": None, "X2": None}
    assert {e["f_subject"]: e["f_org"] for e in world.events_after(0)} == {"C001": "330102001", "X1": None, "X2": None}
    assert {f["subject"]: f["org"] for f in world.findings_open_at(None, AT)} == {"C001": "330102001", "X1": None,
                                                                                 "X2": None}
    assert [f["subject"] for f in world.findings_open_at("330100", AT)] == ["C001"]
    assert [f["subject"] for f in world.findings_opened("330100", "2026-10-01", "2026-11-01")] == ["C001"]
    assert {f["subject"] for f in world.findings_opened(None, "2026-10-01", "2026-11-01")} == {"C001", "X1", "X2"}
    # who sees it: admins everything; a supervisor their subtree (no org is in none); an officer their own
    admin, city, officer = (Scope.for_officer(world, who) for who in ("A1", "S0", "E1"))
    assert set(ids_by_subject(world, scope=admin)) == {"C001", "X1", "X2"}
    assert set(ids_by_subject(world, scope=city)) == {"C001"}
    assert set(ids_by_subject(world, scope=officer)) == {"C001", "X2"}
    assert set(ids_by_subject(world, org="330100")) == {"C001"}
    assert findings_mod.get_finding(world, ids["X1"], scope=admin, now=DAY)["org"] is None
    with pytest.raises(Forbidden):
        findings_mod.get_finding(world, ids["X1"], scope=city, now=DAY)
    assert city.can_see(findings_mod.get_finding(world, ids["C001"], now=DAY))
    # the CLI: every finding, the org-less ones with "org": null; --org: that subtree only
    assert cli.main(["--db", database, "findings", "--json"]) == 0
    assert {f["subject"]: f["org"] for f in json.loads(capsys.readouterr().out)} == {
        "C001": "330102001", "X1": None, "X2": None}
    assert cli.main(["--db", database, "findings", "--org", "330100", "--json"]) == 0
    assert [f["subject"] for f in json.loads(capsys.readouterr().out)] == ["C001"]


def test_no_org_code_can_be_empty_so_the_empty_org_is_no_real_org(world, cfg, tmp_path):
    from checker.ingest import import_file
    (tmp_path / "orgs.csv").write_text("code,name,level\n,空编码,hall\n\"  \",空白编码,hall\nH9,大厅,hall\n",
                                       encoding="utf-8")
    result = import_file(world, cfg, "orgs", tmp_path / "orgs.csv")
    assert (result.inserted, result.rejected) == (1, 2)
    rows = ["case_no,item_code,org,channel,accepted_at,status",
            *(f"C{n},I001,{org},window,2026-10-09T09:00:00+08:00,processing" for n, org in ((7, ""), (8, "  "), (9, "H9")))]
    (tmp_path / "cases.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = import_file(world, cfg, "cases", tmp_path / "cases.csv")
    assert (result.inserted, result.rejected) == (1, 2)
    rejects = (tmp_path / "cases.rejects.csv").read_text(encoding="utf-8-sig")
    assert rejects.count("缺少必填字段") == 2
    assert world.scalar("SELECT count(*) FROM orgs WHERE trim(code) = ''") == 0
    assert world.scalar("SELECT count(*) FROM cases WHERE trim(org) = ''") == 0


def test_a_record_that_moves_to_another_org_keeps_its_one_finding(world, cfg):
    first = fire(world, cfg, [(OVERDUE, "C001", "办件超期", "E1")])["C001"]
    findings_mod.reconcile(world, cfg, 2, DAY, [], {OVERDUE.id: None})            # cleared: resolved
    again = fire(world, cfg, [(OVERDUE, "C001", "办件超期", "E9", "330200")], scan_id=3)   # fires under another org
    assert again["C001"] == first
    rows = world.rows("SELECT id, org, status, reopen_count FROM findings WHERE fingerprint = ?",
                      (f"{OVERDUE.id}:C001",))
    assert rows == [{"id": first, "org": "330102001", "status": "open", "reopen_count": 1}]
    assert {e["org"] for e in world.finding_events(first)} == {"330102001"}


def test_an_event_carries_its_findings_org_and_one_of_no_finding_is_refused(world, cfg, store_kind):
    fid = fire(world, cfg, [(OVERDUE, "C001", "办件超期", "E1")])["C001"]
    findings_mod.acknowledge(world, fid, "E1", now=DAY)
    assert [e["org"] for e in world.finding_events(fid)] == ["330102001", "330102001"]
    with pytest.raises(ValueError, match="do not exist"):
        world.add_events([{"finding_id": fid + 100, "at": AT, "actor": "E1", "action": "remind"}])
    if store_kind == "postgresql":            # the database's own check: the events' key (finding_id, org)
        import psycopg
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            world.conn.execute("INSERT INTO finding_events (finding_id, org, at, actor, action) "
                               "VALUES (?, '330200', ?, 'x', 'remind')", (fid, AT))


class Recorder:
    channel = "telegram"

    def __init__(self):
        from bot.notifiers.telegram import TelegramFormatter
        self.formatter = TelegramFormatter()
        self.sent: list[str] = []

    def address(self, officer):
        return officer.get("telegram_id")

    async def send(self, message):
        self.sent.append(message.text)
        return f"m{len(self.sent)}"


def test_an_outbox_row_of_a_finding_deleted_around_govwatch_is_kept_obsolete_not_sent(world, cfg, store_kind, caplog):
    ids = fire(world, cfg, [(OVERDUE, "C001", "办件超期", "E1"), (OVERDUE, "C002", "另一件超期", "E1")])
    assert notify.route_now(world, cfg, DAY) == 2
    gone = ids["C001"]
    if store_kind == "postgresql":            # a finding with events cannot go alone (the events' foreign key)
        import psycopg
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            world.conn.execute("DELETE FROM findings WHERE id = ?", (gone,))
    world.conn.execute("DELETE FROM finding_events WHERE finding_id = ?", (gone,))      # archived with its trail
    world.conn.execute("DELETE FROM findings WHERE id = ?", (gone,))
    rec = Recorder()
    result = asyncio.run(notify.deliver_pending(world, cfg, rec, DAY))
    assert result.sent == 1 and len(rec.sent) == 1
    assert f"#{ids['C002']}</b>" in rec.sent[0] and f"#{gone}</b>" not in rec.sent[0]
    row = next(r for r in world.outbox() if r["finding_id"] == gone)
    assert row["status"] == "obsolete" and "已不存在" in row["last_error"]
    assert "no longer exist" in caplog.text


# ------------------------------------------------------------------------------ the migrations

@pytest.fixture
def empty_database(store_kind, tmp_path, pg_url_or_none):
    """A database no migration has touched yet: a SQLite path, or a new PostgreSQL schema (dropped after)."""
    if store_kind == "sqlite":
        yield str(tmp_path / "old.db")
        return
    import psycopg
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url_or_none, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield pg_schema_url(pg_url_or_none, schema)
    finally:
        with psycopg.connect(pg_url_or_none, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_url_or_none(store_kind, request):
    return request.getfixturevalue("pg_url") if store_kind == "postgresql" else None


NEW = ("0200_findings_org_not_null", "0201_finding_events_org", "0202_findings_keys_by_org", "0203_finding_seen_folded")


def test_the_migrations_convert_an_existing_store_with_findings_of_no_org_and_events(empty_database, monkeypatch,
                                                                                     store_kind):
    finding = ("INSERT INTO findings (fingerprint, rule, clause, standard, kind, subject, org, severity, status, "
               "message, opened_at, last_seen_at) VALUES (?, 'r', '§1', 'DB', 'record', ?, ?, 'red', 'open', 'm', "
               "'2026-10-14T10:00:00+08:00', ?)")
    with monkeypatch.context() as m:                       # a store made before the migrations
        m.setattr(migrations, "MIGRATIONS", tuple(x for x in migrations.MIGRATIONS if x.name < "0200"))
        with Store(empty_database) as old:
            c = old.conn
            assert [c.execute(finding, values).lastrowid for values in (
                ("r:a", "a", None, "2026-10-14T10:00:00+08:00"), ("r:b", "b", "330102", "2026-10-14T10:00:00+08:00"),
                ("r:c", "c", None, None))] == [1, 2, 3]
            for fid, at in ((1, "2026-10-14T10:00:00+08:00"), (2, "2026-10-14T10:00:00+08:00"),
                            (2, "2026-11-02T09:00:00+08:00"), (3, "2026-10-15T10:00:00+08:00")):
                c.execute("INSERT INTO finding_events (finding_id, at, actor, action) VALUES (?, ?, 'system', 'open')",
                          (fid, at))
            c.execute("INSERT INTO finding_seen (finding_id, seen_at) VALUES (2, '2026-10-20T09:00:00+08:00'), "
                      "(3, '2026-10-16T09:00:00+08:00')")
            c.execute("INSERT INTO outbox (dedup_key, finding_id, recipient, kind, payload, created_at) "
                      "VALUES ('1:E1', 1, 'E1', 'new', '{}', '2026-10-14T10:00:00+08:00')")
            if store_kind == "sqlite":                     # findings once deleted: the counter is past the ids
                c.execute("UPDATE sqlite_sequence SET seq = 50 WHERE name = 'findings'")
            before = {r["id"]: r["last_seen_at"] for r in old.query_findings()}
    with Store(empty_database) as new:
        assert new.applied[:len(NEW)] == list(NEW)          # then any migration written after them
        assert dict(new.conn.execute("SELECT id, org FROM findings").fetchall()) == {1: "", 2: "330102", 3: ""}
        assert sorted(new.conn.execute("SELECT finding_id, org, at FROM finding_events").fetchall()) == [
            (1, "", "2026-10-14T10:00:00+08:00"), (2, "330102", "2026-10-14T10:00:00+08:00"),
            (2, "330102", "2026-11-02T09:00:00+08:00"), (3, "", "2026-10-15T10:00:00+08:00")]
        assert "finding_seen" not in new.dialect.tables(new.conn)
        listed = {r["id"]: (r["org"], r["last_seen_at"]) for r in new.query_findings()}
        assert listed == {1: (None, before[1]), 2: ("330102", "2026-10-20T09:00:00+08:00"),
                          3: (None, "2026-10-16T09:00:00+08:00")}            # the folded last-seen times
        assert new.finding_row(3)["org"] is None and [e["org"] for e in new.finding_events(2)] == ["330102"] * 2
        assert new.outbox()[0]["finding_id"] == 1
        with pytest.raises(new.dialect.errors):                                   # NOT NULL now
            with new.transaction():
                new.conn.execute(finding, ("r:d", "d", None, None))
        ids = new.insert_findings([{"fingerprint": "r:e", "rule": "r", "clause": "§1", "standard": "DB",
                                    "kind": "record", "subject": "e", "subject_kind": "cases", "org": None,
                                    "severity": "red", "message": "m", "assignee": None, "supervisor": None,
                                    "at": "2026-11-03T09:00:00+08:00", "due_at": None, "scan_id": None, "data": None}])
        assert ids["r:e"] == 51 if store_kind == "sqlite" else ids["r:e"] > 3     # the ids continue
        new.add_events([{"finding_id": ids["r:e"], "at": "2026-11-03T09:00:00+08:00", "actor": "system",
                         "action": "open"}])
        assert [e["org"] for e in new.finding_events(ids["r:e"])] == [None]
        if new.is_postgres:
            assert citus.problems(new.conn) == []
    with Store(empty_database) as again:
        assert again.applied == []
