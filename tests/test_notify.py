"""The notification pipeline: routing, digests, escaping, quiet hours, silences, retries, at-least-once."""
from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from checker import findings as findings_mod
from checker import notify
from checker.notify import PermanentError, RetryableError
from bot.notifiers.console import ConsoleNotifier
from bot.notifiers.telegram import TelegramFormatter
from checker.store import Store

from botworld import DAY, Rule, fire, seed

pytestmark = pytest.mark.both_stores  # every test on SQLite and on PostgreSQL (conftest)

OVERDUE = Rule("db33.case.overdue")
NEAR = Rule("db33.case.near_due")


class Crash(BaseException):
    """The process dies (not an exception any stage handles)."""


class Recorder:
    """A Telegram-shaped channel whose network edge records what would reach each chat; can fail on demand."""
    channel = "telegram"
    formatter = TelegramFormatter()

    def __init__(self, failures=()):
        self.sent: list[tuple] = []
        self.failures = list(failures)

    def address(self, officer):
        return officer.get("telegram_id")

    async def send(self, message):
        chat_id, text_html, buttons = message.address, message.text, [list(b) for b in message.buttons]
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Crash):
                self.sent.append((chat_id, text_html, buttons))   # it went out, then the process died
            raise failure
        self.sent.append((chat_id, text_html, buttons))
        return f"m{len(self.sent)}"

    def to(self, chat_id):
        return [text for c, text, _ in self.sent if c == chat_id]


@pytest.fixture
def world(store, cfg, tmp_path):
    seed(store, cfg, tmp_path)
    return store


def deliver(store, cfg, notifier, now=DAY):
    return asyncio.run(notify.deliver_pending(store, cfg, notifier, now))


def test_route_is_idempotent_and_tells_the_assignee(world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "办件 C001 已超期", "E1")])
    assert notify.route_now(world, cfg, DAY) == 1
    assert notify.route_now(world, cfg, DAY) == 0
    world.conn.execute("DELETE FROM meta WHERE key = 'route_cursor'")     # cursor lost: no duplicate either
    assert notify.route_now(world, cfg, DAY) == 0
    rows = world.outbox()
    assert [(r["recipient"], r["kind"], r["dedup_key"].split(":")[1]) for r in rows] == [("E1", "new", "E1")]


def test_an_alert_cites_the_clause_and_offers_ack_and_rectify(world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "办件 C001 已超期 2 个工作日", "E1")])
    rec = Recorder()
    result = deliver(world, cfg, rec)
    assert result.sent == 1 and result.messages == 1
    chat, text, buttons = rec.sent[0]
    assert chat == 1001
    assert "依据 DB33/T 2036.7 §5.2.1.5" in text and "办件 C001 已超期 2 个工作日" in text
    fid = world.outbox()[0]["finding_id"]
    assert buttons == [[(f"确认收到 #{fid}", f"ack:{fid}"), (f"提交整改 #{fid}", f"rect:{fid}")]]   # each names its finding
    assert deliver(world, cfg, rec).sent == 0                     # never twice
    assert world.outbox()[0]["status"] == "sent" and world.outbox()[0]["message_ref"] == "m1"


def test_several_findings_go_out_as_one_digest(world, cfg):
    fire(world, cfg, [(OVERDUE, f"C{i:03}", f"办件 C{i:03} 已超期", "E1") for i in range(1, 4)])
    rec = Recorder()
    deliver(world, cfg, rec)
    assert len(rec.to(1001)) == 1
    assert all(f"办件 C{i:03} 已超期" in rec.to(1001)[0] for i in range(1, 4))
    assert len(rec.sent[0][2]) == 3                                # a button row per finding …
    fids = [r["finding_id"] for r in world.outbox()]
    assert {label for row in rec.sent[0][2] for label, _ in row} == {   # … each button naming its finding
        f"{verb} #{fid}" for fid in fids for verb in ("确认收到", "提交整改")}


def test_a_long_digest_pages_under_4096_between_entries(world, cfg):
    long = "超期说明" * 250                                          # 1,000 characters each
    fire(world, cfg, [(OVERDUE, f"C{i:03}", f"办件 C{i:03}：{long}", "E1") for i in range(1, 10)])
    rec = Recorder()
    deliver(world, cfg, rec)
    assert len(rec.to(1001)) == 1                                  # one message, paged in place (上一页/下一页)
    from checker.notify import page_of_message
    ref = world.outbox()[0]["message_ref"]
    texts, index = [], 0
    while True:
        text, buttons = page_of_message(world, Recorder.formatter, "E1", "张三", ref, index, 10)
        texts.append(text)
        if buttons[-1][-1][0] != "下一页":
            break
        index += 1
    assert texts[0] == rec.to(1001)[0] and len(texts) > 1
    assert all(len(t.encode("utf-16-le")) // 2 <= 4096 for t in texts)
    for t in texts:                                                # every entry whole, tags balanced
        assert t.count("<b>") == t.count("</b>")
        assert t.count("依据 DB33/T 2036.7") == len(re.findall(r"办件 C\d{3}：", t))
    assert sorted(re.findall(r"办件 (C\d{3})：", "".join(texts))) == [f"C{i:03}" for i in range(1, 10)]
    assert {r["status"] for r in world.outbox()} == {"sent"}


def test_data_is_html_escaped(world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "<script>alert(1)</script> & <b>", "E1")])
    rec = Recorder()
    deliver(world, cfg, rec)
    text = rec.sent[0][1]
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in text


