"""Pre-flight: everything a submission's jobs will need, checked before anything is queued.

`ance-launch submit`, `reproduce-all` and the TUI's submit call `preflight(plan)`
after planning and before writing or submitting; a failure is one InputError
that lists every missing thing with the command that provides it, and nothing is
submitted. Checked, as the jobs will see it:

* the templates of every job resolve from the installed package (launcher/templates/);
* every data set exists, or a `prep` job of the plan downloads it (`data.download`);
* every model and checkpoint resolves offline: a folder that exists, the built-in
  `minilm`, or a hub name in the Hugging Face cache the jobs read (`resources.hf_home`,
  ance_core.hub.job_hf_home; jobs run with HF_HUB_OFFLINE=1);
* the image exists when the runtime is apptainer.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from ance_core.errors import InputError, Problem
from ance_core.hub import cached_model_dir
from launcher.paths import BUILTIN_MODELS, BUILTIN_PREFIX, hub_models
from launcher.render import TEMPLATE_DIR, template_name

PREFLIGHT = "pre-flight (nothing was submitted)"


def preflight(plan) -> None:
    """Raise one InputError naming every missing thing and its fix; return when the plan can run."""
    problems: list[Problem] = _templates(plan)
    # The same missing thing in several experiments is one problem naming them all.
    found: dict[Problem, list[str]] = {}
    experiments = {job.experiment.name: job.experiment for job in plan.jobs}
    # A report reads run folders only; every other job reads the data set and loads the model.
    reads_data = {job.experiment.name for job in plan.jobs if job.template != "report"}
    for name, exp in experiments.items():
        has_prep = any(j.template == "prep" and j.experiment.data == exp.data for j in plan.jobs)
        missing = _data(exp, has_prep) + _models(exp) if name in reads_data else []
        for problem in missing + _image(exp):
            found.setdefault(problem, []).append(name)
    for problem, names in found.items():
        who = names[0] if len(names) == 1 else f"{len(names)} experiments ({', '.join(names)})"
        problems.append(Problem(f"{who}: {problem.where}", problem.expected, problem.found))
    if problems:
        raise InputError(PREFLIGHT, problems)


def _templates(plan) -> list[Problem]:
    missing = sorted({template_name(job.template) for job in plan.jobs} - {p.name for p in TEMPLATE_DIR.glob("*.sh.j2")})
    if not missing:
        return []
    return [Problem("templates", f"{', '.join(missing)} in {TEMPLATE_DIR} (package data of ance-bundle; "
                    "reinstall it: pip install . or make install)", "missing")]


def _data(exp, has_prep: bool) -> list[Problem]:
    from ance_core.data.layout import resolve_dataset

    data = exp.data
    if data.dataset.startswith(BUILTIN_PREFIX):
        try:
            resolve_dataset(data.dataset, data.files)
        except InputError as exc:
            return [Problem("data.dataset", exc.problems[0].expected, exc.problems[0].found)]
        return []
    if Path(data.dataset).is_dir():
        return []
    if data.download and has_prep:
        return []  # the prep job downloads it
    fix = (f"ance data download {data.download or 'msmarco-passage'} --out {shlex.quote(data.dataset)}"
           if data.download or "msmarco" in data.dataset.lower() else f"put the data set (MS MARCO layout) at {data.dataset}")
    return [Problem("data.dataset", f"an existing data directory; get it with: {fix} "
                    "(or set data.download so that the prep job downloads it)", f"{data.dataset} does not exist")]


def _models(exp) -> list[Problem]:
    """Folders must exist; hub names must be in the jobs' cache (resolve_experiment made local paths absolute)."""
    hub = hub_models(exp)
    refs = [("model.name", exp.model.name), ("warmup.init_checkpoint", exp.warmup.init_checkpoint)]
    hf_home = exp.resources.hf_home
    problems = []
    for field, ref in refs:
        if not ref or ref in BUILTIN_MODELS:
            continue
        if (field, ref) not in hub:
            if not Path(ref).expanduser().is_dir():
                problems.append(Problem(field, "an existing model or checkpoint folder "
                                        "(train one with ance warmup, or point the field at one)", f"{ref} does not exist"))
            continue
        if hf_home is None or cached_model_dir(ref, hf_home) is None:
            where = hf_home or "HF_HOME"
            folder = f" nor a folder {ref!r} here" if "/" in ref else ""
            problems.append(Problem(
                field,
                f"{ref} in the Hugging Face cache the jobs read offline (HF_HOME={where}); on a node with internet "
                f"run: ance model fetch {shlex.quote(ref)} --cache {shlex.quote(str(where))}",
                f"not in {Path(str(where)) / 'hub'}{folder}",
            ))
    return problems


def _image(exp) -> list[Problem]:
    res = exp.resources
    if res.runtime != "apptainer" or Path(res.image).is_file():
        return []
    return [Problem("resources.image",
                    f"the Apptainer image (resources.runtime is apptainer); build it with: make container SIF={shlex.quote(res.image)}",
                    f"{res.image} does not exist")]
