"""The rendered SLURM scripts run stages in the image with the data and run dirs bound.

Stage arguments are host paths (the launcher resolves them to absolute paths),
so inside the container those paths must exist at the same place: every
`apptainer exec|run` binds the data directory and the runs root (or a folder
above them) without remapping, passes --nv exactly when the job asks for GPUs, and tells
the image where the run dir is (`export ANCE_RUNS=...`, for the caches that
containers/ance.def's %environment puts there).

Rendered with `launcher.render.render(experiment, template)` (DESIGN.md: a pure
function). These tests fail, never skip, while the templates or the renderer
are missing: they are part of the bundle, not optional.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath

import pytest

from ance_core.config.schema import Experiment

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "launcher" / "templates").glob("*.sh.j2"))


@pytest.fixture
def experiment(tmp_path) -> Experiment:
    (tmp_path / "data" / "msmarco").mkdir(parents=True)
    return Experiment.model_validate(
        {
            "name": "top20",
            "data": {"dataset": str(tmp_path / "data" / "msmarco")},
            "resources": {
                "executor": "slurm", "runtime": "apptainer", "image": str(tmp_path / "ance.sif"), "gpus": 1,
            },
            "outputs": {"root": str(tmp_path / "runs")},
        }
    )


def rendered_scripts(experiment: Experiment) -> dict[str, str]:
    assert TEMPLATES, "launcher/templates/*.sh.j2 do not exist yet: nothing runs the stages in the image"
    try:
        from launcher.render import render
    except ImportError as exc:
        pytest.fail(f"launcher.render.render(experiment, template) is not importable yet: {exc}")
    return {path.name: render(experiment, path.name) for path in TEMPLATES}


def assignments(script: str) -> dict[str, str]:
    """NAME=value and export NAME=value lines, for expanding $NAME in bind paths."""
    found = {}
    for line in script.splitlines():
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            try:
                words = shlex.split(match.group(2))
            except ValueError:
                continue
            found[match.group(1)] = words[0] if words else ""
    return found


def expand(value: str, variables: dict[str, str]) -> str:
    for _ in range(5):  # nested definitions
        value = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: variables.get(m.group(1), m.group(0)), value)
    return value


def apptainer_commands(script: str) -> list[list[str]]:
    """Each `apptainer exec|run` command line (continuations joined) as words."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("#"):
            continue
        words = shlex.split(line, comments=True)
        for i, word in enumerate(words[:-1]):
            if PurePosixPath(word).name == "apptainer" and words[i + 1] in ("exec", "run"):
                commands.append(words[i:])
    return commands


def binds(command: list[str], variables: dict[str, str]) -> list[tuple[str, str]]:
    """(source, destination) of every --bind/-B, with $VARS expanded."""
    values = []
    for i, word in enumerate(command):
        if word in ("--bind", "-B") and i + 1 < len(command):
            values.append(command[i + 1])
        elif word.startswith("--bind="):
            values.append(word.split("=", 1)[1])
    pairs = []
    for value in values:
        for spec in expand(value, variables).split(","):
            src, _, rest = spec.partition(":")
            pairs.append((src, rest.split(":")[0] or src))
    return pairs


def covered(path: Path, pairs: list[tuple[str, str]]) -> bool:
    """Bound at the same place, itself or a folder above it."""
    return any(src == dst and (path == Path(src) or Path(src) in path.parents) for src, dst in pairs)


def test_every_apptainer_command_binds_data_and_runs_and_uses_the_gpus(experiment):
    data, runs = Path(experiment.data.dataset), Path(experiment.outputs.root)
    seen, with_gpus = 0, 0
    for name, script in rendered_scripts(experiment).items():
        variables = assignments(script)
        # A job shape asks for GPUs or not (prep and report run on CPUs); one that does exports ANCE_GPUS.
        gpus = bool(re.search(r"^export ANCE_GPUS=[1-9]", script, re.MULTILINE))
        for command in apptainer_commands(script):
            seen, with_gpus = seen + 1, with_gpus + gpus
            pairs = binds(command, variables)
            assert covered(data, pairs), f"{name}: {shlex.join(command)}\n  does not bind the data dir {data}"
            assert covered(runs, pairs), f"{name}: {shlex.join(command)}\n  does not bind the runs root {runs}"
            assert ("--nv" in command) == gpus, f"{name}: {shlex.join(command)}\n  --nv does not match the job's GPUs ({gpus})"
    assert seen, "no rendered template runs a stage with `apptainer exec|run` for runtime: apptainer"
    assert with_gpus, "no GPU job among the rendered templates: --nv was never checked"


def test_scripts_tell_the_image_where_the_run_dir_is(experiment):
    runs = Path(experiment.outputs.root)
    for name, script in rendered_scripts(experiment).items():
        if not apptainer_commands(script):
            continue
        # Exported on the host, it passes into the container before %environment
        # reads it; that is the one way documented to work on every Apptainer.
        match = re.search(r"^\s*export\s+ANCE_RUNS=(.*)$", script, re.MULTILINE)
        assert match, f"{name}: no `export ANCE_RUNS=...`, so the image's HF/torch caches go to /tmp"
        path = Path(expand(shlex.split(match.group(1))[0], assignments(script)))
        assert path == runs or runs in path.parents, f"{name}: ANCE_RUNS={path} is not under {runs}"


def test_the_checks_above_read_scripts_the_way_bash_would():
    script = """#!/bin/bash
#SBATCH --gres=gpu:1
export ANCE_RUNS=/scratch/runs
DATA=/data/msmarco
srun apptainer exec --nv \\
    --bind "$DATA,${ANCE_RUNS}" /img/ance.sif ance mine --config x  # a comment
/usr/bin/apptainer run --bind=/data:/mnt --app eval /img/ance.sif --json
"""
    variables = assignments(script)
    first, second = apptainer_commands(script)
    assert first[:3] == ["apptainer", "exec", "--nv"] and first[-1] == "x"
    assert binds(first, variables) == [("/data/msmarco", "/data/msmarco"), ("/scratch/runs", "/scratch/runs")]
    assert covered(Path("/data/msmarco"), binds(first, variables))
    assert covered(Path("/scratch/runs/top20/seed0"), binds(first, variables))
    assert not covered(Path("/data/msmarco"), binds(second, variables)), "remapped to /mnt: host paths break"
