"""From experiment files to running jobs: resolve, plan, write the job folder, hand it to an executor."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ance_core.config import Experiment
from ance_core.errors import InputError, Problem
from launcher.local import LocalResult, run_local
from launcher.paths import check_sbatch_path, resolve_experiment
from launcher.plan import Plan, write_plan
from launcher.preflight import preflight
from launcher.render import check_resources
from launcher.records import Submission, load_submission, set_job_ids
from launcher.slurm import Slurm, SlurmError

log = logging.getLogger(__name__)

EXECUTORS = ("local", "slurm")


def resolve_all(loaded: Iterable[tuple[Path, Experiment]], workdir: str | Path, runs: str | Path | None = None) -> list[tuple[str, Experiment]]:
    """Every experiment with absolute paths (and the runs root replaced by `runs` when given)."""
    resolved = []
    for source, experiment in loaded:
        exp = resolve_experiment(experiment, workdir, runs, source=source)
        check_sbatch_path(exp.outputs.root, "outputs.root", source)
        check_resources(exp, source)
        resolved.append((str(source), exp))
    check_sbatch_path(str(workdir), "working directory (where ance-launch runs)")
    return resolved


def choose_executor(requested: str | None, experiments: list[tuple[str, Experiment]]) -> str:
    """--executor, else the experiments' resources.executor (which must then agree)."""
    if requested:
        return requested
    chosen = {exp.resources.executor for _, exp in experiments}
    if len(chosen) > 1:
        raise InputError(None, Problem("resources.executor", "the same executor in every experiment, or --executor", sorted(chosen)))
    return chosen.pop()


def submit_slurm(plan: Plan, scripts: dict[str, Path], slurm: Slurm) -> dict[str, str]:
    """sbatch every job in plan order with `afterok` on its dependencies; all or nothing."""
    job_ids: dict[str, str] = {}
    try:
        for job in plan.jobs:
            job_ids[job.key] = slurm.sbatch(scripts[job.key], [job_ids[dep] for dep in job.depends_on])
            log.info("submitted %s as job %s", job.key, job_ids[job.key])
    except SlurmError as exc:
        if job_ids:
            # Half a chain would run a warm-up nobody uses: take back what was submitted.
            try:
                slurm.cancel(job_ids.values())
                note = f"; cancelled the {len(job_ids)} job(s) of this submission already submitted"
            except SlurmError as cancel_error:
                note = f"; could not cancel the jobs already submitted ({' '.join(job_ids.values())}): {cancel_error}"
            raise SlurmError(f"{exc}{note}") from None
        raise
    finally:
        if job_ids:
            set_job_ids(plan.job_dir, job_ids)
    return job_ids


def launch(plan: Plan, slurm: Slurm | None = None,
           on_event: Callable[[str, str], None] | None = None) -> tuple[Submission, list[LocalResult] | None]:
    """Write the job folder and run it: sbatch (returns at once) or the local executor (returns when done)."""
    if plan.executor not in EXECUTORS:
        raise InputError(None, Problem("--executor", f"one of {EXECUTORS}", repr(plan.executor)))
    preflight(plan)  # nothing is written or queued when a job would miss its data, model, image or template
    scripts = write_plan(plan)
    if plan.executor == "slurm":
        submit_slurm(plan, scripts, slurm or Slurm())
        return load_submission(plan.job_dir), None
    results = run_local(load_submission(plan.job_dir), plan.workdir, on_event)
    return load_submission(plan.job_dir), results


def current_workdir() -> str:
    """Where ance-launch runs: relative experiment paths resolve against it, jobs start in it."""
    return os.getcwd()
