"""`govwatch silences`: list, add and expire alert silences (an admin's tool, like the bot's /silence)."""
from __future__ import annotations

from checker.errors import InputError
from checker.notify.silences import add_silence, list_silences, remove_silence

from ..shell import JSON, NOW, arg, command, emit_json, parse_now


@command("silences", "提醒静默：list 列出生效中的静默（--all 含已到期、已解除）、add 新增、expire 编号 立即解除",
         arg("action", nargs="?", default="list", choices=("list", "add", "expire"), metavar="操作",
             help="list（默认）| add 规则 机构 时长 原因 | expire 编号"),
         arg("params", nargs="*", metavar="参数", help="add：规则（可用 db33.case.* 通配）机构编码 时长（30m、12h、3d、2w）原因；"
             "expire：静默编号"),
         arg("--all", action="store_true", help="list：也列出已到期和已解除的静默"),
         arg("--by", metavar="工号", default="cli", help="操作人工号（记入日志；默认 cli）"),
         NOW, JSON)
def silences_cmd(ctx, ns) -> int:
    now = parse_now(ns.now, ctx.config.tz)
    if ns.action == "add":
        if len(ns.params) < 4:
            raise InputError("用法：govwatch silences add 规则 机构编码 时长 原因（如 db33.case.* 330102 3d 系统切换）")
        rule, org, duration, *reason = ns.params
        row = add_silence(ctx.store, rule, org, duration, " ".join(reason), ns.by, now)
        emit_json(row) if ns.json else print(f"已新增静默 #{row['id']}：{rule} @ {org}，至 {row['ends_at'][:16].replace('T', ' ')}")
        return 0
    if ns.action == "expire":
        if len(ns.params) != 1 or not ns.params[0].isdigit():
            raise InputError("用法：govwatch silences expire 静默编号")
        remove_silence(ctx.store, int(ns.params[0]), ns.by, now)
        emit_json({"id": int(ns.params[0]), "expired": True}) if ns.json else print(f"静默 #{ns.params[0]} 已解除")
        return 0
    if ns.params:
        raise InputError("list 不带参数；新增用 add，解除用 expire 编号")
    rows = list_silences(ctx.store, now, include_ended=ns.all)
    if ns.json:
        emit_json(rows)
    elif not rows:
        print("没有生效中的静默。" if not ns.all else "没有任何静默记录。")
    else:
        for r in rows:
            print(f"#{r['id']}  {r['state']}  {r['rule']} @ {r['org']}  {r['starts_at'][:16].replace('T', ' ')} 至 "
                  f"{r['ends_at'][:16].replace('T', ' ')}  {r['reason']}（{r['created_by']}）")
        print(f"共 {len(rows)} 条")
    return 0
