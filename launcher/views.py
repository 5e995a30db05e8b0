"""Rich views for `ance-launch`: thin tables over plans, statuses and validation results."""

from __future__ import annotations

import datetime as dt

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ance_core.errors import AnceError
from launcher.discovery import Loaded
from launcher.plan import Plan
from launcher.records import Submission
from launcher.status import JobStatus, failure_tail

STATE_STYLES = {
    "COMPLETED": "green",
    "RUNNING": "cyan",
    "PENDING": "yellow",
    "REQUEUED": "yellow",
    "WAITING": "yellow",
    "FAILED": "bold red",
    "LOST": "bold red",
    "CANCELLED": "red",
    "NOT_RUN": "red",
    "TIMEOUT": "red",
    "UNKNOWN": "magenta",
}


def _clock(epoch: float | None) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M:%S") if epoch else ""


def status_table(submission: Submission, statuses: list[JobStatus], width: int = 160) -> Table:
    """One row per job (per array task). Below 120 columns, start, end and node are left out."""
    wide = width >= 120
    table = Table(title=f"submission {submission.id} ({submission.executor}, {submission.folder})", title_justify="left")
    columns = ["job", "job id", "state", "elapsed"] + (["start", "end", "node"] if wide else [])
    for column in columns:
        table.add_column(column, no_wrap=True)
    # The reason (why it waits, why it failed) gets the room that is left, wrapped.
    table.add_column("reason / exit code", ratio=1, overflow="fold")
    for status in statuses:
        job = status.key if status.task is None else f"{status.key}[{status.task}]"
        state = status.state + (f" ({status.restarts} restart{'s' if status.restarts > 1 else ''})" if status.restarts else "")
        cells = [job, status.job_id or "", Text(state, style=STATE_STYLES.get(status.state, "")), status.elapsed]
        if wide:
            cells += [_clock(status.start), _clock(status.end), status.node]
        table.add_row(*cells, status.reason)
    return table


def failure_panels(submission: Submission, statuses: list[JobStatus], lines: int = 15) -> list[Panel]:
    """The log tail of every job that failed or was lost: why, in its own words."""
    panels = []
    for status in statuses:
        if status.state not in ("FAILED", "LOST", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"):
            continue
        log_lines = failure_tail(submission, status, lines)
        entry = submission.entry(status.key)
        path = submission.log_path(entry, entry.job_id, status.task) if entry else None
        body = Text("\n".join(log_lines) if log_lines else f"(no log at {path})")
        panels.append(Panel(body, title=f"{status.key}: last lines of {path}", title_align="left", border_style="red"))
    return panels


def status_view(submission: Submission, statuses: list[JobStatus], width: int = 160) -> Group:
    return Group(status_table(submission, statuses, width), *failure_panels(submission, statuses))


def plan_table(plan: Plan) -> Table:
    table = Table(title=f"submission {plan.submission_id} ({plan.executor}) -> {plan.job_dir}", title_justify="left")
    table.add_column("job", no_wrap=True)  # the key users type (logs, cancel): never broken
    for column in ("experiment", "seed", "gpus", "cpus", "mem", "time", "after (afterok)"):
        table.add_column(column, overflow="fold")
    for job in plan.jobs:
        seed = "" if job.context.seed is None else str(job.context.seed)
        deps = job.depends_on
        after = ", ".join(deps) if len(deps) <= 3 else f"{len(deps)} jobs: {deps[0]} … {deps[-1]}"
        res = job.resources
        table.add_row(job.key, job.experiment.name, seed, str(res.gpus), str(res.cpus), res.mem, res.time, after)
    return table


def request_view(plan: Plan) -> Group:
    """What the submission asks for, per job shape, the GPU-hours at the time limits and the expected ones."""
    from launcher.estimate import expected, requested

    table = Table(title="the submission asks for", title_justify="left")
    for column in ("shape", "jobs", "GPUs/job", "CPUs/job", "mem/job", "time limit", "GPU-hours at the limit"):
        table.add_column(column, justify="left" if column == "shape" else "right")
    lines = requested(plan)
    for line in lines:
        table.add_row(line.shape, str(line.jobs), str(line.gpus), str(line.cpus), line.mem, line.time, f"{line.gpu_hours:,.0f}")
    gpus = sum(line.jobs * line.gpus for line in lines)
    at_limit = sum(line.gpu_hours for line in lines)
    parts: list = [table]
    if not gpus:
        parts.append(Text(f"GPUs: none ({sum(line.jobs for line in lines)} CPU jobs)"))
        return Group(*parts)
    try:
        guess = expected(plan)
    except (AnceError, OSError) as exc:  # data not there yet and of unknown size: say so, do not guess
        estimate = f"no estimate ({exc})"
    else:
        estimate = f"expected ~{guess.gpu_hours:,.0f} from the scale model ({guess.basis})" if guess else "no estimate"
    parts.append(Text(f"GPU-hours: {at_limit:,.0f} at the time limits ({gpus} GPUs in {sum(line.jobs for line in lines if line.gpus)} "
                      f"GPU jobs); {estimate}"))
    return Group(*parts)


def validation_table(loaded: list[Loaded], problems: dict[str, str]) -> Table:
    table = Table(title="experiments", title_justify="left")
    for column in ("file", "name", "seeds", "executor", "runtime", "result"):
        table.add_column(column, overflow="fold")
    for item in loaded:
        exp = item.experiment
        error = item.error or (problems.get(exp.name) if exp else None)
        result = Text("invalid (below)", style="red") if error else Text("ok", style="green")
        if exp is None:
            table.add_row(str(item.source), "", "", "", "", result)
        else:
            res = exp.resources
            table.add_row(str(item.source), exp.name, ",".join(map(str, exp.seeds)), res.executor, res.runtime, result)
    return table
