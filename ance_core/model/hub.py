"""Where Hugging Face hub models live on disk: one rule for `ance model fetch`, the stages and the pre-flight.

Compute nodes run with `HF_HUB_OFFLINE=1`, so a hub name such as `roberta-base`
must already be in the hub cache that the jobs read. The rule is Hugging Face's
own, read from the environment at call time (huggingface_hub reads it once, at
import): the cache is `$HF_HUB_CACHE` if set, else `<hf_home()>/hub`, where
`hf_home()` is `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else
`~/.cache/huggingface`. A folder given explicitly (`ance model fetch --cache DIR`)
plays the part of HF_HOME: files go to `DIR/hub`, and jobs find them with
`HF_HOME=DIR`. Jobs in the image (`resources.runtime: apptainer`) have the HF home
that containers/ance.def sets: `$ANCE_RUNS/.cache/huggingface`, ANCE_RUNS being
the experiment's `outputs.root` (`job_hub_cache`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ance_core.config import Experiment

# What a dual encoder needs from a hub repository: config, weights, tokenizer files.
# Loading (model/loading.py) and fetching download exactly this set.
MODEL_FILE_PATTERNS = ("*.json", "*.safetensors", "*.bin", "*.txt", "*.model")
# Inside the image every cache lives under "$ANCE_RUNS/.cache" (containers/ance.def, %environment).
IMAGE_CACHE = ".cache"


def hf_home() -> Path:
    """$HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface (expanded, not resolved)."""
    home = os.environ.get("HF_HOME")
    if home:
        return Path(os.path.expandvars(os.path.expanduser(home)))
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(os.path.expanduser(xdg)) / "huggingface"


def job_hub_cache(experiment: "Experiment") -> Path:
    """The hub cache the experiment's jobs read: in the image <outputs.root>/.cache/huggingface/hub
    (containers/ance.def), natively this environment's hub_cache()."""
    if experiment.resources.runtime == "apptainer":
        return Path(os.path.expanduser(experiment.outputs.root)).absolute() / IMAGE_CACHE / "huggingface" / "hub"
    return hub_cache()


def hub_cache(home: str | Path | None = None) -> Path:
    """The hub cache the jobs read: `home/hub` when a home is given, else $HF_HUB_CACHE, else hf_home()/hub."""
    if home is not None:
        return Path(os.path.expanduser(str(home))) / "hub"
    explicit = os.environ.get("HF_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(os.path.expanduser(explicit)))
    return hf_home() / "hub"


def download(repo_id: str, cache: str | Path | None = None, *, offline: bool | None = None) -> Path:
    """The local snapshot folder of `repo_id` in the hub cache `cache` (None: hub_cache()), downloading
    what is missing unless offline.

    offline None follows HF_HUB_OFFLINE (as the jobs do); True looks in the cache only. Raises
    huggingface_hub's errors (LocalEntryNotFoundError, RepositoryNotFoundError, ...).
    """
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(
        repo_id=repo_id, cache_dir=str(cache or hub_cache()), allow_patterns=list(MODEL_FILE_PATTERNS),
        local_files_only=bool(offline) if offline is not None else offline_from_env(),
    ))


def cached_snapshot(repo_id: str, cache: str | Path | None = None) -> Path | None:
    """The snapshot a job would load offline from `cache` (None: hub_cache()), or None when `repo_id`
    is not there: the pre-flight's check (with job_hub_cache(experiment))."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return download(repo_id, cache, offline=True)
    except LocalEntryNotFoundError:
        return None


def offline_from_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")
