"""`govwatch demo`: sample data, import and a Chinese summary, end to end on a temp folder."""
from __future__ import annotations

from datetime import datetime

from checker.tools import demo
from govwatch.cli import main


def test_demo_runs_end_to_end_and_prints_the_chinese_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)          # no config.yaml here: defaults
    folder = tmp_path / "govwatch-demo"
    assert main(["demo", "--dir", str(folder), "--cases", "300", "--now", "2026-10-14T09:00:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert (folder / "govwatch.db").is_file() and (folder / "data" / "cases.csv").is_file()
    assert "办件（cases）：新增 300，更新 0，拒收 0" in out
    assert "记录数：" in out and "办件 300" in out and "办件状态：" in out and "已办结" in out
    # the sample city is Hangzhou: with neither province nor packs set, its org codes (33…, GB/T 2260)
    # choose DB33/T 2036.7, and the demo says so; the findings are listed by clause and severity
    assert "执行的规则包：DB33/T 2036.7" in out and "机构编码均以 33 开头（GB/T 2260，浙江）" in out
    packs_line = next(line for line in out.splitlines() if "执行的规则包" in line)
    assert "DB50/T 957.7" not in packs_line and "警告" not in out
    assert "DB33/T 2036.7 §5.2.1.5  红色" in out           # overdue cases
    # P1–P9 for every district of the sample, and the monthly bulletin written
    assert out.count("P5 ") >= 5 and "月度通报已写入" in out
    # the bulletin covers the month the demo's scan ran in, so it counts what the scan found
    opened = int(out.split("新发现 ")[1].split(" 项")[0])
    assert opened > 0 and "本期内没有运行扫描" not in out
    assert (folder / "reports" / "monthly-2026-10.html").is_file()
    assert f"本期新发现问题 {opened} 项" in (folder / "reports" / "monthly-2026-10.html").read_text("utf-8")


def test_demo_uses_the_db_given(tmp_path, capsys):
    db = tmp_path / "elsewhere.db"
    assert main(["--db", str(db), "demo", "--dir", str(tmp_path / "d"), "--cases", "50",
                 "--now", "2026-10-14T09:00"]) == 0
    assert db.is_file() and not (tmp_path / "d" / "govwatch.db").exists()


def test_the_steps_run_in_the_order_listed(tmp_path, cfg):
    seen = []

    def probe(ctx):
        seen.append(ctx.store.count("cases"))
        return "探针已运行"

    steps = [*demo.STEPS[:2], demo.DemoStep("测试步骤", probe), *demo.STEPS[2:-1]]   # all but the bulletin
    lines = []
    demo.run_demo(cfg, tmp_path / "d", now=datetime(2026, 10, 14, 9, tzinfo=cfg.tz), cases=40, echo=lines.append,
                  steps=steps)
    assert seen == [40]                                   # after the import, before the scan
    headings = [line for line in lines if line.startswith("\n== ")]
    assert [h.split("（")[0].strip("\n= ") for h in headings] == [
        "生成样例数据", "导入数据", "测试步骤", "日扫描", "问题清单", "P1–P9 指标", "数据概况"]
