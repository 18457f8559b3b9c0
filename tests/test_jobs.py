"""Scheduled jobs: rule hot reload (all or nothing), delivery, reports on the cadence."""
from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from checker import findings as fnd
from checker.findings import Firing
from bot.app import build_application
from bot.notifiers.console import ConsoleNotifier
from scheduler.jobs import JOBS, enabled
from checker.rules.holder import RulesHolder
from scheduler.runner import Runtime
from scheduler.service import install

import shipped  # tests/shipped.py: the real rule packs

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 10, 9, 10, 0, tzinfo=TZ)


def seed(store):
    store.db["orgs"].insert_all([{"code": "330100", "name": "杭州市", "parent": None, "level": "city"}])
    store.db["officers"].insert_all([
        {"id": "A1", "name": "管理员", "org": "330100", "role": "admin"},
        {"id": "O1", "name": "王一", "org": "330100", "role": "officer", "telegram_id": 101},
        {"id": "S0", "name": "周监", "org": "330100", "role": "supervisor"},
    ])


@pytest.fixture
def rules_copy(cfg, tmp_path):
    dst = tmp_path / "rules"
    shutil.copytree(cfg.rules_path(), dst, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return dst


def test_a_bad_rule_edit_is_refused_old_rules_stay_and_admins_are_told(cfg, store, rules_copy):
    seed(store)
    holder = RulesHolder.load(rules_copy)
    old = holder.rulebook
    rt = Runtime(cfg, holder, clock=lambda: NOW)
    f = rules_copy / "db33" / "online.yaml"
    good = f.read_text(encoding="utf-8")
    f.write_text(good.replace("    kind: record\n", "    kind: record\n    colour: red\n", 1), encoding="utf-8")

    assert rt.run_interval(JOBS["watch_rules"]) == (True, "规则修改有错误，未加载，继续使用原规则")
    assert holder.rulebook is old
    [notice] = store.outbox(recipient="A1")
    text = json.loads(notice["payload"])["text"]
    assert notice["kind"] == "notice" and "online.yaml" in text and "原有规则" in text
    assert store.outbox(recipient="O1") == []                       # only admins hear of it

    rt.run_interval(JOBS["watch_rules"])                           # the same bad file: told once
    assert len(store.outbox(recipient="A1")) == 1

    f.write_text(good.replace("title: 网上预约到期前未提醒", "title: 网上预约到期前未提醒（修订）"), encoding="utf-8")
    ok, detail = rt.run_interval(JOBS["watch_rules"])
    assert ok and detail.startswith("规则已重新加载")
    assert holder.rulebook is not old
    assert holder.rulebook.rule("db33.appointment.no_reminder").title == "网上预约到期前未提醒（修订）"


def test_unchanged_rules_are_not_reloaded(cfg, store, rules_copy):
    holder = RulesHolder.load(rules_copy)
    old = holder.rulebook
    assert Runtime(cfg, holder, clock=lambda: NOW).run_interval(JOBS["watch_rules"]) == (True, None)
    assert holder.rulebook is old


def test_deliver_job_routes_new_findings_and_sends_a_digest(cfg, store):
    seed(store)
    firing = Firing(rule=shipped.rule("db33.case.overdue"), subject="C001", subject_kind="cases", org="330100", message="办件 C001 已超期 1 个工作日",
                    due_at="2026-10-16T23:59:59+08:00", handler="O1", facts={"case_no": "C001"})
    fnd.reconcile(store, cfg, 1, NOW, [firing], {"db33.case.overdue": None})
    out = io.StringIO()
    rt = Runtime(cfg, rules=None, notifier=ConsoleNotifier(out), clock=lambda: NOW)
    asyncio.run(rt.fire("deliver"))
    assert "办件 C001 已超期 1 个工作日" in out.getvalue() and "DB33/T 2036.7 §5.2.1.5" in out.getvalue()
    assert [r["status"] for r in store.outbox(recipient="O1")] == ["sent"]


def test_monthly_bulletin_reports_the_previous_month(cfg, store, rules_copy, tmp_path):
    seed(store)
    cfg = dataclasses.replace(cfg, reports=dataclasses.replace(cfg.reports, out_dir=str(tmp_path / "out")))
    rt = Runtime(cfg, RulesHolder.load(rules_copy), clock=lambda: NOW)
    assert rt.run_slot(JOBS["monthly_bulletin"], datetime(2026, 10, 8, 9, 0, tzinfo=TZ)) == "ok"
    detail = store.job_run("monthly_bulletin", "2026-10")["detail"]
    assert detail.startswith("2026年9月报表")
    assert any((tmp_path / "out").rglob("*.html"))
    assert [r["kind"] for r in store.outbox(recipient="S0")] == ["report"]       # supervisors are told
    assert store.outbox(recipient="O1") == []


def test_with_a_bot_the_jobs_run_in_the_bots_job_queue_scheduler(cfg, monkeypatch, tmp_path):
    monkeypatch.setenv(cfg.telegram.token_env, "123456:TEST-TOKEN")
    holder = RulesHolder(tmp_path, None, "")
    app = build_application(cfg, rules=holder)
    install(app.job_queue.scheduler, cfg, holder)
    jobs = {j.id: j for j in app.job_queue.scheduler.get_jobs()}
    assert set(jobs) == {s.name for s in enabled(cfg)} | {"catch_up"}
    # python-telegram-bot's JobQueue.stop(wait=True) waits for what runs on its "default" executor
    assert {j.executor for j in jobs.values()} == {"default"}
    assert app.bot_data["rules"] is holder
