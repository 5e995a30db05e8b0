"""`manifest.json`: what produced a stage's outputs (config hash, versions, git SHA, container)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from ance_core import __version__
from ance_core.io.atomic import write_json


@lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The bundle's commit: baked into the image as ANCE_GIT_SHA, else asked of git."""
    if sha := os.environ.get("ANCE_GIT_SHA"):
        return sha
    repo = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def container_info() -> dict[str, Any] | None:
    """Image path and labels when running inside Apptainer/Singularity."""
    image = os.environ.get("APPTAINER_CONTAINER") or os.environ.get("SINGULARITY_CONTAINER")
    if not image:
        return None
    info: dict[str, Any] = {"image": image}
    labels = Path("/.singularity.d/labels.json")
    if labels.is_file():
        try:
            info["labels"] = json.loads(labels.read_text())
        except ValueError:
            pass
    return info


def build_manifest(stage: str, config_hash: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "stage": stage,
        "config_hash": config_hash,
        "package_version": __version__,
        "git_sha": git_sha(),
        "container": container_info(),
        "host": platform.node(),
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }


def write_manifest(directory: str | Path, stage: str, config_hash: str | None = None, **extra: Any) -> Path:
    path = Path(directory) / "manifest.json"
    write_json(path, build_manifest(stage, config_hash, **extra))
    return path
