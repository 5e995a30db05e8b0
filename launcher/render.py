"""Render a batch script: `render(experiment, template, job) -> str`, a pure function.

The templates in `launcher/templates/` decide the job shapes; this module only
gives them values and filters. Jinja runs with `StrictUndefined`, so a value the
template needs but the job does not have stops the render with an `InputError`
naming it, instead of writing an empty word into a script. Every value that
reaches the shell goes through the `q` filter (`shlex.quote`); values that reach
`#SBATCH` lines are checked by `sbatch_path` / `sbatch_token`.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ance_core.config import Experiment
from ance_core.config.schema import SAFE_TOKEN, SBATCH_OPTION, SHAPES
from ance_core.errors import InputError, Problem
from launcher.paths import check_bind_path, paths_to_bind, sbatch_path_problem

TEMPLATE_DIR = Path(os.environ.get("ANCE_SLURM_TEMPLATES") or Path(__file__).resolve().parent / "templates")
# The job shapes (one template each) and what each is for.
TEMPLATES: dict[str, str] = {
    "prep": "the data set of the study: download if missing, subset, tokenize (CPU, once per data set)",
    "warmup": "BM25 warm-up of one seed (checkpoint-0 shared by the strategies)",
    "refresh0": "refresh 0 of one seed: encode and rank with the start checkpoint into the shared cache",
    "run": "the ANCE run on one node; async mode splits the GPUs between trainer and refresher",
    "run_multinode": "the ANCE trainer on several nodes: srun + torchrun, rendezvous on the first node",
    "encode": "embed the collection with a checkpoint, one array task per shard",
    "report": "tables and plots of the submitted runs",
}
# Which `resources.<shape>` each template asks SLURM for (ance_core.config.schema.SHAPES).
_TEMPLATE_SHAPES = {"run_multinode": "run", "encode": "run"}
# A stage that asks for a requeue more often than this in one job is stuck, not preempted.
MAX_REQUEUES = 20
REQUEUE_EXIT_CODE = 99
RENDEZVOUS_PORT = 29500
_SAFE_TOKEN = re.compile(SAFE_TOKEN)
_SBATCH_OPTION = re.compile(SBATCH_OPTION)


@dataclass(frozen=True)
class JobContext:
    """What a script needs besides the experiment. Absent (None) values are undefined in templates."""

    key: str  # unique within a submission; names the script, log and record files
    job_name: str  # the SLURM job name
    job_dir: str  # <outputs.root>/_jobs/<submission-id>
    config: str  # the resolved experiment YAML the stages read
    seed: int | None = None
    workdir: str | None = None  # the jobs' working directory (#SBATCH --chdir)
    ance: tuple[str, ...] = ("ance",)  # how to call the stage CLI (native: the launcher's own venv)
    torchrun: tuple[str, ...] = ("torchrun",)  # data-parallel launcher, from the same place as `ance`
    run_dirs: tuple[str, ...] = ()  # report: the runs to report on
    checkpoint: str | None = None  # encode: the checkpoint to embed with
    encode_out: str | None = None  # encode: where the shards go
    shape: str = "run"  # which resources.<shape> the job asks for (prep, warmup, refresh0, run, report)

    def as_template_values(self) -> dict[str, Any]:
        values = {key: value for key, value in asdict(self).items() if value is not None}
        # SLURM fills in %j (job id), %A_%a (array job id, task id).
        values["log_name"] = f"{self.key}-%j.out"
        values["array_log_name"] = f"{self.key}-%A_%a.out"
        values["records"] = f"{self.job_dir}/records"
        return values


def slurm_time_seconds(text: str) -> int:
    """A time limit as SLURM reads it: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (note: '04:00' is 4 minutes)."""
    days, _, clock = text.rpartition("-")
    parts = [int(part) for part in clock.split(":")]
    if days:
        hours, minutes, seconds = (parts + [0, 0])[:3]
        return ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if len(parts) == 3:
        return (parts[0] * 60 + parts[1]) * 60 + parts[2]
    if len(parts) == 2:
        return parts[0] * 60 + parts[1]
    return parts[0] * 60


def shape_of(template: str) -> str:
    """The job shape (resources.<shape>) a template's jobs ask SLURM for."""
    short = template.removesuffix(".sh.j2")
    return _TEMPLATE_SHAPES.get(short, short)


def check_resources(experiment: Experiment, source: str | Path | None = None) -> None:
    """What the schema cannot see: the USR1 warning must come before each shape's time limit, not at the start."""
    resources = experiment.resources
    for shape in SHAPES:
        time_limit = resources.for_shape(shape).time
        limit = slurm_time_seconds(time_limit)
        if resources.signal_seconds >= limit:
            where = "resources.time" if shape == "run" else f"resources.{shape}.time"
            raise InputError(source, Problem(
                "resources.signal_seconds",
                f"less than the time limit {where}={time_limit!r} ({limit} s as SLURM reads it; "
                "otherwise USR1 comes at once and the job checkpoints and requeues for ever)",
                resources.signal_seconds,
            ))


