"""`govwatch rules validate|list|test|coverage|diff|schema`: the admin's tools for rule packs."""
from __future__ import annotations

import json
import sys
from typing import Callable

from checker.errors import InputError
from checker.rules import load, load_packs, schema, validate_paths
from checker.rules.coverage import coverage
from checker.tools.rule_diff import diff_rules
from checker.tools.rule_tests import collect, run_tests, untested_rules

from ..shell import JSON, NOW, arg, command, emit_json, parse_now


@command("rules", "规则包：validate 校验、list 列出、test 测试、coverage 条款覆盖、diff 旧 新 对比、schema 模式",
         arg("action", choices=["validate", "list", "test", "coverage", "diff", "schema"], metavar="操作",
             help="validate | list | test | coverage | diff | schema"),
         arg("paths", nargs="*", help="规则文件夹或文件（默认：配置的规则包）"), NOW, JSON)
def rules(ctx, ns) -> int:
    paths = ns.paths or [str(ctx.config.rules_path())]
    return ACTIONS[ns.action](ctx, ns, paths)


def _validate(ctx, ns, paths) -> int:
    problems = validate_paths(paths)
    for p in problems:
        print(p)
    if problems:
        print(f"共 {len(problems)} 个问题", file=sys.stderr)
        return 1
    book, _ = load(paths)
    print(f"规则有效：{len(book.packs)} 个规则包，{len(book.rules)} 条规则（{book.version}）")
    return 0


def _schema(ctx, ns, paths) -> int:
    print(json.dumps(schema(), ensure_ascii=False, indent=2))
    return 0


def _list(ctx, ns, paths) -> int:
    rows = [{"id": r.id, "clause": r.clause, "standard": r.standard, "kind": r.kind, "severity": r.severity,
             "title": r.title, "enabled": r.enabled} for r in load_packs(paths).rules]
    if ns.json:
        emit_json(rows)
    for r in [] if ns.json else rows:
        print(f"{r['id']:<40} {r['standard']} §{r['clause']:<14} {r['kind']:<9} {r['severity']:<6} {r['title']}")
    return 0


def _test(ctx, ns, paths) -> int:
    outcomes = run_tests(paths)
    failed = [o for o in outcomes if not o.passed]
    untested = untested_rules(paths, collect(paths))
    if ns.json:
        emit_json([{"test": o.test.id, "file": o.test.file, "line": o.test.line, "passed": o.passed,
                    "failures": list(o.failures)} for o in outcomes]
                  + [{"test": None, "untested_rule": r.id, "file": r.file, "line": None, "passed": False,
                      "failures": ["没有任何 YAML 测试检验这条规则"]} for r in untested])
    else:
        for o in outcomes:
            print(o.report())
        for r in untested:
            print(f"未测试  {r.file}  {r.id}（{r.standard} §{r.clause} {r.title}）：没有任何 YAML 测试检验这条规则")
        tail = f"，{len(untested)} 条规则没有测试" if untested else ""
        print(f"{len(outcomes) - len(failed)} 通过，{len(failed)} 失败{tail}")
    return 1 if failed or untested else 0


def _coverage(ctx, ns, paths) -> int:
    report = coverage(paths)
    if ns.json:
        emit_json({"clauses": [c.as_json() for c in report.clauses], "counts": report.counts(),
                   "problems": [str(p) for p in report.problems]})
    else:
        for c in report.clauses:
            how = ", ".join([*c.rules, *c.checks, *c.reports, *c.features]) or f"人工：{c.left_to_people or '—'}"
            print(f"{c.standard} §{c.clause:<16} {c.status:<15} {how}")
        for p in report.problems:
            print(p)
        n = report.counts()
        print(f"覆盖 {n['covered']}，人工 {n['left_to_people']}，未覆盖 {n['uncovered']}；问题 {len(report.problems)} 个")
    return 0 if report.ok else 1


def _diff(ctx, ns, paths) -> int:
    if len(ns.paths) != 2:
        raise InputError("用法：govwatch rules diff OLD NEW（两个规则路径）")
    result = diff_rules(ctx.store, ctx.config, ns.paths[0], ns.paths[1], parse_now(ns.now, ctx.config.tz))
    if ns.json:
        emit_json(result.as_json())
        return 0
    for rule, subject, message in result.added:
        print(f"+ {rule}  {subject}  {message}")
    for rule, subject, message in result.dropped:
        print(f"- {rule}  {subject}  {message}")
    print(f"新增 {len(result.added)}，减少 {len(result.dropped)}，不变 {result.unchanged}")
    return 0


ACTIONS: dict[str, Callable[..., int]] = {"validate": _validate, "schema": _schema, "list": _list, "test": _test,
                                          "coverage": _coverage, "diff": _diff}
