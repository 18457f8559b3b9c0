"""The demo pipeline: sample data → import → summary, and whatever steps others register.

A step is a function `step(ctx: DemoContext) -> str | list[str] | None` registered with
`@demo_step(order, name)`; steps run in `order` and what they return is printed under their name.
Steps defined in other `checker` modules (scan, findings, report …) are found by importing every
`checker` module before the run, the way Django's autodiscover finds admin modules.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from .records import CASE_STATUSES, KINDS


@dataclass(frozen=True)
class DemoStep:
    order: int
    name: str
    run: Callable[["DemoContext"], object]


STEPS: dict[str, DemoStep] = {}


def demo_step(order: int, name: str):
    """Register a demo step (a Chinese `name` is printed as its heading)."""
    def register(fn):
        STEPS[fn.__module__ + "." + fn.__qualname__] = DemoStep(order, name, fn)
        return fn
    return register


@dataclass
class DemoContext:
    """What steps share: config (database inside the demo folder), store, folder, clock, results."""
    cfg: object
    store: object
    dir: Path
    data_dir: Path
    now: datetime
    cases: int
    seed: int
    results: dict = field(default_factory=dict)     # step outputs others may read (e.g. "import")


def steps() -> list[DemoStep]:
    """Every registered step, after importing the `checker` modules that may define some."""
    _discover()
    return sorted(STEPS.values(), key=lambda s: (s.order, s.name))


def _discover() -> None:
    import checker
    for mod in pkgutil.iter_modules(checker.__path__):
        importlib.import_module(f"checker.{mod.name}")


def run_demo(cfg, folder, now: datetime, cases: int = 20000, seed: int = 1, db=None,
             echo: Callable[[str], None] = print) -> DemoContext:
    """Run every demo step on a database inside `folder` (or `db`), printing a Chinese account."""
    from .store import Store
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = dataclasses.replace(cfg, database=str(db or folder / "govwatch.db"))
    with Store(cfg.database, password_env=cfg.database_password_env) as store:
        ctx = DemoContext(cfg, store, folder, folder / "data", now, cases, seed)
        echo(f"效能监管助手演示：文件夹 {folder}，数据库 {cfg.database}，时间 {now.isoformat(timespec='minutes')}")
        for step in steps():
            _run_step(step, ctx, echo)
    return ctx


def _run_step(step: DemoStep, ctx: DemoContext, echo) -> None:
    started = time.monotonic()
    out = step.run(ctx)
    echo(f"\n== {step.name}（{time.monotonic() - started:.1f} 秒）")
    for line in [out] if isinstance(out, str) else out or []:
        echo(line)


@demo_step(10, "生成样例数据")
def sample_step(ctx: DemoContext) -> list[str]:
    from .sample import write_sample
    counts = write_sample(ctx.data_dir, now=ctx.now, cases=ctx.cases, seed=ctx.seed, tz=ctx.cfg.tz)
    ctx.results["sample"] = counts
    return [f"样例数据写入 {ctx.data_dir}：共 {sum(counts.values())} 条记录，{len(counts)} 类"]


@demo_step(20, "导入数据")
def import_step(ctx: DemoContext) -> list[str]:
    from .ingest import import_dir
    results = import_dir(ctx.store, ctx.cfg, ctx.data_dir)
    ctx.results["import"] = results
    return [f"{KINDS[r.kind].title}（{r.kind}）：新增 {r.inserted}，更新 {r.updated}，拒收 {r.rejected}"
            for r in results]


STATUS_NAMES = {"accepted": "已受理", "processing": "办理中", "suspended": "特别程序（暂停计时）",
                "closed": "已办结", "rejected": "不予受理/不予许可", "withdrawn": "已撤回"}


@demo_step(90, "数据概况")
def summary_step(ctx: DemoContext) -> list[str]:
    counts = ctx.store.counts()
    lines = ["记录数：" + "，".join(f"{KINDS[k].title} {n}" for k, n in counts.items())]
    by_status = {r["status"]: r["n"] for r in ctx.store.rows("SELECT status, count(*) AS n FROM cases GROUP BY status")}
    lines.append("办件状态：" + "，".join(f"{STATUS_NAMES[s]} {by_status.get(s, 0)}" for s in CASE_STATUSES))
    return lines


SEVERITY_NAMES = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}


@demo_step(30, "日扫描")
def scan_step(ctx: DemoContext) -> list[str]:
    from .rules import load_configured
    from .scan import run_scan
    rulebook = ctx.results["rulebook"] = load_configured(ctx.cfg)
    r = run_scan(ctx.store, ctx.cfg, rulebook, ctx.now)
    ctx.results["scan"] = r
    packs = "、".join(f"{p.number}（{len([x for x in rulebook.rules if x.standard == p.number])} 条规则）"
                     for p in rulebook.packs)
    chosen = ("按配置 packs 选择" if ctx.cfg.packs is not None else
              f"按配置 province（{ctx.cfg.province}）选择" if ctx.cfg.province else
              "未配置 province：执行全部规则包，浙江部署请设 province: zhejiang，重庆部署请设 province: chongqing")
    return [f"执行的规则包：{packs}（{chosen}）",
            f"扫描 #{r.scan_id}：评估 {r.evaluated} 项，新发现 {r.opened} 项，已消除 {r.resolved} 项，未关闭 {r.open} 项"]


@demo_step(40, "问题清单（按条款与严重程度）")
def findings_step(ctx: DemoContext) -> list[str]:
    rows = ctx.store.rows(
        """SELECT standard, clause, severity, count(*) AS n FROM findings
           WHERE status NOT IN ('resolved', 'verified') GROUP BY standard, clause, severity
           ORDER BY standard, n DESC""")
    lines = [f"{r['standard']} §{r['clause']}  {SEVERITY_NAMES.get(r['severity'], r['severity'])}  {r['n']} 项"
             for r in rows]
    return lines or ["未发现问题"]


@demo_step(50, "P1–P9 指标（各区县，本月至今）")
def indicators_step(ctx: DemoContext) -> list[str]:
    from .indicators import compute, percent
    from .periods import Period
    period = Period.containing("month", ctx.now.astimezone(ctx.cfg.tz).date())
    districts = ctx.store.rows("SELECT code, name FROM orgs WHERE level = 'district' ORDER BY code")
    lines = [f"期间 {period.label}；✔ 达标  ✘ 未达标  — 无数据"]
    for d in districts:
        values = compute(ctx.store, ctx.cfg, ctx.results["rulebook"], period, org=d["code"], now=ctx.now)
        cells = [f"{v.code} {percent(v.value, v.target)}{_mark(v.passed)}" for v in values]
        lines.append(f"{d['name']}（{d['code']}）：" + "  ".join(cells))
    return lines


def _mark(passed) -> str:
    return {True: "✔", False: "✘"}.get(passed, "")
