"""Find and load experiment files: given paths, or a profile's folder `experiments/<profile>/`.

Files whose name starts with `_` are partial bases that experiments pull in
with `extends:`; they are not experiments themselves and are never submitted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ance_core.config import Experiment, load_experiment
from ance_core.errors import InputError, Problem

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
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and is_experiment_file(p))
            if not inside:
                raise InputError(path, Problem("folder", "experiment YAML files (not starting with '_')", "none"))
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(path, Problem("path", "an experiment YAML file or a folder of them", "no such file or folder"))
    return found


def profile_folder(profile: str, experiments_dir: str | Path = "experiments") -> Path:
    folder = Path(experiments_dir) / profile
    if not folder.is_dir():
        available = sorted(p.name for p in Path(experiments_dir).iterdir() if p.is_dir()) if Path(experiments_dir).is_dir() else []
        raise InputError(folder, Problem("--profile", f"a folder of experiments, one of {available or 'none yet'}", repr(profile)))
    return folder


def load_all(files: Iterable[Path], overrides: list[str] | None = None) -> list[Loaded]:
    """Load every file; a bad one is reported with its error instead of stopping the others."""
    loaded = []
    for path in files:
        try:
            loaded.append(Loaded(path, load_experiment(path, overrides)))
        except InputError as exc:
            loaded.append(Loaded(path, None, exc))
    return loaded


def load_or_raise(files: Iterable[Path], overrides: list[str] | None = None) -> list[tuple[Path, Experiment]]:
    """Every file loaded, or one InputError listing the problems of every bad file."""
    loaded = load_all(files, overrides)
    errors = [item.error for item in loaded if item.error]
    if errors:
        if len(errors) == 1:
            raise errors[0]
        problems = [Problem(f"{err.file}: {p.where}", p.expected, p.found) for err in errors for p in err.problems]
        raise InputError("experiments", problems)
    return [(item.source, item.experiment) for item in loaded if item.experiment is not None]
