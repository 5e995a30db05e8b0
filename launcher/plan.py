"""A submission plan: which jobs, from which template, depending on which, in which job folder.

`reproduce-all` and `submit` both come here. The study's job graph, each job
shape with its own resources (`resources.<shape>`, ance_core.config.schema.SHAPES):

    prep        once per data set: download if missing, subset, tokenize (CPU)
    warmup      once per (warm-up, seed), unless the experiments start from a checkpoint
    refresh0    once per (start checkpoint, seed): encodes the corpus and queries and ranks
                them into <outputs.root>/_cache/, so every strategy's refresh 0 only samples
    run         one per (experiment, seed) that is not finished yet
    report      after all runs (CPU, minutes)

each after the one before it (`afterok`). The plan is data; `write_plan` puts it on disk:

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
from ance_core.config.keys import digest
from ance_core.errors import InputError, Problem
from ance_core.io.atomic import write_json, write_text
from ance_core.train.rundir import run_finished
from launcher.render import JobContext, render, run_dir, shape_of

JOBS_FOLDER = "_jobs"
SUBMISSION_FILE = "submission.json"


def prep_key(experiment: Experiment) -> str:
    """Experiments with the same key share one prep job: same data set, subset and tokenizer/lengths."""
    return digest([experiment.data.model_dump(mode="json"), experiment.model.model_dump(mode="json")])


def refresh0_key(experiment: Experiment) -> str:
    """Experiments with the same key (and seed) encode and rank refresh 0 identically: same start
    checkpoint (warm-up or init_checkpoint), same encoding, same search."""
    ance = experiment.ance
    return digest([warmup_key(experiment), experiment.warmup.init_checkpoint, ance.encode.model_dump(mode="json"),
                   ance.top_k, ance.index, ance.query_fraction, ance.segment.counting])


@dataclass(frozen=True)
class PlannedJob:
    key: str
    template: str  # a name from launcher.render.TEMPLATES
    experiment: Experiment  # resolved: absolute paths
    context: JobContext
    depends_on: tuple[str, ...] = ()
    array_size: int | None = None  # array jobs: the number of tasks

    @property
    def resources(self):
        """cpus, mem, time, gpus of this job's shape (ance_core.config.schema.ResourcesConfig.for_shape)."""
        return self.experiment.resources.for_shape(self.context.shape)

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
    skipped: list[tuple[str, int]] = field(default_factory=list)  # (experiment, seed) runs already finished
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
    skip_finished: bool = False,
) -> Plan:
    """prep -> warm-up -> refresh 0 -> one run per (experiment, seed) -> report. Experiments must be resolved.

    skip_finished: leave out the runs that are finished (ance_core.train.rundir.run_finished) and the
    jobs only they needed (`Plan.skipped` names them); the report still covers every run.
    """
    if not experiments:
        raise InputError(None, Problem("experiments", "at least one experiment", "none"))
    _check_unique_names(experiments)
    root = _runs_root(experiments)
    job_dir = f"{root}/{JOBS_FOLDER}/{submission_id}"
    plan = Plan(submission_id, Path(job_dir), workdir, executor, sources={exp.name: src for src, exp in experiments})

    def context(key: str, exp: Experiment, template: str, **extra) -> JobContext:
        return JobContext(
            key=key,
            job_name=f"ance.{key}",
            job_dir=job_dir,
            config=f"{job_dir}/experiments/{exp.name}.yaml",
            workdir=workdir,
            ance=ance or default_command(exp.resources.runtime),
            torchrun=default_command(exp.resources.runtime, "torchrun"),
            shape=shape_of(template),
            **extra,
        )

    by_name = sorted((exp for _, exp in experiments), key=lambda exp: exp.name)
    todo = [(exp, seed) for _, exp in experiments for seed in exp.seeds]
    if skip_finished:
        plan.skipped = [(exp.name, seed) for exp, seed in todo if run_finished(Path(run_dir(exp, seed)), exp.ance.refreshes)]
        todo = [(exp, seed) for exp, seed in todo if (exp.name, seed) not in plan.skipped]
    needed = {(exp.name, seed) for exp, seed in todo}

    def shared(kind: str, key_of, per_seed: bool, depends) -> dict[tuple[str, int | None], str]:
        """One job per (key, seed) among the runs still to do, run by the first experiment (by name)."""
        groups: dict[tuple[str, int | None], list[tuple[Experiment, int]]] = {}
        for exp in by_name:
            for seed in exp.seeds:
                if (exp.name, seed) in needed and (kind != "warmup" or exp.warmup.enabled):
                    groups.setdefault((key_of(exp), seed if per_seed else None), []).append((exp, seed))
        keys = {digest for digest, _ in groups}
        job_of: dict[tuple[str, int | None], str] = {}
        for (digest, seed), members in groups.items():
            name = kind if len(keys) == 1 else f"{kind}.{digest[:8]}"
            key = name if seed is None else f"{name}.s{seed}"
            first, _ = members[0]
            for exp, member_seed in members:
                job_of[(exp.name, member_seed)] = key
            extra = {} if seed is None else {"seed": seed}
            plan.jobs.append(PlannedJob(key, kind, first, context(key, first, kind, **extra), depends(first, seed)))
        return job_of

    prep_of = shared("prep", prep_key, False, lambda exp, seed: ())
    warmup_of = shared("warmup", warmup_key, True, lambda exp, seed: (prep_of[(exp.name, seed)],))
    refresh0_of = shared("refresh0", refresh0_key, True,
                         lambda exp, seed: (warmup_of.get((exp.name, seed)) or prep_of[(exp.name, seed)],))

    run_keys: list[str] = []
    for exp, seed in todo:
        key = f"run.{exp.name}.s{seed}"
        template = "run_multinode" if exp.resources.nodes > 1 else "run"
        plan.jobs.append(PlannedJob(key, template, exp, context(key, exp, template, seed=seed), (refresh0_of[(exp.name, seed)],)))
        run_keys.append(key)

    if report:
        first = experiments[0][1]
        runs = tuple(run_dir(exp, seed) for _, exp in experiments for seed in exp.seeds)
        plan.jobs.append(PlannedJob("report", "report", first, context("report", first, "report", run_dirs=runs), tuple(run_keys)))
    return plan


def plan_encode(experiment: Experiment, *, checkpoint: str, out: str, submission_id: str, workdir: str,
                executor: str, ance: tuple[str, ...] | None = None) -> Plan:
    """One array job: the collection embedded with `checkpoint`, resources.shards shards into `out`."""
    job_dir = f"{experiment.outputs.root}/{JOBS_FOLDER}/{submission_id}"
    key = f"encode.{experiment.name}"
    context = JobContext(
        key=key, job_name=f"ance.{key}", job_dir=job_dir, config=f"{job_dir}/experiments/{experiment.name}.yaml",
        workdir=workdir, ance=ance or default_command(experiment.resources.runtime),
        checkpoint=checkpoint, encode_out=out, shape=shape_of("encode"),
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
                "cpus": job.resources.cpus,
                "script": str(scripts[job.key]),
                "log_name": job.log_name,
                "job_id": job_ids.get(job.key),
            }
            for job in plan.jobs
        ],
    }
