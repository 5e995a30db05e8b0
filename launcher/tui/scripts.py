"""The script screen's model: which batch script a choice of template, executor and runtime gives,
and the submission it would make.

The preview is built exactly as the submission is (load with overrides ->
resolve paths -> plan -> render), with the submission id `preview`, so what
the screen shows is what `sbatch` or the local executor gets, job folder aside.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ance_core.config import Experiment, load_experiments
from ance_core.errors import AnceError, InputError, Problem
from launcher import discovery
from launcher.plan import Plan, PlannedJob, new_submission_id, plan_encode, plan_study
from launcher.render import TEMPLATES, final_checkpoint, render, run_dir
from launcher.submit import resolve_all

EXECUTORS = ("slurm", "local")
RUNTIMES = ("native", "apptainer")
PREVIEW_ID = "preview"


@dataclass(frozen=True)
class ScriptOptions:
    """The user's choice on the script screen; None keeps the experiment's own setting."""

    template: str = "run"
    executor: str | None = None
    runtime: str | None = None

    def overrides(self) -> list[str]:
        """`--set` overrides, so the schema checks the combination (async on SLURM needs gpus_refresh...)."""
        out = []
        if self.executor:
            out.append(f"resources.executor={self.executor}")
        if self.runtime:
            out.append(f"resources.runtime={self.runtime}")
        return out


@dataclass(frozen=True)
class ScriptPreview:
    source: Path
    options: ScriptOptions
    experiment: Experiment | None  # resolved, overrides applied
    plan: Plan | None
    job: PlannedJob | None  # the plan's job of the chosen template (None: a shape this experiment does not use)
    text: str
    problems: tuple[Problem, ...] = ()

    @property
    def executor(self) -> str:
        return self.experiment.resources.executor if self.experiment else (self.options.executor or "?")

    @property
    def runtime(self) -> str:
        return self.experiment.resources.runtime if self.experiment else (self.options.runtime or "?")


def build_plan(source: Path, options: ScriptOptions, runs: str | None, workdir: str, submission_id: str,
               skip_finished: bool = False) -> tuple[Experiment, Plan]:
    """The plan a submission with these options makes: the study chain (every window of a sweep file), or an
    encode array for 'encode'. The experiment returned is the file's (a sweep's first window)."""
    experiments = load_experiments(source, options.overrides(), discovery.site_settings())
    every = resolve_all([(source, experiment) for experiment in experiments], workdir, runs)
    resolved = every[0][1]
    executor = resolved.resources.executor
    if options.template == "encode":
        seed = resolved.seeds[0]
        checkpoint = final_checkpoint(resolved, seed)
        out = f"{run_dir(resolved, seed)}/encode/{Path(checkpoint).name}"
        plan = plan_encode(resolved, checkpoint=checkpoint, out=out, submission_id=submission_id, workdir=workdir, executor=executor)
    else:
        plan = plan_study([(str(source), one) for _, one in every], submission_id=submission_id, workdir=workdir,
                          executor=executor, skip_finished=skip_finished)
    return resolved, plan


def chosen_job(plan: Plan, template: str, seed: int) -> PlannedJob | None:
    """The plan's job of `template` for `seed` (the report and encode jobs have no seed of their own)."""
    return next((job for job in plan.jobs if job.template == template and job.context.seed in (seed, None)), None)


def preview(source: Path, options: ScriptOptions, runs: str | None, workdir: str) -> ScriptPreview:
    if options.template not in TEMPLATES:
        return ScriptPreview(source, options, None, None, None, "", (Problem("template", f"one of {', '.join(TEMPLATES)}", options.template),))
    try:
        experiment, plan = build_plan(source, options, runs, workdir, PREVIEW_ID)
        job = chosen_job(plan, options.template, experiment.seeds[0])
        # A shape the plan does not use (run_multinode on one node) still renders, as `ance-launch render` does.
        text = render(job.experiment, job.template, job.context) if job else render(experiment, options.template)
    except InputError as exc:
        return ScriptPreview(source, options, None, None, None, "", tuple(_located(exc)))
    except AnceError as exc:
        return ScriptPreview(source, options, None, None, None, "", (Problem("experiment", "a submittable experiment", str(exc)),))
    return ScriptPreview(source, options, experiment, plan, job, text)


def _located(exc: InputError) -> list[Problem]:
    """Problems found in a template name it, so that a template's refusal is not read as a YAML line."""
    if exc.file and exc.file.endswith(".j2"):
        return [replace(p, where=f"{Path(exc.file).name}: {p.where}") for p in exc.problems]
    return list(exc.problems)


def submission_plan(source: Path, options: ScriptOptions, runs: str | None, workdir: str, only: str | None = None) -> Plan:
    """A fresh submission: the whole chain, or with `only` just that job of it, run without its dependencies."""
    _, plan = build_plan(source, options, runs, workdir, new_submission_id(), skip_finished=True)
    return only_job(plan, only) if only is not None else plan


def only_job(plan: Plan, key: str) -> Plan:
    """The same submission with one job of it, run without its dependencies (re-make a report, one warm-up)."""
    return replace(plan, jobs=[replace(plan.job(key), depends_on=())])


def launch_note(view: ScriptPreview) -> str:
    """How the shown script will be started: the executor is not in the script, it decides what runs it."""
    job = view.job
    if job is None:
        return f"{view.options.template}: this experiment's submissions do not use this job shape (shown for reference)"
    deps = job.depends_on
    named = " and ".join(deps) if len(deps) <= 2 else f"its {len(deps)} dependencies"
    after = f" once {named} {'has' if len(deps) == 1 else 'have'} succeeded" if deps else ""
    if view.executor == "slurm":
        how = f"sbatch; runs on a compute node{after + ' (afterok)' if after else ''}"
    else:
        how = f"bash on this machine{after}, one job after the other"
    array = f", {job.array_size} array tasks" if job.array_size else ""
    return f"{job.key}{array}: {view.executor} executor -> {how}; runtime {view.runtime}"


def effective_options(entry, options: ScriptOptions) -> tuple[str, str, str]:
    """(template, executor, runtime) as the screen shows them: the user's choice, else the experiment's."""
    experiment = entry.experiment if entry is not None else None
    resources = experiment.resources if experiment is not None else None
    executor = options.executor or (resources.executor if resources else EXECUTORS[0])
    runtime = options.runtime or (resources.runtime if resources else RUNTIMES[0])
    return options.template, executor, runtime
