"""SIGUSR1 / SIGTERM: checkpoint at the next safe point, then exit 99 ("please requeue").

SLURM sends USR1 `resources.signal_seconds` before the time limit (the batch
script forwards it to the stage) and TERM on preemption. The handler sets a
flag; the training loop looks at it after each optimizer step and between
refreshes, writes a checkpoint and raises `Requeue`, which the stage turns into
exit code 99. Re-running the same command resumes from that checkpoint.

A refresh (corpus encoding, mining, evaluation) can take longer than the
signal's lead time, so it runs `interruptible`: there the handler raises
`Interrupted` at once and the refresh is abandoned. Its outputs count only
once its record is written, so the resumed run simply does it again.

SIGKILL cannot be handled; what this module does about it is make the async
run's refresher child die with its parent (`die_with_parent`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)

REQUEUE_EXIT_CODE = 99
STOP_SIGNALS = (signal.SIGUSR1, signal.SIGTERM)
PARENT_PID_ENV = "ANCE_DIE_WITH_PARENT"  # set by a parent `ance run` for the child it starts
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Requeue(Exception):
    """Raised after the checkpoint a stop signal asked for is written."""

    exit_code = REQUEUE_EXIT_CODE

    def __init__(self, step: int, signame: str):
        super().__init__(f"{signame}: checkpointed at step {step}; run the same command again to resume")
        self.step = step


class Interrupted(BaseException):
    """A stop signal inside an `interruptible` block. A BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way (a refresh's failure handling, a library's) takes it for an error."""

    def __init__(self, signame: str):
        super().__init__(f"{signame}: abandoned")
        self.signame = signame


class StopFlag:
    """Set by the handlers; `requested` is the signal's name or None."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._interruptible = 0

    def __bool__(self) -> bool:
        return self.requested is not None

    def set(self, signame: str) -> None:
        self.requested = signame
        if self._interruptible:
            raise Interrupted(signame)


@contextlib.contextmanager
def interruptible(flag) -> Iterator[None]:
    """A block that a stop signal abandons at once (`Interrupted`), instead of at the next safe point.

    Only for work whose partial results do not count until it commits (a refresh: its record is
    written last, after the block). Flags other than StopFlag (tests' stand-ins) are looked at
    as usual, by the loop, after the block.
    """
    if not isinstance(flag, StopFlag):
        yield
        return
    if flag:
        raise Interrupted(flag.requested or "stop")
    flag._interruptible += 1
    try:
        yield
    finally:
        flag._interruptible -= 1


@contextlib.contextmanager
def stop_on_signals(flag: StopFlag | None = None) -> Iterator[StopFlag]:
    """Install the USR1/TERM handlers for the block (main thread only; elsewhere the flag stays unset)."""
    flag = StopFlag() if flag is None else flag
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame) -> None:
        name = signal.Signals(signum).name
        if not flag:
            log.warning("%s received: checkpointing at the next safe point, then exiting %d", name, REQUEUE_EXIT_CODE)
        flag.set(name)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def child_env() -> dict[str, str]:
    """The environment for a child that must not outlive this process (see `die_with_parent`)."""
    return {**os.environ, PARENT_PID_ENV: str(os.getpid())}


def die_with_parent() -> None:
    """In a child started with `child_env`: have the kernel SIGKILL it when its parent dies, however.

    The asynchronous run's refresher is a child of the trainer's `ance run`. Killed with SIGKILL (the
    OOM killer, `kill -9`), the trainer took no one with it: the refresher went on waiting for
    checkpoints, holding the run's refresher lock, so the resumed `ance run` could not start its own
    and failed. Whatever the refresher was writing is redone on resume (every write is atomic).
    Linux only (prctl); elsewhere a SIGKILLed parent still leaves the child behind.
    """
    parent = os.environ.pop(PARENT_PID_ENV, None)
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed (errno %d): this process may outlive its parent", ctypes.get_errno())
        return
    if os.getppid() != int(parent):  # the parent died before the prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)
