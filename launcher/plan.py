"""A submission plan: which jobs, from which template, depending on which, in which job folder.

`reproduce-all` and `submit` both come here: one shared warm-up job per seed
(per group of experiments whose warm-up is the same), then one run job per
(experiment, seed) that depends on it, then one report job after all runs. The
plan is data; `write_plan` puts it on disk:

    <outputs.root>/_jobs/<submission-id>/
      submission.json          the jobs, their dependencies and (once submitted) their job ids
      experiments/<name>.yaml  the resolved experiment each stage reads (absolute paths)
      scripts/<key>.sh         the rendered batch scripts
      logs/<key>-<job id>.out  what the jobs print
      records/<key>.json       what the jobs record: start, end, exit code, host
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ance_core.config import Experiment, warmup_key
from ance_core.errors import InputError, Problem
from ance_core.io.atomic import write_json, write_text
from launcher.render import JobContext, render, run_dir

JOBS_FOLDER = "_jobs"
SUBMISSION_FILE = "submission.json"


@dataclass(frozen=True)
class PlannedJob:
    key: str
    template: str  # a name from launcher.render.TEMPLATES
    experiment: Experiment  # resolved: absolute paths
    context: JobContext
    depends_on: tuple[str, ...] = ()
    array_size: int | None = None  # array jobs: the number of tasks

    @property
    def log_name(self) -> str:
        return self.context.as_template_values()["array_log_name" if self.array_size else "log_name"]


@dataclass
class Plan:
    submission_id: str
    job_dir: Path
    workdir: str
    executor: str
    jobs: list[PlannedJob] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # experiment name -> the file it came from
    created: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))

    def job(self, key: str) -> PlannedJob:
        return next(job for job in self.jobs if job.key == key)

    def scripts(self) -> dict[str, str]:
        """Every job's rendered script (rendering is where bad values are refused)."""
        return {job.key: render(job.experiment, job.template, job.context) for job in self.jobs}


def new_submission_id(now: dt.datetime | None = None) -> str:
    """Sortable by time, unique enough for one user: 20241128-203015-a1b2."""
    now = now or dt.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def default_command(runtime: str, program: str = "ance") -> tuple[str, ...]:
    """`ance` or `torchrun`: in the image, from its PATH; natively, from the launcher's own venv
    (jobs do not inherit an activated venv when `make` or a TUI submits them)."""
    if runtime == "apptainer":
        return (program,)
    beside = Path(sys.executable).parent / program
    return (str(beside),) if beside.exists() else (shutil.which(program) or program,)


def _runs_root(experiments: list[tuple[str, Experiment]]) -> str:
    roots = {exp.outputs.root for _, exp in experiments}
    if len(roots) > 1:
        listing = ", ".join(f"{exp.outputs.root} ({source})" for source, exp in experiments)
        raise InputError(None, Problem("outputs.root", "one runs root for all experiments of a submission (or --runs DIR)", listing))
    return roots.pop()


def _check_unique_names(experiments: list[tuple[str, Experiment]]) -> None:
    seen: dict[str, str] = {}
    for source, exp in experiments:
        if exp.name in seen:
            raise InputError(source, Problem("name", "a name no other experiment of the submission has", f"{exp.name!r}, also in {seen[exp.name]}"))
        seen[exp.name] = source


