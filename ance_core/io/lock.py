"""Cross-process locks (flock): released by the kernel when the holder exits, even by SIGKILL.

Jobs on several nodes share one runs root, so a lock file lives next to what it
guards (`<entry>.lock`); on a file system without flock the work may be done
twice, never corrupted (every writer builds in a temporary folder and renames).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from ance_core.errors import StageError

log = logging.getLogger(__name__)


def lock_path_of(entry: Path) -> Path:
    """The lock file of a cache entry or folder: beside it, `<name>.lock`."""
    return entry.with_name(entry.name + ".lock")


@contextlib.contextmanager
def exclusive(lock_path: Path, what: str, wait: bool = False) -> Iterator[None]:
    """An flock held for the block.

    wait=False: fail at once when someone else holds it (two `ance run` on one
    folder); wait=True: queue behind them (jobs building the same cache entry).
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StageError(f"{what} is in use by another process (lock {lock_path})") from None
            if wait and exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                log.debug("no flock on %s: %s", lock_path, exc)  # see the module doc: duplicated work at worst
            else:
                raise
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def build_lock(entry: Path) -> Iterator[None]:
    """Wait for and hold the lock of a cache entry while building it (the next builder then finds it COMPLETE)."""
    with exclusive(lock_path_of(entry), f"cache entry {entry}", wait=True):
        yield
