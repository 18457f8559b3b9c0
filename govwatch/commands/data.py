"""Data commands: import record files, write sample data, run the demo."""
from __future__ import annotations

import os
import sys


from ..cli import JSON, NOW, arg, command, emit_json, parse_now

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
    return line


@command("import", "import a record file (CSV, JSON, JSON Lines), or `all DIR` for a folder",
         arg("kind", help="record kind (orgs, officers, items, cases, …) or 'all'"),
         arg("file", help="the file to import (a folder for 'all')"),
         arg("--encoding", help="file encoding, e.g. gbk (default utf-8, with or without BOM)"),
         arg("--rejects-dir", help="folder for the rejects file (default: next to the input)"),
         JSON)
def import_cmd(ctx, ns):
    from checker import ingest
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


@command("sample", "write a realistic, deterministic sample data set (CSV) for every record kind",
         arg("--out", required=True, help="folder to write into"),
         arg("--cases", type=int, default=20000, help="number of cases (default 20000)"),
         arg("--seed", type=int, default=1, help="random seed (same seed and --now: same files)"),
         NOW, JSON)
def sample_cmd(ctx, ns):
    from checker.sample import write_sample
    now = parse_now(ns.now, ctx.config.tz)
    counts = write_sample(ns.out, now=now, cases=ns.cases, seed=ns.seed, tz=ctx.config.tz)
    if ns.json:
        emit_json({"out": ns.out, "now": now.isoformat(), "counts": counts})
    else:
        print("样例数据已写入 " + ns.out + "：" + "，".join(f"{k} {v}" for k, v in counts.items()))
    return 0


@command("demo", "run the demo: sample data → import → summary (more steps as they are added)",
         arg("--dir", default="./govwatch-demo", help="demo folder (default ./govwatch-demo)"),
         arg("--cases", type=int, default=20000, help="number of sample cases (default 20000)"),
         arg("--seed", type=int, default=1, help="random seed"),
         NOW)
def demo_cmd(ctx, ns):
    from checker.demo import run_demo
    now = parse_now(ns.now, ctx.config.tz)
    db = ns.db or os.path.join(ns.dir, "govwatch.db")
    run_demo(ctx.config, ns.dir, now=now, cases=ns.cases, seed=ns.seed, db=db, echo=print)
    return 0