def test_quiet_hours_let_only_red_through(world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "红色超期", "E1"), (NEAR, "C002", "黄色临期", "E1")])
    night = DAY.replace(hour=22)
    rec = Recorder()
    result = deliver(world, cfg, rec, now=night)
    assert result.deferred == 1
    assert len(rec.sent) == 1 and "红色超期" in rec.sent[0][1] and "黄色临期" not in rec.sent[0][1]
    assert deliver(world, cfg, rec, now=night + timedelta(hours=9)).sent == 0    # 07:00 still quiet
    deliver(world, cfg, rec, now=(night + timedelta(hours=10)))                 # 08:00 quiet end
    assert "黄色临期" in rec.sent[-1][1]


def test_a_silence_on_an_ancestor_org_keeps_alerts_silenced(world, cfg):
    world.add_silence("db33.case.*", "330102", DAY.isoformat(), (DAY + timedelta(days=1)).isoformat(),
                      "系统迁移", "A1")
    fire(world, cfg, [(OVERDUE, "C001", "超期", "E1")])
    rec = Recorder()
    assert deliver(world, cfg, rec).silenced == 1
    assert rec.sent == []
    assert [r["status"] for r in world.outbox()] == ["silenced"]        # kept, not lost
    fire(world, cfg, [(OVERDUE, "C001", "超期", "E1"), (OVERDUE, "C900", "宁波超期", "E9", "330200")])
    deliver(world, cfg, rec, now=DAY + timedelta(days=2))
    assert len(rec.to(9001)) == 1                                        # other org not silenced


def test_a_retryable_error_then_success_sends_once(world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "超期", "E1")])
    rec = Recorder([RetryableError("429", retry_after=7)])
    first = deliver(world, cfg, rec)
    assert first.retried == 1 and rec.sent == []
    row = world.outbox()[0]
    assert row["status"] == "pending" and row["not_before"] == (DAY + timedelta(seconds=7)).isoformat()
    assert deliver(world, cfg, rec, now=DAY + timedelta(seconds=3)).sent == 0    # still backing off
    assert deliver(world, cfg, rec, now=DAY + timedelta(seconds=8)).sent == 1
    deliver(world, cfg, rec, now=DAY + timedelta(minutes=5))
    assert len(rec.sent) == 1


def test_a_permanent_error_fails_and_tells_the_supervisor(world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "超期", "E1")])
    rec = Recorder([PermanentError("Forbidden: bot was blocked by the user")])
    deliver(world, cfg, rec)
    officer_row = world.outbox(recipient="E1")[0]
    assert officer_row["status"] == "failed" and "blocked" in officer_row["last_error"]
    deliver(world, cfg, rec)
    assert len(rec.to(2001)) == 1 and "张三（E1）" in rec.to(2001)[0] and "未能送达" in rec.to(2001)[0]


def test_an_unbound_officer_is_reported_to_the_supervisor(world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "超期", "E2")])
    rec = Recorder()
    deliver(world, cfg, rec)                        # E2 has no id on any enabled channel: failed at once
    assert world.outbox(recipient="E2")[0]["status"] == "failed"
    assert "未绑定 Telegram" in world.outbox(recipient="E2")[0]["last_error"]
    deliver(world, cfg, rec)
    assert "李四（E2）" in rec.to(2001)[0]


def test_a_crash_between_send_and_record_sends_again_after_restart(world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "超期", "E1")])
    rec = Recorder([Crash()])
    with pytest.raises(Crash):
        deliver(world, cfg, rec)
    assert world.outbox()[0]["status"] == "sending"
    assert deliver(world, cfg, rec).sent == 0                # same session: in flight, not resent
    world.close()                                            # the crashed service is gone …
    restarted = Store(cfg.database)                          # … its claim with it: sent again at once
    try:
        assert deliver(restarted, cfg, rec).sent == 1        # at least once
        assert deliver(restarted, cfg, rec).sent == 0
    finally:
        restarted.close()
    assert len(rec.to(1001)) == 2