def template_name(template: str) -> str:
    """'run' or 'run.sh.j2' -> 'run.sh.j2'; anything else is an InputError listing the templates."""
    short = template.removesuffix(".sh.j2")
    if short not in TEMPLATES:
        raise InputError(None, Problem("--template", f"one of {', '.join(TEMPLATES)}", repr(template)))
    return f"{short}.sh.j2"


def run_dir(experiment: Experiment, seed: int) -> str:
    return f"{experiment.outputs.root}/{experiment.name}/seed{seed}"


def final_checkpoint(experiment: Experiment, seed: int) -> str:
    return f"{run_dir(experiment, seed)}/checkpoints/checkpoint-{experiment.max_steps}"


def preview_job(experiment: Experiment, template: str) -> JobContext:
    """The job a template gets when none is given: the experiment's first seed, a 'preview' job folder."""
    short = template_name(template).removesuffix(".sh.j2")
    seed = experiment.seeds[0]
    job_dir = f"{experiment.outputs.root}/_jobs/preview"
    return JobContext(
        shape=shape_of(short),
        key=f"{short}.{experiment.name}.s{seed}",
        job_name=f"ance.{short}.{experiment.name}.s{seed}",
        job_dir=job_dir,
        config=f"{job_dir}/experiments/{experiment.name}.yaml",
        seed=seed,
        run_dirs=tuple(run_dir(experiment, s) for s in experiment.seeds),
        checkpoint=final_checkpoint(experiment, seed),
        encode_out=f"{run_dir(experiment, seed)}/encode/checkpoint-{experiment.max_steps}",
    )


# ---------------------------------------------------------------- the Jinja environment


class _TemplateRefusal(Exception):
    """Raised by `require(...)` inside a template; becomes an InputError."""

    def __init__(self, problem: Problem):
        super().__init__(problem.describe())
        self.problem = problem


def _require(condition: object, where: str, expected: str, found: object = None) -> str:
    if not condition:
        raise _TemplateRefusal(Problem(where, expected, None if found is None else str(found)))
    return ""


def _quote(value: object) -> str:
    if isinstance(value, jinja2.Undefined):
        str(value)  # raises: StrictUndefined
    return shlex.quote(str(value))


def _words(values: object) -> str:
    return " ".join(_quote(value) for value in values)  # type: ignore[union-attr]


def _sbatch_path(value: str, field_name: str, pattern: str = "") -> str:
    """`"value<pattern>"` for an #SBATCH line; `pattern` is ours (may hold %j), `value` is checked."""
    problem = sbatch_path_problem(str(value), field_name)
    if problem:
        raise _TemplateRefusal(problem)
    return f'"{value}{pattern}"'


def _sbatch_token(value: object, field_name: str) -> str:
    text = str(value)
    if not _SAFE_TOKEN.match(text):
        raise _TemplateRefusal(Problem(field_name, f"text matching {SAFE_TOKEN}", repr(text)))
    return text


def _sbatch_option(value: object, field_name: str) -> str:
    text = str(value)
    if not _SBATCH_OPTION.match(text):
        raise _TemplateRefusal(Problem(field_name, f"one #SBATCH option matching {SBATCH_OPTION}", repr(text)))
    return text


@lru_cache(maxsize=4)
def _environment(directory: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # shell, not HTML: quoting is done by the q filter
        # `{#` is bash (`${#array[@]}`), so Jinja comments are `{## ... ##}`.
        comment_start_string="{##",
        comment_end_string="##}",
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(q=_quote, words=_words, sbatch_path=_sbatch_path, sbatch_token=_sbatch_token,
                       sbatch_option=_sbatch_option)
    env.globals.update(require=_require)
    return env


_UNDEFINED_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'|'([^']+)' is undefined")


def render(experiment: Experiment, template: str, job: JobContext | None = None) -> str:
    """The batch script for `experiment` from `launcher/templates/<template>` (pure: same input, same text)."""
    name = template_name(template)
    job = job or preview_job(experiment, name)
    resources = experiment.resources
    check_resources(experiment, f"experiment {experiment.name}")
    binds: list[str] = []
    if resources.runtime == "apptainer":
        binds = [check_bind_path(path, field_name) for field_name, path in paths_to_bind(experiment, job.job_dir)]
    values = {
        "exp": experiment,
        "res": resources,
        "shape": resources.for_shape(job.shape),
        "job": job.as_template_values(),
        "binds": binds,
        "max_requeues": MAX_REQUEUES,
        "requeue_exit_code": REQUEUE_EXIT_CODE,
        "rendezvous_port": RENDEZVOUS_PORT,
    }
    where = TEMPLATE_DIR / name
    try:
        return _environment(str(TEMPLATE_DIR)).get_template(name).render(values)
    except _TemplateRefusal as exc:
        raise InputError(where, exc.problem) from None
    except jinja2.UndefinedError as exc:
        match = _UNDEFINED_ATTRIBUTE.search(str(exc))
        missing = next((group for group in match.groups() if group), str(exc)) if match else str(exc)
        raise InputError(where, Problem(missing, "a value (the template needs it)", "nothing")) from None
    except jinja2.TemplateNotFound as exc:
        raise InputError(where, Problem("template", f"a file in {TEMPLATE_DIR}", f"no {exc.name}")) from None
