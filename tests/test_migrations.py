"""The migration table (checker/store/migrations.py `MIGRATIONS`): one literal, ordered list that is
exactly what a store records, and an existing database made by an earlier table upgrades to the
schema a new one gets."""
from __future__ import annotations

import sqlite3

from checker.store import Store, migrations


def columns(path) -> dict[str, set[str]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%'")]
        return {t: {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables}


def indexes(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                           "AND name NOT LIKE 'sqlite_%'")}


def test_the_table_is_unique_sorted_and_what_a_new_store_records(tmp_path):
    names = [m.name for m in migrations.MIGRATIONS]
    assert len(names) == len(set(names))
    assert names == sorted(names)                 # the order existing databases were migrated in
    with Store(tmp_path / "new.db") as store:
        assert store.applied == names
        assert {r[0] for r in store.conn.execute("SELECT name FROM _migrations")} == set(names)
    with Store(tmp_path / "new.db") as again:
        assert again.applied == []


def test_a_database_made_by_an_earlier_table_upgrades_to_the_new_schema(tmp_path, monkeypatch):
    names = [m.name for m in migrations.MIGRATIONS]
    early = tuple(m for m in migrations.MIGRATIONS if m.name < "0100")
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", early)
        with Store(tmp_path / "old.db") as old:
            assert old.applied == [x.name for x in early]
    with Store(tmp_path / "old.db") as upgraded:
        assert upgraded.applied == names[len(early):]
    with Store(tmp_path / "new.db"):
        pass
    assert columns(tmp_path / "old.db") == columns(tmp_path / "new.db")
    assert indexes(tmp_path / "old.db") == indexes(tmp_path / "new.db")
