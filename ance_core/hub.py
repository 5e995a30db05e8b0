"""Where jobs find Hugging Face models: one rule, shared by the jobs, the pre-flight and `ance model fetch`.

Compute nodes run offline (`HF_HUB_OFFLINE=1`), so a hub name such as
`roberta-base` must already be in the cache the job reads. That cache is

    resources.hf_home   (an experiment or the site file: launcher's site.yaml)
    else $HF_HOME       (of the process asking: the submitting shell, or the job)
    else Hugging Face's default, $XDG_CACHE_HOME/huggingface (~/.cache/huggingface)

The launcher writes the result into every job (`export HF_HOME=...`), so a job
looks exactly where the pre-flight looked.
"""

from __future__ import annotations

import os
from pathlib import Path

# What a model folder needs for load_encoder (ance_core.model.loading): its config, weights, tokenizer.
CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def job_hf_home(hf_home: str | None = None) -> Path:
    """The HF_HOME a job uses: `hf_home` (resources.hf_home) if given, else $HF_HOME, else HF's default."""
    if hf_home:
        return Path(hf_home).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"


def hub_cache_dir(hf_home: str | Path) -> Path:
    """The hub cache inside an HF_HOME (what huggingface_hub calls HF_HUB_CACHE)."""
    return Path(hf_home) / "hub"


def cached_model_dir(name: str, hf_home: str | Path) -> Path | None:
    """The snapshot folder of hub model `name` in the cache under `hf_home`, if it is there with config and
    weights; None otherwise. Never touches the network (what a job with HF_HUB_OFFLINE=1 can see)."""
    from huggingface_hub import try_to_load_from_cache

    cache = str(hub_cache_dir(hf_home))
    config = try_to_load_from_cache(name, CONFIG_FILE, cache_dir=cache)
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    if not any(isinstance(try_to_load_from_cache(name, weights, cache_dir=cache), str) for weights in WEIGHT_FILES):
        return None
    return folder
