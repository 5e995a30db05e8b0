"""TensorBoard event files beside metrics.jsonl (`logging.tensorboard: true`), for `tensorboard --logdir runs/`.

A mirror, not a second log: every metrics.jsonl event with a step becomes
scalars, tag `<kind>[/<name>]/<field>` (`train/loss`, `eval/MRR@10`,
`baseline/bm25/MRR@10`), at the event's step and time. One writer per process
and run folder (the trainer and the refresher of an async run each write their
own file; TensorBoard merges them). When a resumed run rewinds metrics.jsonl to
step s, the next writer purges events after s, so the curves match the log.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

NOT_SCALARS = ("kind", "step", "time", "name")

_lock = threading.Lock()
_writers: dict[Path, Any] = {}
_purge_from: dict[Path, int] = {}


def scalars(event: dict[str, Any]) -> list[tuple[str, float]]:
    """(tag, value) of every finite number in the event (booleans are flags, not scalars)."""
    prefix = event["kind"] + (f"/{event['name']}" if isinstance(event.get("name"), str) else "")
    found = []
    for field, value in event.items():
        if field in NOT_SCALARS or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value):
            found.append((f"{prefix}/{field}", float(value)))
    return found


def mirror(directory: Path, event: dict[str, Any]) -> None:
    step = event.get("step")
    if isinstance(step, bool) or not isinstance(step, (int, float)):
        return
    values = scalars(event)
    if not values:
        return
    with _lock:
        writer = _writer(directory)
        for tag, value in values:
            writer.add_scalar(tag, value, global_step=int(step), walltime=event.get("time"))
        writer.flush()  # events are seconds apart at most: a job killed later loses none of them


def rewound(directory: Path, step: int) -> None:
    """metrics.jsonl was cut after `step`: the next event file hides later events of the earlier ones."""
    with _lock:
        writer = _writers.pop(directory.resolve(), None)
        if writer is not None:
            writer.close()
        _purge_from[directory.resolve()] = step + 1


def _writer(directory: Path):
    key = directory.resolve()
    if key not in _writers:
        from torch.utils.tensorboard import SummaryWriter

        _writers[key] = SummaryWriter(log_dir=str(key), purge_step=_purge_from.pop(key, None))
    return _writers[key]
