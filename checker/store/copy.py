"""`govwatch db migrate-to postgresql://…`: copy a SQLite store into an empty PostgreSQL database
(records, findings with their history, outbox state, bindings, silences, run log, every table the
migrations made), in one PostgreSQL transaction, then check every table's row count.

The destination is made by the same migrations; each table is streamed by COPY in chunks (memory
stays flat), identity columns keep their ids and their sequences continue after them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from . import Store
from .dialect import KEYED, MONTHLY, _plain, fill_key_table, is_postgres

CHUNK = 20_000
SKIP = ("_migrations",)            # made by the destination's own migrations


@dataclass(frozen=True)
class CopiedTable:
    table: str
    source: int
    copied: int

    @property
    def ok(self) -> bool:
        return self.source == self.copied


def migrate_to(source: Store, url: str, password_env: str | None = None) -> list[CopiedTable]:
    """Copy the store `source` (SQLite) into the PostgreSQL database at `url`; raise InputError when
    the destination already holds records or a count differs (nothing is then kept)."""
    if not is_postgres(url):
        raise InputError(f"目标必须是 postgresql:// 地址：{url}")
    if source.is_postgres:
        raise InputError("源数据库已是 PostgreSQL：migrate-to 只从 SQLite 复制")
    with Store(url, password_env=password_env) as dest:
        tables = [t for t in source.dialect.tables(source.conn) if t not in SKIP and not t.startswith("_stage_")]
        have = set(dest.dialect.tables(dest.conn))
        missing = [t for t in tables if t not in have]
        if missing:
            raise InputError(f"目标数据库缺少表 {', '.join(missing)}：请先用同一版本的 govwatch 打开它")
        tables = _parents_first(dest, tables)
        busy = [t for t in tables if t != "meta" and dest.scalar(f'SELECT count(*) FROM "{t}"')]
        if busy:
            raise InputError(f"目标数据库不是空的（{', '.join(busy)} 已有数据）：只能迁入空库")
        out: list[CopiedTable] = []
        raw = dest.conn.raw
        with dest.transaction():
            raw.execute('DELETE FROM "meta"')            # the destination's seeded counters give way to the source's
            for table, column in MONTHLY.items():       # the copied history straight into its months' partitions
                if table in tables:
                    dest.dialect.ensure_partitions(dest.conn, table, [r[0] for r in source.conn.execute(
                        f'SELECT DISTINCT substr("{column}", 1, 7) FROM "{table}"')])
            for table in tables:
                cols = [c for c in source.dialect.columns(source.conn, table)
                        if c in set(dest.dialect.columns(dest.conn, table))]
                names = ", ".join(f'"{c}"' for c in cols)
                cur = source.conn.execute(f'SELECT {names} FROM "{table}"')
                with raw.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    while chunk := cur.fetchmany(CHUNK):
                        for row in chunk:
                            copy.write_row([_plain(v) for v in row])
                if "id" in cols and table in dest.conn.identity_tables():
                    raw.execute(f"""SELECT setval(pg_get_serial_sequence('"{table}"', 'id'),
                                    COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)""")
                out.append(CopiedTable(table, source.count_rows(table), dest.count_rows(table)))
            dest.dialect.maintain(dest.conn)        # odd months' rows out of the default partitions
            for table in KEYED:                     # where each copied record lives
                fill_key_table(dest.conn, table)
            wrong = [c for c in out if not c.ok]
            if wrong:
                raise InputError("迁移后行数不一致，已撤销：" + "；".join(
                    f"{c.table} 源 {c.source} 行、目标 {c.copied} 行" for c in wrong))
        return out


def _parents_first(dest: Store, tables: list[str]) -> list[str]:
    """The tables ordered so that a table a foreign key points to is copied before the table."""
    edges = dest.conn.raw.execute(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = current_schema()"
    ).fetchall()
    parents = {t: {p.strip('"') for c, p in edges if c.strip('"') == t and p.strip('"') != t} for t in tables}
    out: list[str] = []
    while len(out) < len(tables):
        ready = [t for t in tables if t not in out and parents[t] <= set(out) | (parents[t] - set(tables))]
        out += ready or [t for t in tables if t not in out]          # a cycle: as they come
    return out
