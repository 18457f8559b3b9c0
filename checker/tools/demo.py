"""The demo pipeline: sample data → import → scan → findings → indicators → summary → monthly bulletin.

A step is a function `step(ctx: DemoContext) -> str | list[str] | None`; STEPS, at the bottom, lists
them in the order they run with the Chinese heading printed above what each returns.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from ..config import Config
from ..evaluate.indicators import compute, percent
from ..evaluate.scan import run_scan
from ..ingest import import_dir
from ..ingest.records import CASE_STATUSES, KINDS
from ..periods import Period
from ..reports import build_report
from ..rules import load_configured
from ..rules.choice import choose_packs
from ..store import Store
from .sample import write_sample


@dataclass(frozen=True)
class DemoStep:
    name: str
    run: Callable[["DemoContext"], str | Sequence[str] | None]


@dataclass
class DemoContext:
    """What steps share: config (database inside the demo folder), store, folder, clock, results."""
    cfg: Config
    store: Store
    dir: Path
    data_dir: Path
    now: datetime
    cases: int
    seed: int
    results: dict[str, Any] = field(default_factory=dict)     # step outputs others may read (e.g. "import")


def run_demo(cfg: Config, folder: str | Path, now: datetime, cases: int = 20000, seed: int = 1, db: str | Path | None = None,
             echo: Callable[[str], None] = print, steps: "Sequence[DemoStep] | None" = None) -> DemoContext:
    """Run the demo steps (default: STEPS) on a database inside `folder` (or `db`), printing a Chinese account."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = dataclasses.replace(cfg, database=str(db or folder / "govwatch.db"))
    with Store(cfg.database, password_env=cfg.database_password_env) as store:
        ctx = DemoContext(cfg, store, folder, folder / "data", now, cases, seed)
        echo(f"效能监管助手演示：文件夹 {folder}，数据库 {cfg.database}，时间 {now.isoformat(timespec='minutes')}")
        for step in STEPS if steps is None else steps:
            _run_step(step, ctx, echo)
    return ctx


def _run_step(step: DemoStep, ctx: DemoContext, echo: Callable[[str], None]) -> None:
    started = time.monotonic()
    out = step.run(ctx)
    echo(f"\n== {step.name}（{time.monotonic() - started:.1f} 秒）")
    for line in [out] if isinstance(out, str) else out or []:
        echo(line)


def sample_step(ctx: DemoContext) -> list[str]:
    counts = write_sample(ctx.data_dir, now=ctx.now, cases=ctx.cases, seed=ctx.seed, tz=ctx.cfg.tz)
    ctx.results["sample"] = counts
    return [f"样例数据写入 {ctx.data_dir}：共 {sum(counts.values())} 条记录，{len(counts)} 类"]


def import_step(ctx: DemoContext) -> list[str]:
    results = import_dir(ctx.store, ctx.cfg, ctx.data_dir)
    ctx.results["import"] = results
    return [f"{KINDS[r.kind].title}（{r.kind}）：新增 {r.inserted}，更新 {r.updated}，拒收 {r.rejected}"
            for r in results]


STATUS_NAMES = {"accepted": "已受理", "processing": "办理中", "suspended": "特别程序（暂停计时）",
                "closed": "已办结", "rejected": "不予受理/不予许可", "withdrawn": "已撤回"}


def summary_step(ctx: DemoContext) -> list[str]:
    counts = ctx.store.counts()
    lines = ["记录数：" + "，".join(f"{KINDS[k].title} {n}" for k, n in counts.items())]
    by_status = ctx.store.case_status_counts()
    lines.append("办件状态：" + "，".join(f"{STATUS_NAMES[s]} {by_status.get(s, 0)}" for s in CASE_STATUSES))
    return lines


SEVERITY_NAMES = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}


def scan_step(ctx: DemoContext) -> list[str]:
    rulebook = ctx.results["rulebook"] = load_configured(ctx.cfg, ctx.store)
    choice = choose_packs(ctx.cfg, ctx.store)
    r = run_scan(ctx.store, ctx.cfg, rulebook, ctx.now)
    ctx.results["scan"] = r
    packs = "、".join(f"{p.number}（{len([x for x in rulebook.rules if x.standard == p.number])} 条规则）"
                     for p in rulebook.packs)
    return [f"执行的规则包：{packs}（{choice.reason}）", *([choice.warning] if choice.warning else []),
            f"扫描 #{r.scan_id}：评估 {r.evaluated} 项，新发现 {r.opened} 项，已消除 {r.resolved} 项，未关闭 {r.open} 项"]


def findings_step(ctx: DemoContext) -> list[str]:
    rows = ctx.store.open_findings_by_clause()
    lines = [f"{r['standard']} §{r['clause']}  {SEVERITY_NAMES.get(r['severity'], r['severity'])}  {r['n']} 项"
             for r in rows]
    return lines or ["未发现问题"]


def indicators_step(ctx: DemoContext) -> list[str]:
    period = Period.containing("month", ctx.now.astimezone(ctx.cfg.tz).date())
    districts = ctx.store.orgs_at_level("district")
    lines = [f"期间 {period.label}；✔ 达标  ✘ 未达标  — 无数据"]
    for d in districts:
        values = compute(ctx.store, ctx.cfg, ctx.results["rulebook"], period, org=d["code"], now=ctx.now)
        cells = [f"{v.code} {percent(v.value, v.target)}{_mark(v.passed)}" for v in values]
        lines.append(f"{d['name']}（{d['code']}）：" + "  ".join(cells))
    return lines


def _mark(passed: bool | None) -> str:
    if passed is None:
        return ""
    return {True: "✔", False: "✘"}.get(passed, "")


def monthly_bulletin_step(ctx: DemoContext) -> list[str]:
    """The monthly bulletin (月通报, DB50/T 957.7 §4.2 c) of this month to date, and where it is.

    The scheduler issues last month's; the demo's only scan ran today, so last month's bulletin could
    only say that no scan ran in its period, while this month's counts what the scan found."""
    rulebook = ctx.results.get("rulebook") or load_configured(ctx.cfg, ctx.store)
    period = Period.containing("month", ctx.now.astimezone(ctx.cfg.tz).date())
    result = build_report(ctx.store, ctx.cfg, rulebook, "monthly", period, now=ctx.now, out_dir=ctx.dir / "reports")
    ctx.results["monthly_report"] = str(result.html_path)
    return [*result.text.splitlines()[:-1], f"月度通报已写入：{result.html_path}（用浏览器打开，可直接打印 A4）"]


STEPS: tuple[DemoStep, ...] = (
    DemoStep("生成样例数据", sample_step),
    DemoStep("导入数据", import_step),
    DemoStep("日扫描", scan_step),
    DemoStep("问题清单（按条款与严重程度）", findings_step),
    DemoStep("P1–P9 指标（各区县，本月至今）", indicators_step),
    DemoStep("数据概况", summary_step),
    DemoStep("月度通报（本月至今）", monthly_bulletin_step),
)
