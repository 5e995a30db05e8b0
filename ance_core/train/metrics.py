"""`metrics.jsonl`: one JSON event per line (docs/ARCHITECTURE.md, "metrics.jsonl events").

Every event is one `write` on a file opened with O_APPEND under an advisory
lock, so the trainer and the refresher of an asynchronous run can share the
file without interleaving; a last line torn by a kill is cut before the next
event is written. A run that resumes from the checkpoint at step s (s = 0
when a kill came before the first checkpoint was whole) first rewinds the log:
events after step s (the run will log them again) and lines torn by a kill are
dropped, so the log reads like one uninterrupted run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ance_core.io.atomic import write_text

METRICS_FILE = "metrics.jsonl"


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null rather than produce an unreadable line."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _drop_torn_tail(fd: int, chunk: int = 1 << 16) -> None:
    """Cut a last line that a kill left without its newline, so the next event starts a line.

    Without this, an event logged before anything is resumed (a warm-up's baselines, say) would
    be glued to the torn line and both would be lost to every reader.
    """
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        start = max(0, end - chunk)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            os.ftruncate(fd, start + newline + 1)
            return
        end = start
    os.ftruncate(fd, 0)


class MetricsLog:
    def __init__(self, path: str | Path, tensorboard: bool = False):
        """tensorboard: also write each event's numbers as TensorBoard scalars in the same folder."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tensorboard = tensorboard

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # A lock file beside the log, not the log itself: `rewind` replaces the log by a rename.
        fd = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"kind": kind, **{k: _clean(v) for k, v in fields.items()}, "time": round(time.time(), 3)}
        with self._locked():
            self._append(event)
        if self.tensorboard:
            from ance_core.train import tensorboard

            tensorboard.mirror(self.path.parent, event)
        return event

    def emit_once(self, kind: str, **fields: Any) -> bool:
        """Emit unless an event of this kind is logged already; False if one was. Looked up under the
        lock: the trainer and the refresher of an asynchronous run may both try (`warmup_done`)."""
        with self._locked():
            if self.events(kind):
                return False
            self._append({"kind": kind, **{k: _clean(v) for k, v in fields.items()}, "time": round(time.time(), 3)})
        return True

    def _append(self, event: dict[str, Any]) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _drop_torn_tail(fd)
            os.write(fd, (json.dumps(event) + "\n").encode())
        finally:
            os.close(fd)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every readable event (torn lines skipped), optionally of one kind."""
        if not self.path.is_file():
            return []
        found = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and (kind is None or event.get("kind") == kind):
                found.append(event)
        return found

    def rewind(self, step: int) -> int:
        """Drop events logged after `step` and torn lines; returns how many lines went."""
        if not self.path.is_file():
            return 0
        with self._locked():
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
            kept = []
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(event, dict):
                    continue
                event_step = event.get("step")
                if isinstance(event_step, (int, float)) and event_step > step:
                    continue
                kept.append(line)
            if len(kept) != len(lines):
                write_text(self.path, "".join(line + "\n" for line in kept))
        if self.tensorboard:
            from ance_core.train import tensorboard

            tensorboard.rewound(self.path.parent, step)
        return len(lines) - len(kept)
