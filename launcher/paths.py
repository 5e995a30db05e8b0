"""Paths in experiments: make them absolute before a job sees them, and keep them safe in scripts.

docs/ARCHITECTURE.md: relative paths in an experiment are relative to the
working directory of the command. Jobs start elsewhere (a compute node, a
container), so the launcher rewrites them to absolute paths before it renders a
batch script. Paths then reach three places with different rules:

* the shell body of a script: any character is fine, every value goes through
  `shlex.quote`;
* `#SBATCH` lines (log files, --chdir): sbatch reads them itself, without a
  shell; a double-quoted value may hold spaces, `$`, backticks, `;` and `'`
  (they stay literal), but not a newline, `"`, `\\` or `%` (sbatch expands
  `%j`-style patterns in file names);
* `apptainer --bind`: `:` and `,` separate bind specs, so a bound path must not
  contain them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ance_core.config import Experiment, validate_experiment
from ance_core.errors import InputError, Problem
from ance_core.hub import job_hf_home

BUILTIN_PREFIX = "builtin:"
BUILTIN_MODELS = ("minilm",)
# Characters that cannot be written safely into an #SBATCH line, with what each would do.
_SBATCH_UNSAFE = {
    "\n": "a newline (ends the #SBATCH line: the rest would be shell code)",
    "\r": "a carriage return",
    "\x00": "a NUL byte",
    '"': 'a double quote (sbatch quoting)',
    "\\": "a backslash (sbatch escaping)",
    "%": "a % (sbatch expands %j, %x, ... in file names)",
}
_BIND_UNSAFE = {":": "a ':' (apptainer reads src:dst)", ",": "a ',' (apptainer separates binds with it)"}


def _absolute(value: str, base: Path) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _is_local_path(value: str, base: Path) -> bool:
    """A model/checkpoint reference that names a local folder rather than a hub name."""
    if value.startswith(("/", "./", "../", "~")):
        return True
    return (base / value).exists()


def resolve_experiment(experiment: Experiment, base: str | Path, runs_root: str | Path | None = None,
                       source: str | Path | None = None) -> Experiment:
    """The same experiment with every path absolute (relative to `base`), `outputs.root` replaced by `runs_root`."""
    base = Path(base).resolve()
    data: dict[str, Any] = experiment.model_dump(mode="json")
    if not data["data"]["dataset"].startswith(BUILTIN_PREFIX):
        data["data"]["dataset"] = _absolute(data["data"]["dataset"], base)
    data["outputs"]["root"] = _absolute(str(runs_root) if runs_root is not None else data["outputs"]["root"], base)
    model_name = data["model"]["name"]
    if model_name not in BUILTIN_MODELS and _is_local_path(model_name, base):
        data["model"]["name"] = _absolute(model_name, base)
    init = data["warmup"]["init_checkpoint"]
    if init and _is_local_path(init, base):
        data["warmup"]["init_checkpoint"] = _absolute(init, base)
    resources = data["resources"]
    resources["image"] = _absolute(resources["image"], base)
    resources["binds"] = [_absolute(bind, base) for bind in resources["binds"]]
    # The cache the jobs read models from, fixed now: the pre-flight checks it, the scripts export it.
    resources["hf_home"] = _absolute(str(job_hf_home(resources["hf_home"])), base)
    return validate_experiment(data, source=source)


def sbatch_path_problem(value: str, field: str) -> Problem | None:
    """Why `value` cannot go into an #SBATCH line, or None when it can."""
    for char, why in _SBATCH_UNSAFE.items():
        if char in value:
            return Problem(field, f"a path without {why}", repr(value))
    return None


def check_sbatch_path(value: str, field: str, source: str | Path | None = None) -> str:
    problem = sbatch_path_problem(value, field)
    if problem:
        raise InputError(source, problem)
    return value


def check_bind_path(value: str, field: str, source: str | Path | None = None) -> str:
    for char, why in _BIND_UNSAFE.items():
        if char in value:
            raise InputError(source, Problem(field, f"a path without {why}, for apptainer --bind", repr(value)))
    return value


def hub_models(experiment: Experiment) -> list[tuple[str, str]]:
    """(field, name) of the models a resolved experiment loads by hub name (from the HF cache)."""
    refs = [("model.name", experiment.model.name), ("warmup.init_checkpoint", experiment.warmup.init_checkpoint)]
    return [(field, ref) for field, ref in refs
            if ref and ref not in BUILTIN_MODELS and not Path(ref).expanduser().is_absolute()]


def paths_to_bind(experiment: Experiment, job_dir: str) -> list[tuple[str, str]]:
    """(field, path) of every host folder a stage in the image reads or writes, outermost first.

    Stage arguments are host paths, so each is bound at the same place inside the
    container. A folder inside another bound folder is covered by it and left out.
    """
    candidates: list[tuple[str, str]] = [("outputs.root", experiment.outputs.root), ("job folder", job_dir)]
    if not experiment.data.dataset.startswith(BUILTIN_PREFIX):
        candidates.append(("data.dataset", experiment.data.dataset))
    if Path(experiment.model.name).is_absolute():
        candidates.append(("model.name", experiment.model.name))
    if experiment.warmup.init_checkpoint and Path(experiment.warmup.init_checkpoint).is_absolute():
        candidates.append(("warmup.init_checkpoint", experiment.warmup.init_checkpoint))
    if experiment.resources.hf_home and hub_models(experiment):
        candidates.append(("resources.hf_home", experiment.resources.hf_home))
    candidates += [(f"resources.binds[{i}]", bind) for i, bind in enumerate(experiment.resources.binds)]

    chosen: list[tuple[str, str]] = []
    for field, value in sorted(candidates, key=lambda item: len(Path(item[1]).parts)):
        path = Path(value)
        if any(path == Path(kept) or Path(kept) in path.parents for _, kept in chosen):
            continue
        chosen.append((field, value))
    return chosen
