"""One step of the benchmark in its own process: `python -m bench.worker STEP PARAMS_JSON`.

Steps register with @step(name). A step gets its params (a dict) and returns a dict, which the
worker prints as its last line (JSON); the parent takes the child's peak memory from os.wait4, so
every figure belongs to this step alone. Measured steps time only the operation itself
(`seconds`), not interpreter start-up, imports or copying the input store.
"""
from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from typing import Callable

STEPS: dict[str, Callable[[dict], dict]] = {}


def step(name: str):
    """Register a benchmark step (setup or measurement) under a name."""
    def register(fn):
        STEPS[name] = fn
        return fn
    return register


class Timer:
    seconds: float = 0.0


@contextmanager
def timed():
    """Time the block (perf_counter); read `.seconds` afterwards."""
    t = Timer()
    start = time.perf_counter()
    try:
        yield t
    finally:
        t.seconds = time.perf_counter() - start


def main(argv: list[str]) -> int:
    from . import delivery, steps, worker  # noqa: F401  (the steps register in bench.worker, not __main__)
    name, params = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    out = worker.STEPS[name](params)
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
