"""Run half of a Python-bound job in a forked child: the scan's second core.

The scan's record evaluation (derived fields, engine, messages) holds the GIL, so threads cannot
share it; a child made by fork() can, with no start-up cost and the parent's memory (the records,
the compiled rules, the calendars) already in place. The child computes `fn(second half)` and sends
the result back through a pipe as JSON (`encode` makes it plain data; no pickle: what crosses a
process boundary is data, never code); it touches no SQLite connection, file or lock of the parent,
and ends with os._exit, so nothing of the parent is closed or flushed twice. If the child fails or
does not answer in time, the parent computes that half itself: forking changes speed, never results.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import selectors
import signal
import time
from typing import Callable, Sequence

log = logging.getLogger(__name__)

MIN_ITEMS = 10000          # below this, one core is quicker than a fork and the transfer
TIMEOUT = 600.0            # seconds the parent waits for the child's half


def available() -> bool:
    """fork() exists and this process may run on more than one CPU."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return hasattr(os, "fork") and cpus > 1


def halves(fn: Callable[[Sequence], list], items: Sequence, *, encode=None, decode=None,
           min_items: int | None = None, timeout: float = TIMEOUT) -> list:
    """fn(items[:h]) + fn(items[h:]), the second half computed in a forked child when worth it
    (`items`: anything with len() and slices, such as a list or checker.scan.Batch).
    `encode` turns the child's result into plain JSON data, `decode` turns that back."""
    if len(items) < max(2, MIN_ITEMS if min_items is None else min_items) or not available():
        return fn(items)
    h = len(items) // 2
    child = _start(lambda part: (encode or _same)(fn(part)), items[h:])
    first = fn(items[:h])
    second = _result(child, timeout)
    return first + ((decode or _same)(second) if second is not None else fn(items[h:]))


def _same(value):
    return value


def _start(fn, part) -> tuple[int, int]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child: compute, send, leave without cleanup
        gc.disable()        # collecting the parent's garbage could close its SQLite connection from here
        os.close(read)
        code = 0
        try:
            payload = json.dumps(fn(part), ensure_ascii=False).encode()
        except BaseException:                      # noqa: BLE001 (the parent computes this half again)
            payload, code = b"", 1
        _write_all(write, payload)
        os._exit(code)
    os.close(write)
    return pid, read


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)


def _result(child: tuple[int, int], timeout: float):
    """The child's result, or None when it failed or timed out (it is killed and reaped either way)."""
    pid, read = child
    data = _read_all(read, time.monotonic() + timeout)
    if data is None:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if data is None or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        log.warning("forked half failed (wait status %s): computing it in this process", status)
        return None
    return json.loads(data)


def _read_all(fd: int, deadline: float) -> bytes | None:
    chunks = []
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0 and sel.select(left):
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        return None
    finally:
        os.close(fd)
