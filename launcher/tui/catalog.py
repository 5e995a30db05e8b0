"""The experiments the TUI lists: every experiment file under the given folders, loaded and checked.

A file is checked as `ance-launch validate` checks it: the schema (through the
loader), then its paths resolved and every script of its submission rendered,
because a value the templates refuse (a `%` in a log path, a bad bind path) is
as much a reason not to submit as a schema error. Problems keep their field
path so the screen can point at the line that holds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ance_core.config import Experiment
from ance_core.errors import AnceError, InputError, Problem
from launcher import discovery
from launcher.plan import plan_study
from launcher.submit import choose_executor, resolve_all


@dataclass(frozen=True)
class ExperimentEntry:
    source: Path
    label: str  # the path shown: relative to the folder it was found in
    text: str  # the file as written, for the highlighted view
    experiment: Experiment | None  # None when it does not load; a sweep's first window
    problems: tuple[Problem, ...] = ()
    experiments: tuple[Experiment, ...] = ()  # every experiment of the file: one, or one per window of a sweep

    @property
    def ok(self) -> bool:
        return not self.problems


def find_files(folders: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(folder, file) of every experiment file at any depth below each folder, sorted.

    Profiles live in subfolders (`experiments/embedded/*.yaml`), so unlike
    `discovery.experiment_files` this descends; `_base.yaml` partials are left out.
    """
    found: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for folder in folders:
        if folder.is_file() and discovery.is_experiment_file(folder):
            candidates = [folder]
            folder = folder.parent
        elif folder.is_dir():
            candidates = sorted(p for p in folder.rglob("*") if p.is_file() and discovery.is_experiment_file(p))
        else:
            continue
        for path in candidates:
            if path.resolve() not in seen and not any(part.startswith(".") for part in path.relative_to(folder).parts):
                seen.add(path.resolve())
                found.append((folder, path))
    return found


def load_entry(folder: Path, path: Path, runs: str | None, workdir: str, overrides: list[str] | None = None) -> ExperimentEntry:
    label = str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return ExperimentEntry(path, label, "", None, (Problem("file", "a readable file", exc.strerror),))
    loaded = discovery.load_all([path], overrides)
    if loaded[0].error is not None:
        return ExperimentEntry(path, label, text, None, tuple(loaded[0].error.problems))
    experiments = tuple(item.experiment for item in loaded if item.experiment is not None)
    return ExperimentEntry(path, label, text, experiments[0], tuple(submission_problems(path, experiments, runs, workdir)),
                           experiments)


def submission_problems(source: Path, experiments: Iterable[Experiment], runs: str | None, workdir: str) -> list[Problem]:
    """What stops this file's submission (paths, rendering) beyond the schema; [] when nothing."""
    try:
        resolved = resolve_all([(source, experiment) for experiment in experiments], workdir, runs)
        plan_study(resolved, submission_id="validate", workdir=workdir, executor=choose_executor(None, resolved)).scripts()
    except InputError as exc:
        return list(exc.problems)
    except AnceError as exc:
        return [Problem("experiment", "a submittable experiment", str(exc))]
    return []


def scan(folders: Iterable[Path], runs: str | None, workdir: str) -> list[ExperimentEntry]:
    return [load_entry(folder, path, runs, workdir) for folder, path in find_files(folders)]


def key_settings(experiment: Experiment) -> dict[str, str]:
    """What tells experiments apart in the list: the segment (the study's question), data, model, GPUs."""
    data = experiment.data
    dataset = data.dataset if data.dataset.startswith("builtin:") else Path(data.dataset).name
    if data.subset is not None:
        dataset += f" {data.subset.fraction:.0%}"
    model = experiment.model.name
    model = Path(model).name if "/" in model else model
    res = experiment.resources
    gpus = f"{res.nodes}x{res.gpus}" if res.nodes > 1 else str(res.gpus)
    segment = experiment.ance.segment.describe()
    if experiment.sweep_point is not None:
        segment = f"sweep of {experiment.sweep_point.sweep}: " + segment.split(" of ")[0] + " per window"
    return {
        "segment": segment,
        "dataset": dataset,
        "model": model,
        "gpus": gpus,
        "executor": res.executor,
    }
