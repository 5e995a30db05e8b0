"""Site settings: what one cluster needs (account, partition, GPU type, image, ...) outside the tracked files.

The first of these files that exists is read (never several):

    $ANCE_SITE_FILE                               a file named explicitly
    ./site.yaml                                   the working directory (ignored by git)
    $XDG_CONFIG_HOME/ance-bundle/site.yaml        default ~/.config/ance-bundle/site.yaml

It holds `resources` fields only (docs/ARCHITECTURE.md, "Site file"); they are laid
over every experiment's `resources` after `extends:` and before `--set`, so an
experiment file never has to be edited for a cluster and `--set` still wins.
When the site names an `image` and no `runtime`, the runtime is `apptainer`.
Relative `image` and `hf_home` paths are relative to the site file's folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ance_core.config.schema import ResourcesConfig
from ance_core.errors import InputError, Problem

SITE_FILE = "site.yaml"
SITE_ENV = "ANCE_SITE_FILE"
# The resources fields a site may set: where and how jobs run, never what they compute.
SITE_FIELDS = (
    "executor", "account", "partition", "qos", "gpu_type", "constraint", "mail_user", "mail_type", "sbatch",
    "runtime", "image", "hf_home", "modules", "binds",
)
_PATH_FIELDS = ("image", "hf_home")


def site_file_candidates(cwd: str | Path | None = None) -> list[Path]:
    """Where a site file is looked for, in order."""
    if os.environ.get(SITE_ENV):
        return [Path(os.environ[SITE_ENV]).expanduser()]
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [Path(cwd or os.getcwd()) / SITE_FILE, config_home / "ance-bundle" / SITE_FILE]


def find_site_file(cwd: str | Path | None = None) -> Path | None:
    candidates = site_file_candidates(cwd)
    if os.environ.get(SITE_ENV) and not candidates[0].is_file():
        raise InputError.single(candidates[0], "file", f"an existing site file (named by ${SITE_ENV})", "no such file", raw=True)
    return next((path for path in candidates if path.is_file()), None)


def load_site(path: str | Path) -> dict[str, Any]:
    """The `resources` values of a site file, checked against the schema; errors name the file and field."""
    from ance_core.config.loader import read_yaml_mapping
    from ance_core.config.problems import problem_from

    path = Path(path)
    data = read_yaml_mapping(path)
    unknown = sorted(set(data) - set(SITE_FIELDS))
    if unknown:
        raise InputError(path, [Problem(name, f"one of the site fields {', '.join(SITE_FIELDS)}", "an unknown field")
                                for name in unknown])
    try:
        ResourcesConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(path, [problem_from(err) for err in exc.errors()]) from None
    values = dict(data)
    for name in _PATH_FIELDS:
        if isinstance(values.get(name), str):
            candidate = Path(values[name]).expanduser()
            values[name] = str(candidate if candidate.is_absolute() else (path.parent / candidate).resolve())
    if values.get("image") and "runtime" not in values:
        values["runtime"] = "apptainer"  # the image is the product's way of running stages
    return values


def site_resources(cwd: str | Path | None = None) -> tuple[Path | None, dict[str, Any]]:
    """(the site file read or None, its resources values) for the working directory `cwd`."""
    path = find_site_file(cwd)
    return (path, load_site(path)) if path else (None, {})