def test_a_submission_asks_the_supervisor_and_a_rejection_tells_the_officer(world, cfg):
    ids = fire(world, cfg, [(OVERDUE, "C001", "超期", "E1")])
    findings_mod.submit(world, ids["C001"], "E1", "已补办 & 归档", now=DAY)
    rec = Recorder()
    deliver(world, cfg, rec)
    assert "整改待复查" in rec.to(2001)[0] and "已补办 &amp; 归档" in rec.to(2001)[0]
    fid = ids["C001"]
    assert rec.sent[-1][2] == [[(f"复查通过 #{fid}", f"vp:{fid}"), (f"退回 #{fid}", f"vf:{fid}"),
                                (f"历史 #{fid}", f"hist:{fid}")]]                    # no evidence: no 证据 button
    assert "证据：未提供" in rec.to(2001)[0] and "最新扫描" in rec.to(2001)[0]
    findings_mod.verify(world, ids["C001"], "S1", passed=False, note="照片不清晰", now=DAY)
    deliver(world, cfg, rec)
    assert "整改被退回" in rec.to(1001)[-1] and "退回原因：照片不清晰" in rec.to(1001)[-1]


def test_an_alert_about_a_closed_finding_is_not_sent(world, cfg):
    fire(world, cfg, [(OVERDUE, "C001", "超期", "E1")])
    findings_mod.reconcile(world, cfg, 2, DAY, [], {OVERDUE.id: None})      # resolved before delivery
    rec = Recorder()
    deliver(world, cfg, rec)
    assert rec.sent == []
    assert world.outbox(recipient="E1")[0]["status"] == "obsolete"


def test_console_notifier_prints_what_would_be_sent(world, cfg, capsys):
    fire(world, cfg, [(OVERDUE, "C001", "超期", "E1")])
    deliver(world, cfg, ConsoleNotifier())
    out = capsys.readouterr().out
    assert "张三（E1）" in out and "依据 DB33/T 2036.7 §5.2.1.5" in out and "[确认收到 #" in out


def test_quiet_hours_wrap_midnight():
    from datetime import time
    assert notify.in_quiet_hours(time(23, 0), "20:00", "08:00")
    assert notify.in_quiet_hours(time(7, 59), "20:00", "08:00")
    assert not notify.in_quiet_hours(time(8, 0), "20:00", "08:00")
    assert notify.in_quiet_hours(time(13, 0), "12:00", "14:00")
    assert notify.quiet_end(DAY.replace(hour=21), "08:00") == DAY.replace(hour=8) + timedelta(days=1)


class SlowRecorder(Recorder):
    """Each send takes a while (a network round trip); remembers how many were in flight at once."""

    def __init__(self):
        super().__init__()
        self.in_flight = self.most = 0

    async def send(self, message):
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.02)
        self.in_flight -= 1
        return await super().send(message)


def test_recipients_are_sent_to_side_by_side_and_each_message_once(world, cfg):
    ids = fire(world, cfg, [(OVERDUE, "C001", "超期", "E1")])
    findings_mod.submit(world, ids["C001"], "E1", "已补办", now=DAY)       # the supervisor is asked to verify
    rec = SlowRecorder()
    result = deliver(world, cfg, rec)
    assert rec.most == 2 and len(rec.to(1001)) == 1 and len(rec.to(2001)) == 1
    assert result.messages == 2 and {r["status"] for r in world.outbox()} == {"sent"}
    assert deliver(world, cfg, rec).sent == 0


def test_an_indicator_alert_goes_out_only_for_its_latest_period(world, cfg):
    p5 = Rule("db33.indicator.p5")
    fire(world, cfg, [(p5, "P5:330102001:2026-09", "2026年9月按时办结率 80%", "E1"),
                      (p5, "P5:330102001:2026-10", "2026年10月按时办结率 85%", "E1"),
                      (p5, "P5:330200:2026-09", "宁波 2026年9月按时办结率 70%", "E9", "330200")])
    rec = Recorder()
    deliver(world, cfg, rec)
    assert "2026年10月按时办结率" in rec.to(1001)[0] and "2026年9月" not in rec.to(1001)[0]
    assert "宁波 2026年9月" in rec.to(9001)[0]                         # another org: its own latest period
    older = [r for r in world.outbox(recipient="E1") if r["status"] == "obsolete"]
    assert len(older) == 1 and older[0]["last_error"] == "同一指标已有更新一期的提醒"
    fire(world, cfg, [(p5, "P5:330102001:2026-08", "2026年8月按时办结率 60%", "E1")], scan_id=2)
    deliver(world, cfg, rec)                                           # an older period later: not sent either
    assert len(rec.to(1001)) == 1
