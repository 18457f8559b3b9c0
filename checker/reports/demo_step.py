"""The last demo step: write the monthly bulletin (月通报, DB50/T 957.7 §4.2 c) and say where it is."""
from __future__ import annotations

from ..demo import DemoContext, demo_step


@demo_step(200, "月度通报")
def monthly_bulletin_step(ctx: DemoContext) -> list[str]:
    from . import build_report
    result = build_report(ctx.store, ctx.cfg, _rulebook(ctx), "monthly", now=ctx.now, out_dir=ctx.dir / "reports")
    ctx.results["monthly_report"] = str(result.html_path)
    return [*result.text.splitlines()[:-1], f"月度通报已写入：{result.html_path}（用浏览器打开，可直接打印 A4）"]


def _rulebook(ctx: DemoContext):
    """The rulebook an earlier step loaded, else the configured packs."""
    if ctx.results.get("rulebook") is not None:
        return ctx.results["rulebook"]
    from ..rules import load_configured
    return load_configured(ctx.cfg)
