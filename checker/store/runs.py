"""SQL of the scheduler's run log (job_runs): one row per (job, slot), so a slot never runs twice,
even across processes. A row is `running` while its job runs, then `ok` or `failed`; a row left
`running` by a process that died is `abandoned`, and may be claimed again (once) to run the slot."""
from __future__ import annotations

from typing import Any

from .base import StoreBase


class RunStore(StoreBase):
    """job_runs: claim a slot, finish it, find what was missed or left behind."""

    def claim_run(self, job: str, slot: str, started_at: str, owner: str) -> int | None:
        """Take (job, slot): the row id when this caller won it, None when it is taken.

        An `abandoned` row is taken over; any other existing row means the slot already ran (or runs)."""
        with self.transaction() as c:
            cur = c.execute("""INSERT OR IGNORE INTO job_runs (job, slot, started_at, status, detail)
                               VALUES (?, ?, ?, 'running', ?)""", (job, slot, started_at, owner))
            if cur.rowcount:
                won: int | None = cur.lastrowid
                return won
            cur = c.execute("""UPDATE job_runs SET started_at = ?, finished_at = NULL, status = 'running',
                               detail = ? WHERE job = ? AND slot = ? AND status = 'abandoned'""",
                            (started_at, owner, job, slot))
            if not cur.rowcount:
                return None
            taken: int = c.execute("SELECT id FROM job_runs WHERE job = ? AND slot = ?", (job, slot)).fetchone()[0]
            return taken

    def finish_run(self, run_id: int, status: str, finished_at: str, detail: str | None) -> None:
        if status not in ("ok", "failed"):
            raise ValueError(f"not a final run status: {status}")
        with self.transaction() as c:
            c.execute("UPDATE job_runs SET status = ?, finished_at = ?, detail = ? WHERE id = ?",
                      (status, finished_at, detail, run_id))

    def running_runs(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM job_runs WHERE status = 'running' ORDER BY id")

    def abandon_run(self, run_id: int, finished_at: str, detail: str) -> bool:
        """Mark a `running` row abandoned (its process is gone); False when it finished meanwhile."""
        with self.transaction() as c:
            cur = c.execute("""UPDATE job_runs SET status = 'abandoned', finished_at = ?, detail = ?
                               WHERE id = ? AND status = 'running'""", (finished_at, detail, run_id))
            return bool(cur.rowcount)

    def job_run(self, job: str, slot: str) -> dict[str, Any] | None:
        return self.row("SELECT * FROM job_runs WHERE job = ? AND slot = ?", (job, slot))

    def has_job_runs(self, job: str) -> bool:
        """Whether the job ever claimed a slot (a job that never ran has nothing to catch up)."""
        return bool(self.scalar("SELECT EXISTS (SELECT 1 FROM job_runs WHERE job = ?)", (job,)) == 1)

    def job_runs(self, job: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest runs (of one job or all), newest first."""
        if job:
            return self.rows("SELECT * FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT ?", (job, limit))
        return self.rows("SELECT * FROM job_runs ORDER BY id DESC LIMIT ?", (limit,))

    def last_scan_now(self) -> str | None:
        """The `now` of the last completed scan (a later scan may not be earlier: checker.evaluate.scanclock)."""
        now: str | None = self.scalar("SELECT now FROM scans WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1")
        return now

    def latest_scan(self) -> dict[str, Any] | None:
        """id and `now` of the last completed scan, or None."""
        return self.row("SELECT id, now FROM scans WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1")

    def scan_span(self, start: str, end: str) -> tuple[str | None, str | None, int]:
        """(the earliest and the latest `now` of any scan, the number of scans with `now` in [start, end))."""
        first: str | None = self.scalar("SELECT min(now) FROM scans")
        last: str | None = self.scalar("SELECT max(now) FROM scans")
        n: int = self.scalar("SELECT count(*) FROM scans WHERE now >= ? AND now < ?", (start, end)) or 0
        return first, last, n
