"""One bench at a time in an --out folder: two benches sharing one work folder once left a malformed
daily.db (each copied, touched and removed the other's files). A run holds an exclusive lock on
OUT/.lock (fcntl.flock, not blocking); a second bench on the same folder stops at once. The kernel
drops the lock when its process ends, however it ends, so a killed bench leaves no stale lock."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK = ".lock"


class FolderBusy(Exception):
    """Another process holds the folder's lock."""

    def __init__(self, folder: Path, holder: str):
        self.folder, self.holder = folder, holder
        who = f"process {holder}" if holder else "another process"
        super().__init__(f"another bench is running in {folder} ({who} holds {folder / LOCK}); two benches "
                         "sharing one work folder overwrite each other's stores. Wait for it to finish, "
                         "or give this one another --out.")


@contextmanager
def holding(folder: Path) -> Iterator[None]:
    """The exclusive lock of `folder` (made if missing) for the `with` block; FolderBusy at once when
    another process holds it. The lock file keeps the holder's pid, for the message; it is never
    removed (a removed file would let a third bench lock a new one beside a running second)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)      # not inherited by the step processes
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(folder, os.pread(fd, 32, 0).decode(errors="replace").strip()) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
