"""What the screens share: where experiments and runs are, the selected experiment, the script options."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from launcher.submit import current_workdir
from launcher.tui.catalog import ExperimentEntry
from launcher.tui.scripts import ScriptOptions

DEFAULT_RUNS = "runs"  # as `ance-launch status`


@dataclass
class Session:
    experiment_dirs: tuple[Path, ...]
    runs: str | None  # --runs: replaces every experiment's outputs.root, as in `ance-launch submit --runs`
    workdir: str  # relative paths resolve against it; jobs start in it
    entries: list[ExperimentEntry] = field(default_factory=list)
    selected: Path | None = None
    options: ScriptOptions = field(default_factory=ScriptOptions)
    last_submission: Path | None = None  # the jobs screen opens on it
    running_local: set[str] = field(default_factory=set)  # ids of local chains this process still runs

    @classmethod
    def create(cls, experiments: Sequence[str | Path], runs: str | None = None, workdir: str | None = None) -> "Session":
        workdir = workdir or current_workdir()
        dirs = tuple(cls._absolute(Path(p), workdir) for p in experiments)
        return cls(dirs, runs, workdir)

    @staticmethod
    def _absolute(path: Path, workdir: str) -> Path:
        path = path.expanduser()
        return path if path.is_absolute() else Path(workdir) / path

    def shown(self, path: Path | str) -> str:
        """A path as the screens print it: relative to the working directory when inside it (80 columns are few)."""
        path = Path(path)
        if not path.is_absolute():
            return str(path)
        for base in (Path(self.workdir), Path(self.workdir).resolve()):
            if path.is_relative_to(base):
                return str(path.relative_to(base)) or "."
        return str(path)

    def entry(self, source: Path | None = None) -> ExperimentEntry | None:
        source = source or self.selected
        return next((entry for entry in self.entries if entry.source == source), None)

    def runs_roots(self) -> list[Path]:
        """Where submissions and runs are: --runs, else every listed experiment's outputs.root and ./runs."""
        if self.runs:
            return [self._absolute(Path(self.runs), self.workdir).resolve()]
        roots = [self._absolute(Path(DEFAULT_RUNS), self.workdir)]
        roots += [self._absolute(Path(e.experiment.outputs.root), self.workdir) for e in self.entries if e.experiment]
        return list(dict.fromkeys(root.resolve() for root in roots))
