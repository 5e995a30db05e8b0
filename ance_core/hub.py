"""Where jobs find Hugging Face hub models: one rule for the jobs, the pre-flight and `ance model fetch`.

Compute nodes run offline (`HF_HUB_OFFLINE=1`), so a hub name such as
`roberta-base` must already be in the cache the job reads. That cache is
`<HF home>/hub`, the HF home being

    resources.hf_home   (an experiment or the site file: ance_core/config/site.py)
    else $HF_HOME       (of the process asking: the submitting shell, or the job)
    else Hugging Face's default, $XDG_CACHE_HOME/huggingface (~/.cache/huggingface)

The launcher resolves it when it submits and writes it into every job
(`export HF_HOME=...`, native and in the image alike: containers/ance.def keeps an
HF_HOME the job passes in), so a job looks exactly where the pre-flight looked.
Every lookup here passes that folder to huggingface_hub explicitly, so an
`HF_HUB_CACHE` left in someone's environment cannot send a job elsewhere.
`ance model fetch --config EXP` fills the cache of the experiment's HF home,
`--cache DIR` the one of HF home DIR.

Torch-free: the launcher imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

# What a dual encoder needs from a hub repository: config, weights, tokenizer files.
# Fetching and loading take exactly this set.
MODEL_FILE_PATTERNS = ("*.json", "*.safetensors", "*.bin", "*.txt", "*.model")
CONFIG_FILE = "config.json"
# A model folder's weights, whole or sharded (with the index naming the shards).
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def job_hf_home(hf_home: str | Path | None = None) -> Path:
    """The HF home a job uses: `hf_home` (resources.hf_home) if given, else $HF_HOME, else HF's default."""
    if hf_home:
        return Path(os.path.expanduser(str(hf_home)))
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.path.expanduser(os.environ["HF_HOME"])))
    return Path(os.path.expanduser(os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"))) / "huggingface"


def hub_cache(hf_home: str | Path | None = None) -> Path:
    """The hub cache inside the job's HF home (job_hf_home(hf_home)): where hub models are downloaded to."""
    return job_hf_home(hf_home) / "hub"


def cached_model_dir(name: str, hf_home: str | Path | None = None) -> Path | None:
    """The snapshot folder of hub model `name` in the cache of HF home `hf_home` (job_hf_home's rule), if it
    is there with its config and weights; None otherwise. Never touches the network (what a job with
    HF_HUB_OFFLINE=1 can load): the pre-flight's check."""
    from huggingface_hub import try_to_load_from_cache

    cache = str(hub_cache(hf_home))
    config = try_to_load_from_cache(name, CONFIG_FILE, cache_dir=cache)
    if not isinstance(config, str):
        return None
    if not any(isinstance(try_to_load_from_cache(name, weights, cache_dir=cache), str) for weights in WEIGHT_FILES):
        return None
    return Path(config).parent


def download(name: str, hf_home: str | Path | None = None, *, offline: bool | None = None) -> Path:
    """The local snapshot folder of hub model `name` in the cache of HF home `hf_home` (job_hf_home's rule),
    downloading the files a dual encoder reads (MODEL_FILE_PATTERNS) that are missing, unless offline.

    offline None follows HF_HUB_OFFLINE (as the jobs do); True looks in the cache only. Raises
    huggingface_hub's errors (LocalEntryNotFoundError, RepositoryNotFoundError, ...).
    """
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(
        repo_id=name, cache_dir=str(hub_cache(hf_home)), allow_patterns=list(MODEL_FILE_PATTERNS),
        local_files_only=bool(offline) if offline is not None else offline_from_env(),
    ))


def offline_from_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")
