"""Run a benchmark step in a fresh child process and collect its figures and peak memory."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class StepFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Run:
    """One child process: what the step returned, and the child's peak resident memory."""
    step: str
    out: dict
    peak_mb: float
    wall: float


@dataclass
class Runner:
    log_dir: Path
    echo: bool = True
    runs: list[Run] = field(default_factory=list)

    def step(self, name: str, **params) -> Run:
        """Run one step in a new interpreter; its stderr goes to <log_dir>/<step>.log."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "bench.worker", name, json.dumps(params, ensure_ascii=False)]
        start = time.perf_counter()
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
            stdout = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise StepFailed(f"step {name} failed (exit {proc.returncode}); see {self.log_dir / name}.log")
        run = Run(name, json.loads(stdout.decode().strip().splitlines()[-1]), usage.ru_maxrss / 1024,
                  time.perf_counter() - start)
        self.runs.append(run)
        if self.echo:
            print(f"  · {name:<13} {run.wall:7.1f} s wall  {run.peak_mb:6.0f} MB  {_brief(run.out)}", flush=True)
        return run

    def repeat(self, n: int, name: str, before=None, **params) -> "Series":
        """The step `n` times (each after `before()`, a setup not measured): a series of runs."""
        runs = []
        for _ in range(n):
            if before:
                before()
            runs.append(self.step(name, **params))
        return Series(runs)


@dataclass(frozen=True)
class Series:
    runs: list[Run]

    @property
    def seconds(self) -> float:
        return statistics.median(r.out["seconds"] for r in self.runs)

    @property
    def count(self) -> int:
        return int(statistics.median(r.out.get("count", 0) for r in self.runs))

    @property
    def rate(self) -> float | None:
        """Items a second (None when the step counts none)."""
        return self.count / self.seconds if self.count and self.seconds else None

    @property
    def peak_mb(self) -> float:
        return max(r.peak_mb for r in self.runs)

    def all(self, key: str) -> list:
        return [r.out.get(key) for r in self.runs]


def _brief(out: dict) -> str:
    keys = ("seconds", "count", "rejected", "open", "cases", "lost", "duplicated")
    return "  ".join(f"{k}={out[k]:.3f}" if isinstance(out[k], float) else f"{k}={out[k]}"
                     for k in keys if k in out)
