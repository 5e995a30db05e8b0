"""Confirm a submission: every job it makes, in order, with what each waits for (the dependency chain)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from launcher.plan import Plan

ALL = "all"
ONLY = "only"


def plan_table(plan: Plan, highlight: str | None) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold", expand=True)
    for column in ("job", "template", "seed", "after (afterok)"):
        table.add_column(column, overflow="fold")
    for job in plan.jobs:
        seed = "" if job.context.seed is None else str(job.context.seed)
        array = f" x{job.array_size}" if job.array_size else ""
        style = "bold" if job.key == highlight else ""
        table.add_row(job.key + array, job.template, seed, ", ".join(job.depends_on) or "-", style=style)
    return table


class SubmitScreen(ModalScreen[str | None]):
    """Returns ALL, ONLY (just the shown script's job, without its dependencies) or None."""

    DEFAULT_CSS = """
    SubmitScreen {
        align: center middle;
    }
    SubmitScreen > Vertical {
        width: 90%;
        max-width: 120;
        height: auto;
        max-height: 95%;
        border: thick $accent;
        border-title-color: $accent;
        background: $surface;
        padding: 0 1;
    }
    SubmitScreen VerticalScroll {
        height: auto;
        max-height: 12;
    }
    SubmitScreen .warning {
        color: $warning;
    }
    SubmitScreen Horizontal {
        height: auto;
        align-horizontal: right;
    }
    SubmitScreen Button {
        margin-left: 1;
    }
    """
    BINDINGS = [
        Binding("y", "answer('all')", "Submit all"),
        Binding("o", "answer('only')", "Only this job"),
        Binding("n,escape", "answer(None)", "Cancel"),
    ]

    def __init__(self, plan: Plan, runtime: str, only: str | None, warning: str = "", folder: str = ""):
        super().__init__()
        self.plan, self.runtime, self.only, self.warning = plan, runtime, only, warning
        self.folder = folder or str(plan.job_dir)  # how to show the job folder (relative where it can be)

    def compose(self) -> ComposeResult:
        plan = self.plan
        count = len(plan.jobs)
        with Vertical() as box:
            box.border_title = f"submit {count} job{'s' if count > 1 else ''} ({plan.executor}, {self.runtime})"
            yield Static(f"submission {plan.submission_id}\njob folder {self.folder}")
            with VerticalScroll():
                yield Static(plan_table(plan, self.only))
            if self.warning:
                yield Static(self.warning, classes="warning")
            with Horizontal():
                yield Button("Cancel (n)", id="cancel")
                if self.only and count > 1:
                    yield Button(f"Only {self.only} (o)", id="only")
                yield Button(f"Submit {count} (y)", id="all", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#all", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss({"all": ALL, "only": ONLY}.get(event.button.id or ""))

    def action_answer(self, answer: str | None) -> None:
        if answer == ONLY and not (self.only and len(self.plan.jobs) > 1):
            return
        self.dismiss(answer)
