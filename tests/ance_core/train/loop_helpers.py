"""Running the loop on the tiny data from tests: in-process, and reading what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

from ance_core.config import load_experiment
from ance_core.io.atomic import sha256_file
from ance_core.train import distributed as D
from ance_core.loop.ance import run
from ance_core.train.rundir import default_run_dir, for_seed
from ance_core.train.signals import StopFlag


def run_loop(config: Path, stop=None, role: str = "all") -> Path:
    experiment, seed = for_seed(load_experiment(config), None)
    run_dir = default_run_dir(experiment, seed)
    run(experiment, seed, run_dir, role, D.DistInfo(), StopFlag() if stop is None else stop)
    return run_dir


def warm(config: Path) -> Path:
    """Train the (shared) warm-up first, so that a stop flag given to `run_loop` counts loop steps only."""
    from ance_core.loop.warmup import run_warmup

    experiment, seed = for_seed(load_experiment(config), None)
    return run_warmup(experiment, seed, D.DistInfo(), StopFlag())


def events(run_dir: Path, kind: str | None = None) -> list[dict]:
    found = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        event = json.loads(line)
        event.pop("time", None)
        if kind is None or event["kind"] == kind:
            found.append(event)
    return found


def final_hash(run_dir: Path, step: int) -> str:
    return sha256_file(run_dir / "checkpoints" / f"checkpoint-{step}" / "model.safetensors")


def comparable(run_dir: Path) -> list[dict]:
    """The events that must match an uninterrupted run's: all but timings (seconds, *_s), memory peaks (peak_*)
    and absolute paths."""
    out = []
    for event in events(run_dir):
        event = {k: v for k, v in event.items()
                 if k not in ("seconds", "checkpoint") and not k.endswith("_s") and not k.startswith("peak_")}
        out.append(event)
    return out
