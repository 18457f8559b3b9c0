"""Data commands: import record files, write sample data, run the demo."""
from __future__ import annotations

import os
import shlex
import sys

from checker import ingest
from checker.periods import Period
from checker.tools.demo import run_demo
from checker.tools.sample import write_sample

from ..shell import JSON, NOW, arg, command, emit_json, parse_now

PROGRESS_MIN_BYTES = 4 << 20      # a progress line only for files this large, and only on a terminal


def _progress(path):
    """A progress printer on stderr for a large file on a terminal, else None."""
    try:
        large = os.path.getsize(path) >= PROGRESS_MIN_BYTES
    except OSError:
        return None
    if not (large and sys.stderr.isatty()):
        return None

    def show(rows: int, fraction: float) -> None:
        end = "\n" if fraction >= 1 else ""
        print(f"\r已读取 {rows:,} 行（{fraction:.0%}）", end=end, file=sys.stderr, flush=True)
    return show


def _summary_line(r) -> str:
    line = f"{r.kind}: 新增 {r.inserted}，更新 {r.updated}，拒收 {r.rejected}"
    if r.rejects_file:
        line += f"（拒收明细：{r.rejects_file}）"
    if r.ignored_columns:
        line += f"；未识别的列已忽略：{'、'.join(r.ignored_columns)}"
    if r.other_org_evaluations:
        line += (f"；提示：其中 {r.other_org_evaluations} 条评价所填办件的受理机构不是评价所填的机构，已照常导入，"
                 "但“一事一评”覆盖率 E1（DB50/T 957.7 §5.4.2 b）只计记在办件受理机构名下的评价，这些评价不计入其办件")
    return line


@command("import", "导入记录文件（CSV、JSON、JSON Lines），或用 all 文件夹 导入整个文件夹",
         arg("kind", help="记录类型（orgs、officers、items、cases……）或 all"),
         arg("file", help="要导入的文件（all 时为文件夹）"),
         arg("--encoding", help="文件编码，如 gbk（默认 UTF-8，可带 BOM）"),
         arg("--rejects-dir", help="拒收行文件的存放文件夹（默认：与输入文件同目录）"),
         JSON)
def import_cmd(ctx, ns):
    cfg, store = ctx.config, None
    if ns.kind == "all":
        ingest.folder_files(ns.file)
        store = ctx.store
        results = ingest.import_dir(store, cfg, ns.file, ns.encoding, ns.rejects_dir)
    else:
        ingest.record_kind(ns.kind)
        store = ctx.store
        results = [ingest.import_file(store, cfg, ns.kind, ns.file, ns.encoding, ns.rejects_dir,
                                      _progress(ns.file))]
    if ns.json:
        out = [r.as_json() for r in results]
        emit_json(out if ns.kind == "all" else out[0])
    else:
        for r in results:
            print(_summary_line(r))
    return 0


@command("sample", "生成一套可复现的样例数据（各类记录的 CSV）",
         arg("--out", required=True, help="写入的文件夹"),
         arg("--cases", type=int, default=20000, help="办件数（默认 20000）"),
         arg("--seed", type=int, default=1, help="随机种子（种子和 --now 相同则文件相同）"),
         NOW, JSON)
def sample_cmd(ctx, ns):
    now = parse_now(ns.now, ctx.config.tz)
    counts = write_sample(ns.out, now=now, cases=ns.cases, seed=ns.seed, tz=ctx.config.tz)
    if ns.json:
        emit_json({"out": ns.out, "now": now.isoformat(), "counts": counts})
    else:
        print("样例数据已写入 " + ns.out + "：" + "，".join(f"{k} {v}" for k, v in counts.items()))
    return 0


@command("demo", "运行演示：样例数据 → 导入 → 扫描 → 指标 → 月度通报",
         arg("--dir", default="./govwatch-demo", help="演示文件夹（默认 ./govwatch-demo）"),
         arg("--cases", type=int, default=20000, help="样例办件数（默认 20000）"),
         arg("--seed", type=int, default=1, help="随机种子"),
         NOW)
def demo_cmd(ctx, ns):
    now = parse_now(ns.now, ctx.config.tz)
    db = ns.db or os.path.join(ns.dir, "govwatch.db")
    result = run_demo(ctx.config, ns.dir, now=now, cases=ns.cases, seed=ns.seed, db=db, echo=print)
    print(next_steps(db, getattr(result, "results", {}).get("monthly_report"), now))
    return 0


def next_steps(db: str, report: str | None, now) -> str:
    """What to try after the demo, on the demo's database (periods: the last complete month and year)."""
    month = Period.containing("month", now.date()).previous()
    q = shlex.quote(str(db))
    steps = [(f"govwatch --db {q} findings --status open --limit 20", "未处理的问题"),
             (f"govwatch --db {q} findings --format xlsx --out 问题清单.xlsx", "导出问题清单"),
             (f"govwatch --db {q} indicators --period {month.start.year}年{month.start.month}月", "P1–P9 指标"),
             (f"govwatch --db {q} report monthly --format pdf,xlsx", "月度通报：A4 PDF 与 Excel"),
             (f"govwatch --db {q} report quarterly --format pdf", "季度分析报告"),
             (f"govwatch --db {q} index --period {month.start.year}", "效能指数排名"),
             (f"govwatch --db {q} schedule", "各定时任务的下次运行时间"),
             ("govwatch rules test", "规则包的 YAML 测试"),
             ("govwatch --help", "全部命令")]
    lines = ["", "== 接下来可以试试"]
    if report:
        lines.append(f"用浏览器打开 {report}（刚生成的月度通报）")
    lines += [f"  {cmd}    # {what}" for cmd, what in steps]
    return "\n".join(lines)
