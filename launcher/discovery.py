"""Find and load experiment files: given paths, or a profile's folder `experiments/<profile>/`.

Files whose name starts with `_` are partial bases that experiments pull in
with `extends:`; they are not experiments themselves and are never submitted,
whether found in a folder or named on the command line (`experiments/msmarco-10/*.yaml`
includes `_base.yaml`): such a file is skipped with a note.

Every experiment is loaded with the site file's resources laid over it
(ance_core.config.site), so validate, submit, reproduce-all and the TUI see the
same experiment the jobs will run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ance_core.config import Experiment, load_experiments
from ance_core.config.site import site_resources
from ance_core.errors import InputError, Problem

log = logging.getLogger(__name__)

EXPERIMENT_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Loaded:
    source: Path
    experiment: Experiment | None
    error: InputError | None = None


def is_experiment_file(path: Path) -> bool:
    return path.suffix in EXPERIMENT_SUFFIXES and not path.name.startswith("_")


def experiment_files(paths: Iterable[str | Path]) -> list[Path]:
    """The experiment files named, folders expanded to their experiment files (sorted)."""
    paths = list(paths)
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and is_experiment_file(p))
            if not inside:
                raise InputError(path, Problem("folder", "experiment YAML files (not starting with '_')", "none"))
            found += inside
        elif path.is_file() and path.name.startswith("_"):
            log.info("%s: a base for extends:, not an experiment (its name starts with '_'): skipped", path)
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(path, Problem("path", "an experiment YAML file or a folder of them", "no such file or folder"))
    if not found:
        raise InputError(None, Problem("experiments", "at least one experiment file (names starting with '_' are bases)",
                                       ", ".join(str(p) for p in paths) or "none"))
    return found


def site_settings(cwd: str | Path | None = None) -> dict[str, Any]:
    """The site file's resources (ance_core.config.site), noted once when one is read."""
    path, values = site_resources(cwd)
    if path is not None:
        log.debug("site settings from %s: %s", path, ", ".join(sorted(values)))
    return values


def profile_folder(profile: str, experiments_dir: str | Path = "experiments") -> Path:
    folder = Path(experiments_dir) / profile
    if not folder.is_dir():
        available = sorted(p.name for p in Path(experiments_dir).iterdir() if p.is_dir()) if Path(experiments_dir).is_dir() else []
        raise InputError(folder, Problem("--profile", f"a folder of experiments, one of {available or 'none yet'}", repr(profile)))
    return folder


def load_all(files: Iterable[Path], overrides: list[str] | None = None, site: dict[str, Any] | None = None) -> list[Loaded]:
    """Load every file (with the site's resources: `site`, default the site file found from here);
    a bad one is reported with its error instead of stopping the others. A sweep file gives one
    item per window (ance_core.config.sweep), all with that file as their source."""
    site = site_settings() if site is None else site
    loaded = []
    for path in files:
        try:
            loaded += [Loaded(path, experiment) for experiment in load_experiments(path, overrides, site)]
        except InputError as exc:
            loaded.append(Loaded(path, None, exc))
    return loaded


def load_or_raise(files: Iterable[Path], overrides: list[str] | None = None,
                  site: dict[str, Any] | None = None) -> list[tuple[Path, Experiment]]:
    """Every file loaded, or one InputError listing the problems of every bad file."""
    loaded = load_all(files, overrides, site)
    errors = [item.error for item in loaded if item.error]
    if errors:
        if len(errors) == 1:
            raise errors[0]
        problems = [Problem(f"{err.file}: {p.where}", p.expected, p.found) for err in errors for p in err.problems]
        raise InputError("experiments", problems)
    return [(item.source, item.experiment) for item in loaded if item.experiment is not None]
