"""Run directories (docs/ARCHITECTURE.md, "Run directory"): where things are, STATUS.json, locks.

`<outputs.root>/<experiment>/seed<S>/` holds the resolved config, the manifest,
metrics.jsonl, checkpoints/, negatives/, refreshes/ and STATUS.json.
Re-running the same command finds the same folder and resumes; a folder made
from a different configuration is refused rather than mixed with.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from ance_core.config import Experiment, experiment_hash
from ance_core.errors import InputError, StageError
from ance_core.io.atomic import write_json, write_text
from ance_core.io.manifest import write_manifest

CONFIG_FILE = "config.yaml"
STATUS_FILE = "STATUS.json"
REFRESHES_DIR = "refreshes"
CACHE_DIR = "_cache"


def default_run_dir(experiment: Experiment, seed: int) -> Path:
    return Path(experiment.outputs.root) / experiment.name / f"seed{seed}"


def cache_root(experiment: Experiment) -> Path:
    return Path(experiment.outputs.root) / CACHE_DIR


def for_seed(experiment: Experiment, seed: int | None) -> tuple[Experiment, int]:
    """The experiment of one run: `seeds` narrowed to the chosen one (default: the first)."""
    if seed is None:
        seed = experiment.seeds[0]
    return experiment.model_copy(update={"seeds": [seed]}), seed


def prepare(run_dir: Path, experiment: Experiment, stage: str,
            identity: Callable[[Experiment], str] = experiment_hash) -> None:
    """Create the folder, or check that an existing one belongs to this configuration: the same
    `identity` (the whole experiment's hash; the warm-up key for a shared warm-up)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / CONFIG_FILE
    current = identity(experiment)
    if config_path.is_file():
        try:
            saved = Experiment.model_validate(yaml.safe_load(config_path.read_text(encoding="utf-8")))
        except Exception as exc:  # noqa: BLE001 - any unreadable config means "not ours"
            raise InputError.single(config_path, "document", "the resolved experiment this run was started with", str(exc).splitlines()[0], raw=True) from None
        if identity(saved) != current:
            raise InputError.single(
                config_path, "experiment", f"the same configuration as this run (hash {identity(saved)})",
                f"a different one (hash {current}); use another --out or the original config", raw=True,
            )
        return
    dump = experiment.model_dump(mode="json")
    write_text(config_path, yaml.safe_dump(dump, sort_keys=False))
    write_manifest(run_dir, stage, current, seed=experiment.seeds[0])


def write_status(run_dir: Path, state: str, **fields: Any) -> None:
    write_json(run_dir / STATUS_FILE, {"state": state, **fields})


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def exclusive(lock_path: Path, what: str, wait: bool = False) -> Iterator[None]:
    """An flock held for the block; released by the kernel even on SIGKILL.

    wait=False: fail at once when someone else holds it (two `ance run` on one
    folder); wait=True: queue behind them (strategies waiting for a shared warm-up).
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StageError(f"{what} is in use by another process (lock {lock_path})") from None
            raise
        yield
    finally:
        os.close(fd)


def refresh_record_path(run_dir: Path, refresh: int) -> Path:
    return run_dir / REFRESHES_DIR / f"refresh-{refresh}.json"


def read_refresh_record(run_dir: Path, refresh: int) -> dict[str, Any] | None:
    try:
        return json.loads(refresh_record_path(run_dir, refresh).read_text())
    except (OSError, ValueError):
        return None


def write_refresh_record(run_dir: Path, refresh: int, record: dict[str, Any]) -> None:
    write_json(refresh_record_path(run_dir, refresh), {"refresh": refresh, **record})


def missing_refreshes(run_dir: Path, refreshes: int) -> list[int]:
    """The planned refreshes 0..`refreshes` without a record: a run is finished only when there are none."""
    return [k for k in range(refreshes + 1) if read_refresh_record(run_dir, k) is None]
