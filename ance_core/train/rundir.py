"""Run directories (docs/ARCHITECTURE.md, "Run directory"): where things are, STATUS.json, locks.

`<outputs.root>/<experiment>/seed<S>/` holds the resolved config, the manifest,
metrics.jsonl, checkpoints/, negatives/, refreshes/ and STATUS.json.
Re-running the same command finds the same folder and resumes; a folder made
from a different configuration is refused rather than mixed with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ance_core.config import Experiment, experiment_hash
from ance_core.errors import InputError
from ance_core.io.atomic import write_json, write_text
from ance_core.io.lock import exclusive  # noqa: F401 - the run folder's lock; callers import it from here
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
            identity: Callable[[Experiment], str] | None = None) -> None:
    """Create the folder, or check that an existing one belongs to this configuration: the same
    `identity` (default `run_identity`, the experiment's hash without scheduling-only resources;
    the warm-up key for a shared warm-up)."""
    identity = identity or run_identity
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


# Resources that say where and how a job is scheduled, not what it computes: a resubmission with
# another partition, account, time limit or image (a site file) resumes the same run.
SCHEDULING_FIELDS = (
    "executor", "runtime", "image", "partition", "account", "qos", "constraint", "gpu_type", "cpus", "mem", "time",
    "signal_seconds", "requeue", "shards", "modules", "binds", "mail_user", "mail_type", "sbatch", "hf_home",
    "prep", "warmup", "refresh0", "report",
)


def run_identity(experiment: Experiment) -> str:
    """The hash a run folder is kept by: the whole experiment but its scheduling-only resources."""
    dump = experiment.model_dump(mode="json")
    dump["resources"] = {k: v for k, v in dump["resources"].items() if k not in SCHEDULING_FIELDS}
    return experiment_hash(Experiment.model_validate(dump))


def run_finished(run_dir: Path, refreshes: int) -> bool:
    """A run that needs no job: STATUS.json says finished and every planned refresh 0..refreshes has a record."""
    return read_status(run_dir).get("state") == "finished" and not missing_refreshes(run_dir, refreshes)


def write_status(run_dir: Path, state: str, **fields: Any) -> None:
    write_json(run_dir / STATUS_FILE, {"state": state, **fields})


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}


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
