"""`govwatch report KIND` (日扫描 … 年考评, DB50/T 957.7 §4.2) and `govwatch index` (§6.3)."""
from __future__ import annotations

import argparse
import sys

from checker.periods import Period
from checker.reports import FORMATS, build_report
from checker.reports.index import GROUP_NAMES, NoIndexData, run_index
from checker.rules import load_configured

from ..shell import JSON, NOW, arg, command, emit_json, parse_now


def load_rulebook(cfg, store=None):
    """The configured rule packs (P1–P9 rules feed the reports and the index)."""
    return load_configured(cfg, store)


def formats_arg(text: str) -> tuple[str, ...]:
    """'pdf' or 'pdf,xlsx' → ('html', 'pdf', 'xlsx'): the HTML is always written (the PDF is laid out from it)."""
    picked = [f.strip().lower() for f in text.replace("，", ",").split(",") if f.strip()]
    bad = [f for f in picked if f not in FORMATS]
    if bad or not picked:
        raise argparse.ArgumentTypeError(f"未知的格式 {text!r}：应为 html、pdf、xlsx 之一或以逗号分隔的组合")
    return tuple(dict.fromkeys(["html", *picked]))

@command("report", "生成定期报告（日扫描、周调度、月通报、季分析、年考评，DB50/T 957.7 §4.2）：HTML，可加 PDF、xlsx",
         arg("kind", choices=["daily", "weekly", "monthly", "quarterly", "annual"], metavar="类型",
             help="daily 日扫描 | weekly 周调度 | monthly 月通报 | quarterly 季分析 | annual 年考评"),
         arg("--period", help="期间：2026-10-09、2026-W41、2026-10（或 2026-9、2026年9月）、2026-Q3、2026（默认：上一个完整期间）"),
         arg("--org", help="只统计该机构及其下级机构"),
         arg("--out", help="输出文件夹（默认：配置项 reports.out_dir）"),
         arg("--format", dest="formats", type=formats_arg, metavar="html|pdf|xlsx",
             help="除 HTML 外再生成 pdf（A4）和/或 xlsx，如 pdf 或 pdf,xlsx（默认：配置项 reports.formats）"), NOW)
def report(ctx, ns) -> int:
    cfg = ctx.config
    result = build_report(ctx.store, cfg, load_rulebook(cfg, ctx.store), ns.kind, ns.period, ns.org,
                          now=parse_now(ns.now, cfg.tz), out_dir=ns.out, formats=ns.formats)
    print(result.text)
    if result.pages:
        print(f"PDF 共 {result.pages} 页")
    return 0



@command("index", "政务服务效能指数：各机构得分、排名与较上期变化（DB50/T 957.7 §6.3，附录 A）",
         arg("--period", required=True, help="期间：2026、2026-Q3、2026-10（或 2026年9月）"), NOW, JSON)
def index(ctx, ns) -> int:
    cfg = ctx.config
    now = parse_now(ns.now, cfg.tz) if ns.now else None
    try:
        result = run_index(ctx.store, cfg, load_rulebook(cfg, ctx.store), Period.parse(ns.period), now=now)
    except NoIndexData as exc:                  # no ranking without data: say so
        if ns.json:
            emit_json([])
        print(str(exc), file=sys.stderr)
        return 0
    if ns.json:
        emit_json([r.as_json() for r in result.rows])
        return 0
    group = None
    for r in result.rows:
        if r.group != group:
            group = r.group
            print(f"【{GROUP_NAMES.get(group, group)}】")
        print(_line(r))
    weights = "，".join(f"{k} {v:.3f}" for k, v in result.dimension_weights.items())
    print(f"权重：{result.year} 年度固定（基期 {result.base_period}）{('：' + weights) if weights else ''}")
    return 0


def _line(r) -> str:
    if not r.complete:
        return f"  —  {r.org_name}  数据不全，不排名（缺：{'、'.join(r.missing_dimensions)}）"
    score = "—" if r.score is None else f"{r.score:6.2f}"
    change = "" if r.change is None else f"（较上期 {r.change:+.2f}）"
    dims = "  ".join(f"{k} {'—' if v is None else f'{v:.1f}'}" for k, v in r.dimensions.items())
    return f"{r.rank or '—':>3}  {r.org_name}  {score}{change}  {dims}"
