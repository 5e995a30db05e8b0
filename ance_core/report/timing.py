"""Where a study's wall time went: warm-up, encode, search, sampling, training, evaluation.

Summed over every run directory under the runs folders (`ance report` prints it
after its tables, so the launcher's reproduce-all ends with it), from the
metrics.jsonl timings (docs/ARCHITECTURE.md, "metrics.jsonl events"):
* `train` events' `seconds` (time since the previous train event): training, or
  the warm-up's training in its `"phase": "warmup"` events;
* `refresh` events' `encode_s`, `search_s`, `sample_s`, `eval_s`, and
  `load_s` + `write_s` (loading the checkpoint and data, writing negatives).
A refresh logged twice (a resumed run) counts once: the later event.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ance_core.report.runs import METRICS_FILE, find_run_dirs, read_events

WORK = ("warm-up", "encode", "search", "sampling", "training", "evaluation", "refresh load + write")
_REFRESH_FIELDS = {"encode_s": "encode", "search_s": "search", "sample_s": "sampling", "eval_s": "evaluation",
                   "load_s": "refresh load + write", "write_s": "refresh load + write"}


def time_spent(roots: Iterable[str | Path]) -> dict[str, float]:
    """Wall seconds per kind of work (WORK order) over the runs under `roots`; empty when nothing was timed.

    A run's shared warm-up counts too, once, when the run names it (its `warmup_done`
    event's checkpoint is `<warm-up folder>/checkpoint-0`), as when a report is
    given the run folders of one submission rather than their runs root.
    """
    seconds = dict.fromkeys(WORK, 0.0)
    timed = False
    pending = [run_dir for root in roots for run_dir in find_run_dirs(root)]
    seen: set[Path] = set()
    while pending:
        run_dir = pending.pop(0)
        if run_dir.resolve() in seen:
            continue
        seen.add(run_dir.resolve())
        events, _ = read_events(run_dir / METRICS_FILE)
        refreshes: dict[int, dict] = {}
        for _, event in events:
            kind = event.get("kind")
            if kind == "train" and _is_seconds(event.get("seconds")):
                seconds["warm-up" if event.get("phase") == "warmup" else "training"] += event["seconds"]
                timed = True
            elif kind == "refresh" and isinstance(event.get("refresh"), int):
                refreshes[event["refresh"]] = event
            elif kind == "warmup_done" and isinstance(event.get("checkpoint"), str):
                warmup = Path(event["checkpoint"]).parent
                if (warmup / METRICS_FILE).is_file():
                    pending.append(warmup)
        for event in refreshes.values():
            for field, work in _REFRESH_FIELDS.items():
                if _is_seconds(event.get(field)):
                    seconds[work] += event[field]
                    timed = True
    return seconds if timed else {}


def render_time_spent(seconds: dict[str, float]) -> str:
    """A Markdown table: each kind of work, its wall time and its share of the total."""
    total = sum(seconds.values())
    lines = ["## Where the time went", "", "| work | wall time | share |", "| --- | ---: | ---: |"]
    for work, value in seconds.items():
        lines.append(f"| {work} | {_duration(value)} | {value / total:.1%} |" if total else f"| {work} | 0 s | – |")
    lines.append(f"| total | {_duration(total)} | |")
    return "\n".join(lines) + "\n"


def _is_seconds(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"
