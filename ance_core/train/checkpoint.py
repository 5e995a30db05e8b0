"""Training checkpoints: the encoder plus everything needed to continue bit for bit.

`checkpoints/checkpoint-<step>/` holds the encoder files (`write_encoder_files`:
safetensors, config, tokenizer, encoder.json) and `trainer_state.pt`: step,
optimizer, scheduler, grad scaler, the RNG states of every rank, and the data
position (which negatives file, epoch, offset). The folder is built under a
temp name and renamed into place after its `COMPLETE` marker (sha256 of every
file) is written, so a kill at any moment leaves the previous checkpoint whole
and never a folder that looks complete but is not.

Kept: the newest `keep_last`, the best by dev metric (`best.json`, written by
whoever evaluates), and any step claimed by a reader (`claim-<owner>` files:
the asynchronous refresher claims the checkpoint each refresh mines with, so
the trainer cannot prune it from under it, and a refresh abandoned on a stop
signal resumes with the same one).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ance_core.errors import StageError
from ance_core.io.atomic import atomic_dir, is_complete, remove_stale_temps, write_json, write_text
from ance_core.model import DualEncoder, write_encoder_files

log = logging.getLogger(__name__)

CHECKPOINTS_DIR = "checkpoints"
STATE_FILE = "trainer_state.pt"
BEST_FILE = "best.json"
STATE_FORMAT = 1
_NAME = re.compile(r"^checkpoint-(\d+)$")


# ---------------------------------------------------------------- RNG


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU and CUDA) generator states, in types `weights_only` loading accepts."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"name": np_state[0], "keys": torch.from_numpy(np_state[1].copy()), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy(), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- folders


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path

    @property
    def state_file(self) -> Path:
        return self.path / STATE_FILE


def checkpoint_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR / f"checkpoint-{step}"


def list_checkpoints(run_dir: str | Path) -> list[Checkpoint]:
    """Complete checkpoints (COMPLETE marker present), oldest first."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_dir() and is_complete(path):
            found.append(Checkpoint(int(match.group(1)), path))
    return sorted(found, key=lambda c: c.step)


def latest_checkpoint(run_dir: str | Path, at_most: int | None = None) -> Checkpoint | None:
    found = [c for c in list_checkpoints(run_dir) if at_most is None or c.step <= at_most]
    return found[-1] if found else None


def save_checkpoint(run_dir: str | Path, encoder: DualEncoder, state: dict[str, Any]) -> Checkpoint:
    """Write checkpoint-<state['step']> atomically (replacing an older copy of the same step)."""
    step = int(state["step"])
    path = checkpoint_dir(run_dir, step)
    with atomic_dir(path) as tmp:
        write_encoder_files(encoder, tmp)
        # Serialised in memory, written by Python: torch.save's own writer turns a full disk into a
        # RuntimeError ("unexpected pos"), Python's into the OSError (ENOSPC) the stages report.
        buffer = io.BytesIO()
        torch.save({"format": STATE_FORMAT, **state}, buffer)
        (tmp / STATE_FILE).write_bytes(buffer.getbuffer())
    log.debug("checkpoint %s written", path)
    return Checkpoint(step, path)


def load_state(checkpoint: Checkpoint, verify: bool = True) -> dict[str, Any]:
    """trainer_state.pt of a checkpoint, after checking the folder against its COMPLETE marker."""
    if verify and not is_complete(checkpoint.path, verify=True):
        raise StageError(f"{checkpoint.path}: files do not match its COMPLETE marker (damaged copy?); delete it to resume from the one before")
    if not checkpoint.state_file.is_file():
        raise StageError(f"{checkpoint.path}: no {STATE_FILE} (an encoder-only folder cannot be resumed from)")
    state = torch.load(checkpoint.state_file, map_location="cpu", weights_only=True)
    if state.get("format") != STATE_FORMAT:
        raise StageError(f"{checkpoint.state_file}: format {state.get('format')!r}, this version reads {STATE_FORMAT}")
    return state


# ---------------------------------------------------------------- best and pruning


def read_best(run_dir: str | Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(run_dir) / CHECKPOINTS_DIR / BEST_FILE).read_text())
    except (OSError, ValueError):
        return None


def record_eval(run_dir: str | Path, step: int, metric: str, value: float) -> bool:
    """Remember the checkpoint with the highest `metric`; True when `step` is the new best."""
    best = read_best(run_dir)
    if best is not None and best.get("metric") == metric and best["value"] >= value:
        return False
    write_json(Path(run_dir) / CHECKPOINTS_DIR / BEST_FILE, {"step": step, "metric": metric, "value": value})
    return True


@contextlib.contextmanager
def _pins_locked(run_dir: str | Path) -> Iterator[Path]:
    folder = Path(run_dir) / CHECKPOINTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".pins.lock", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        os.close(fd)


_CLAIM = "claim-"


def _claimed_step(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _claimed(folder: Path) -> set[int]:
    return {step for path in folder.glob(f"{_CLAIM}*") if (step := _claimed_step(path)) is not None}


def claim_checkpoint(run_dir: str | Path, owner: str, at_least: int) -> Checkpoint | None:
    """The checkpoint `owner` claimed before, if it is still whole; else the newest with step >= at_least
    (None if there is none yet), claimed now. A claim outlives the process and keeps its checkpoint from
    pruning until `release_claim`: work abandoned on a stop signal resumes with the same checkpoint."""
    with _pins_locked(run_dir) as folder:
        claim = folder / f"{_CLAIM}{owner}"
        step = _claimed_step(claim)
        found = next((c for c in list_checkpoints(run_dir) if c.step == step), None) if step is not None else None
        if found is None:
            found = latest_checkpoint(run_dir)
            if found is None or found.step < at_least:
                return None
            write_text(claim, str(found.step))
        return found


def release_claim(run_dir: str | Path, owner: str) -> None:
    with _pins_locked(run_dir) as folder:
        (folder / f"{_CLAIM}{owner}").unlink(missing_ok=True)


def prune_checkpoints(run_dir: str | Path, keep_last: int, protect: tuple[int, ...] = ()) -> list[int]:
    """Delete all but the newest `keep_last`, the best, claimed and protected steps; returns the deleted steps."""
    with _pins_locked(run_dir) as folder:
        remove_stale_temps(folder)
        found = list_checkpoints(run_dir)
        best = read_best(run_dir)
        keep = {c.step for c in found[-keep_last:]} | set(protect) | _claimed(folder)
        if best is not None:
            keep.add(int(best["step"]))
        deleted = []
        for checkpoint in found:
            if checkpoint.step not in keep:
                # Rename first: a folder is either whole with its marker or gone, never half deleted.
                trash = checkpoint.path.with_name(f".{checkpoint.path.name}.partial")
                checkpoint.path.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)
                deleted.append(checkpoint.step)
    return deleted
