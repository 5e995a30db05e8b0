"""SIGUSR1 / SIGTERM: checkpoint at the next safe point, then exit 99 ("please requeue").

SLURM sends USR1 `resources.signal_seconds` before the time limit (the batch
script forwards it to the stage) and TERM on preemption. The handler only sets
a flag; the training loop looks at it after each optimizer step and between
refreshes, writes a checkpoint and raises `Requeue`, which the stage turns into
exit code 99. Re-running the same command resumes from that checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)

REQUEUE_EXIT_CODE = 99
STOP_SIGNALS = (signal.SIGUSR1, signal.SIGTERM)


class Requeue(Exception):
    """Raised after the checkpoint a stop signal asked for is written."""

    exit_code = REQUEUE_EXIT_CODE

    def __init__(self, step: int, signame: str):
        super().__init__(f"{signame}: checkpointed at step {step}; run the same command again to resume")
        self.step = step


class StopFlag:
    """Set by the handlers; `requested` is the signal's name or None."""

    def __init__(self) -> None:
        self.requested: str | None = None

    def __bool__(self) -> bool:
        return self.requested is not None

    def set(self, signame: str) -> None:
        self.requested = signame


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
