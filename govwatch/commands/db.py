"""`govwatch db migrate-to postgresql://…`: move a SQLite store to the PostgreSQL server store."""
from __future__ import annotations

from checker.store.copy import migrate_to
from checker.store.dialect import redact

from ..shell import JSON, arg, command, emit_json


@command("db", "数据库维护：migrate-to postgresql://… 把当前 SQLite 数据库（记录、问题及其全部历史、发送队列、绑定、"
         "静默、运行记录）复制到一个空的 PostgreSQL 数据库，并逐表核对行数",
         arg("action", choices=("migrate-to",), metavar="操作", help="migrate-to"),
         arg("url", metavar="地址", help="目标 postgresql://用户@主机:端口/库名（密码取自配置项 database_password_env 所指的环境变量）"),
         JSON)
def db_cmd(ctx, ns) -> int:
    copied = migrate_to(ctx.store, ns.url, ctx.config.database_password_env)
    if ns.json:
        emit_json([{"table": c.table, "source": c.source, "copied": c.copied} for c in copied])
        return 0
    for c in copied:
        print(f"{c.table}: {c.copied:,} 行（源 {c.source:,} 行）")
    print(f"已迁移到 {redact(ns.url)}：{len(copied)} 张表，{sum(c.copied for c in copied):,} 行，行数逐表一致。"
          f"以后请用 --db 或配置项 database 指向该地址。")
    return 0
