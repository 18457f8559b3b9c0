"""Finding commands: list findings, act on one (ack / submit / verify), show the P1–P9 indicators."""
from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

from checker import findings
from checker.errors import InputError
from checker.evaluate import indicators
from checker.evaluate.indicators import percent
from checker.findings.access import Scope
from checker.periods import Period
from checker.reports.data import SEVERITY_NAMES
from checker.reports.xlsx import findings_csv, findings_xlsx
from checker.rules import load_configured
from checker.statuses import STATUSES

from ..shell import JSON, NOW, arg, command, emit_json, parse_now

SEVERITY = {"red": "红", "yellow": "黄", "blue": "蓝"}


class _Verdict(argparse.Action):
    """--pass / --fail: one verdict; both at once is a usage error (exit 2), not the last one winning."""

    def __init__(self, option_strings, dest, const=None, **kw):
        super().__init__(option_strings, dest, nargs=0, const=const, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, self.dest, None) not in (None, self.const):
            parser.error("--pass 与 --fail 只能选一个")
        setattr(namespace, self.dest, self.const)


@command("findings", "列出发现的问题及其状态",
         arg("--status", help=f"状态：{'、'.join(STATUSES)}、active（可用中文名，逗号分隔多个）"),
         arg("--rule", help="规则编号"),
         arg("--org", help="机构编码：该机构及其下级机构"),
         arg("--by", metavar="OFFICER", help="只列出该人员有权查看的问题"),
         arg("--limit", type=int, help="最多列出条数"),
         arg("--format", choices=("csv", "xlsx"), help="导出格式：csv（输出到屏幕或 --out 文件）或 xlsx（写入 --out，默认 findings.xlsx）"),
         arg("--out", metavar="FILE", help="--format 的输出文件"),
         JSON)
def findings_cmd(ctx, ns):
    store = ctx.store
    if ns.limit is not None and ns.limit < 1:
        raise InputError(f"--limit 应为正整数：{ns.limit}")
    if ns.org and store.get("orgs", ns.org) is None:
        raise InputError(f"未找到机构 {ns.org}：请检查机构编码（govwatch import orgs 导入的 code）")
    scope = Scope.for_officer(store, ns.by) if ns.by else None
    rows = findings.list_findings(store, ns.status, ns.rule, ns.org, scope, limit=ns.limit,
                                  now=parse_now(None, ctx.config.tz))
    if ns.json and ns.format:
        raise InputError("--json 与 --format 只能选一个")
    if ns.format:
        return _export(rows, ns.format, ns.out, findings.STATUS_NAMES)
    if ns.json:
        emit_json(rows)
    else:
        print(_findings_table(rows, findings.STATUS_NAMES) if rows else "没有符合条件的发现。")
    return 0


def _export(rows, fmt: str, out: str | None, status_names: dict) -> int:
    """Write the findings as CSV (UTF-8; with a BOM in a file, so Excel reads it) or as an xlsx sheet."""
    if fmt == "csv" and not out:
        findings_csv(rows, sys.stdout, status_names, SEVERITY_NAMES)
        return 0
    path = Path(out or "findings.xlsx" if fmt == "xlsx" else out)
    try:
        if fmt == "csv":
            with path.open("w", encoding="utf-8-sig", newline="") as fh:
                findings_csv(rows, fh, status_names, SEVERITY_NAMES)
        else:
            findings_xlsx(rows, path, status_names, SEVERITY_NAMES)
    except OSError as exc:
        raise InputError(f"无法写入 {path}：{exc.strerror}") from None
    print(f"已导出 {len(rows)} 条问题：{path}")
    return 0


def _findings_table(rows, names) -> str:
    head = ["编号", "状态", "等级", "规则", "对象", "机构", "责任人", "整改期限", "说明"]
    body = [[str(r["id"]), names.get(r["status"], r["status"]), SEVERITY.get(r["severity"], r["severity"]),
             r["rule"], r["subject"], r["org"] or "", r["assignee"] or "", (r["due_at"] or "")[:10],
             f"{r['standard']} §{r['clause']} {_clip(r['message'], 60)}"] for r in rows]
    return table(head, body) + f"\n共 {len(rows)} 条"


@command("finding", "处理一个问题：ack 确认、submit 提交整改、verify 复查",
         arg("action", choices=("ack", "submit", "verify"), metavar="操作", help="ack 确认 | submit 提交整改 | verify 复查"),
         arg("id", help="问题编号"),
         arg("--by", required=True, metavar="OFFICER", help="操作人工号"),
         arg("--note", help="整改说明或退回理由"),
         arg("--evidence", metavar="FILE", help="提交整改的佐证材料（照片、扫描件、PDF）"),
         arg("--pass", dest="passed", action=_Verdict, const=True, help="复查通过"),
         arg("--fail", dest="passed", action=_Verdict, const=False, help="复查不通过，退回重改（用 --note 说明理由）"),
         NOW, JSON)
def finding_cmd(ctx, ns):
    store, now = ctx.store, parse_now(ns.now, ctx.config.tz)
    if ns.action == "ack":
        row = findings.acknowledge(store, ns.id, ns.by, ns.note, now=now)
    elif ns.action == "submit":
        row = findings.submit(store, ns.id, ns.by, ns.note, ns.evidence, now=now)
    else:
        if ns.passed is None:
            raise InputError("复查须指定 --pass（通过）或 --fail（退回，并用 --note 说明理由）")
        row = findings.verify(store, ns.id, ns.by, ns.passed, ns.note, now=now)
    if ns.json:
        emit_json(row)
    else:
        print(f"发现 #{row['id']}（{row['rule']}，{row['subject']}）现为：{findings.STATUS_NAMES[row['status']]}")
    return 0


@command("indicators", "某期间的 P1–P9 定量评价指标（DB33/T 2036.7 §5.2–5.3）",
         arg("--period", required=True, help="期间：2026-10（或 2026-9、2026年9月）、2026-Q3、2026、2026-W41 或 2026-10-09"),
         arg("--org", help="机构编码（含其下级机构）；默认：所有机构"),
         NOW, JSON)
def indicators_cmd(ctx, ns):
    period = Period.parse(ns.period)
    cfg, now = ctx.config, parse_now(ns.now, ctx.config.tz)
    if ns.org and ctx.store.get("orgs", ns.org) is None:
        raise InputError(f"未找到机构 {ns.org}")
    values = indicators.compute(ctx.store, cfg, load_configured(cfg, ctx.store), period, ns.org, now=now)
    if ns.json:
        emit_json([v.to_json() for v in values])
    else:
        print(_indicators_table(ctx.store, values, period))
    return 0


def _indicators_table(store, values, period) -> str:
    names = store.org_names()
    verdict = {True: "达标", False: "未达标", None: "无数据"}
    head = ["机构", "指标", "名称", "分子", "分母", "数值", "目标", "结论", "条款"]
    body = [[f"{v.org} {names.get(v.org, '')}", v.code, v.title, _num(v.numerator), _num(v.denominator),
             percent(v.value, v.target), v.target_text, verdict[v.passed], f"{v.standard} §{v.clause}"] for v in values]
    failed = sum(v.passed is False for v in values)
    return f"{period.label} 效能指标\n" + table(head, body) + f"\n未达标 {failed} 项"


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _clip(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return text if _width(text) <= width else text[: max(1, width // 2 - 1)] + "…"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(head: list[str], rows: list[list[str]]) -> str:
    """A plain text table aligned for CJK (double-width) characters."""
    widths = [max(_width(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