def plan_study(
    experiments: list[tuple[str, Experiment]],
    *,
    submission_id: str,
    workdir: str,
    executor: str,
    ance: tuple[str, ...] | None = None,
    report: bool = True,
) -> Plan:
    """Warm-up per seed (shared) -> one run per (experiment, seed) -> one report. Experiments must be resolved."""
    if not experiments:
        raise InputError(None, Problem("experiments", "at least one experiment", "none"))
    _check_unique_names(experiments)
    root = _runs_root(experiments)
    job_dir = f"{root}/{JOBS_FOLDER}/{submission_id}"
    plan = Plan(submission_id, Path(job_dir), workdir, executor, sources={exp.name: src for src, exp in experiments})

    def context(key: str, exp: Experiment, **extra) -> JobContext:
        return JobContext(
            key=key,
            job_name=f"ance.{key}",
            job_dir=job_dir,
            config=f"{job_dir}/experiments/{exp.name}.yaml",
            workdir=workdir,
            ance=ance or default_command(exp.resources.runtime),
            torchrun=default_command(exp.resources.runtime, "torchrun"),
            **extra,
        )

    # Warm-ups: one per (identical warm-up, seed), run by the first experiment (by name) that needs it.
    groups: dict[tuple[str, int], list[Experiment]] = {}
    for _, exp in sorted(experiments, key=lambda item: item[1].name):
        if exp.warmup.enabled:
            for seed in exp.seeds:
                groups.setdefault((warmup_key(exp), seed), []).append(exp)
    warmup_of: dict[tuple[str, int], str] = {}
    for (digest, seed), members in groups.items():
        shared_by_one_group = sum(1 for _, s in groups if s == seed) == 1
        key = f"warmup.s{seed}" if shared_by_one_group else f"warmup.{digest[:8]}.s{seed}"
        for exp in members:
            warmup_of[(exp.name, seed)] = key
        plan.jobs.append(PlannedJob(key, "warmup", members[0], context(key, members[0], seed=seed)))

    runs: list[str] = []
    run_keys: list[str] = []
    for _, exp in experiments:
        for seed in exp.seeds:
            key = f"run.{exp.name}.s{seed}"
            template = "run_multinode" if exp.resources.nodes > 1 else "run"
            depends = (warmup_of[(exp.name, seed)],) if (exp.name, seed) in warmup_of else ()
            plan.jobs.append(PlannedJob(key, template, exp, context(key, exp, seed=seed), depends))
            runs.append(run_dir(exp, seed))
            run_keys.append(key)

    if report:
        first = experiments[0][1]
        plan.jobs.append(PlannedJob("report", "report", first, context("report", first, run_dirs=tuple(runs)), tuple(run_keys)))
    return plan


def plan_encode(experiment: Experiment, *, checkpoint: str, out: str, submission_id: str, workdir: str,
                executor: str, ance: tuple[str, ...] | None = None) -> Plan:
    """One array job: the collection embedded with `checkpoint`, resources.shards shards into `out`."""
    job_dir = f"{experiment.outputs.root}/{JOBS_FOLDER}/{submission_id}"
    key = f"encode.{experiment.name}"
    context = JobContext(
        key=key, job_name=f"ance.{key}", job_dir=job_dir, config=f"{job_dir}/experiments/{experiment.name}.yaml",
        workdir=workdir, ance=ance or default_command(experiment.resources.runtime),
        checkpoint=checkpoint, encode_out=out,
    )
    plan = Plan(submission_id, Path(job_dir), workdir, executor, sources={experiment.name: "(encode)"})
    plan.jobs.append(PlannedJob(key, "encode", experiment, context, array_size=experiment.resources.shards))
    return plan


def write_plan(plan: Plan) -> dict[str, Path]:
    """Render every script (refusing bad values before anything is written), then lay out the job folder."""
    scripts = plan.scripts()
    if plan.job_dir.exists():
        raise InputError(plan.job_dir, Problem("submission", "a new submission id", "the job folder exists already"))
    for sub in ("experiments", "scripts", "logs", "records"):
        (plan.job_dir / sub).mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    for job in plan.jobs:
        if job.experiment.name not in written:
            text = yaml.safe_dump(job.experiment.model_dump(mode="json"), sort_keys=False)
            write_text(plan.job_dir / "experiments" / f"{job.experiment.name}.yaml", text)
            written.add(job.experiment.name)
    paths = {}
    for key, text in scripts.items():
        path = plan.job_dir / "scripts" / f"{key}.sh"
        write_text(path, text)
        os.chmod(path, 0o755)
        paths[key] = path
    write_json(plan.job_dir / SUBMISSION_FILE, submission_document(plan, paths))
    return paths


def submission_document(plan: Plan, scripts: dict[str, Path], job_ids: dict[str, str] | None = None) -> dict:
    job_ids = job_ids or {}
    return {
        "submission": plan.submission_id,
        "created": plan.created,
        "executor": plan.executor,
        "workdir": plan.workdir,
        "experiments": plan.sources,
        "jobs": [
            {
                "key": job.key,
                "template": job.template,
                "name": job.context.job_name,
                "experiment": job.experiment.name,
                "seed": job.context.seed,
                "depends_on": list(job.depends_on),
                "array_size": job.array_size,
                "cpus": job.experiment.resources.cpus,
                "script": str(scripts[job.key]),
                "log_name": job.log_name,
                "job_id": job_ids.get(job.key),
            }
            for job in plan.jobs
        ],
    }
