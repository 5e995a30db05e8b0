"""Rich views for `ance-launch`: thin tables over plans, statuses and validation results."""

from __future__ import annotations

import datetime as dt

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

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
    for column in ("job", "template", "experiment", "seed", "after (afterok)"):
        table.add_column(column)
    for job in plan.jobs:
        seed = "" if job.context.seed is None else str(job.context.seed)
        deps = job.depends_on
        after = ", ".join(deps) if len(deps) <= 3 else f"{len(deps)} jobs: {deps[0]} … {deps[-1]}"
        table.add_row(job.key, job.template, job.experiment.name, seed, after)
    return table


def validation_table(loaded: list[Loaded], problems: dict[str, str]) -> Table:
    table = Table(title="experiments", title_justify="left")
    for column in ("file", "name", "seeds", "executor", "runtime", "result"):
        table.add_column(column, overflow="fold")
    for item in loaded:
        exp = item.experiment
        error = item.error or problems.get(str(item.source))
        result = Text("invalid (below)", style="red") if error else Text("ok", style="green")
        if exp is None:
            table.add_row(str(item.source), "", "", "", "", result)
        else:
            res = exp.resources
            table.add_row(str(item.source), exp.name, ",".join(map(str, exp.seeds)), res.executor, res.runtime, result)
    return table
