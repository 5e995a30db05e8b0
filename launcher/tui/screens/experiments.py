"""Experiments: every experiment file with its key settings; the selected file highlighted, its problems
listed (field path and message) and marked in the file. Submission is disabled while it has problems."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer

from launcher.tui import catalog
from launcher.tui.catalog import ExperimentEntry
from launcher.tui.screens.base import ModeScreen
from launcher.tui.widgets.code_view import CodeView
from launcher.tui.widgets.experiment_table import ExperimentTable
from launcher.tui.widgets.notice import Notice
from launcher.tui.widgets.problem_list import ProblemList
from launcher.tui.yaml_lines import line_of


class ExperimentsScreen(ModeScreen):
    MODE = "experiments"
    BINDINGS = [
        # priority: the table's own `enter` (select a row) would hide this one from the footer.
        Binding("enter", "script", "Script", priority=True),
        Binding("s", "submit", "Submit"),
        Binding("r", "reload", "Reload"),
    ]
    HELP = """
## Experiments

Every experiment YAML under the experiment folders (`--experiments DIR`,
default `experiments/`, subfolders included; `_*.yaml` bases left out), with
its rank **segment** (which candidates become negatives), dataset, model, GPUs
and executor. Below: the selected file, and its problems if it has any —
field path, what was expected, what was found; the line is marked in red.
A file with problems cannot be submitted.

| key | |
| --- | --- |
| `up` `down`, click | select an experiment |
| `enter` | its batch script (screen 2) |
| `s` | submit it (asks first; on the script screen) |
| `r` | read the files again (after editing one) |
"""

    def compose(self) -> ComposeResult:
        yield self.mode_bar()
        yield Notice(id="notice")
        yield ExperimentTable(id="experiments")
        yield ProblemList(id="problems")
        yield CodeView(id="yaml")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(CodeView).show_message("reading the experiment files ...")
        self.scan()

    def action_reload(self) -> None:
        self.scan()

    @work(thread=True, exclusive=True, group="scan")
    def scan(self) -> None:
        session = self.session
        entries = catalog.scan(session.experiment_dirs, session.runs, session.workdir)
        self.app.call_from_thread(self.show_entries, entries)

    def show_entries(self, entries: list[ExperimentEntry]) -> None:
        session = self.session
        session.entries = entries
        if session.entry() is None:
            session.selected = entries[0].source if entries else None
        folders = ", ".join(session.shown(folder) for folder in session.experiment_dirs)
        bad = sum(1 for entry in entries if not entry.ok)
        if not entries:
            self.query_one("#notice", Notice).say(
                f"no experiment files under {folders}. Start ance-launch in the bundle's folder, "
                "or give one: ance-launch tui --experiments DIR", "warning")
        else:
            problems = f"; {bad} with problems" if bad else ""
            self.query_one("#notice", Notice).say(f"{len(entries)} experiment(s) in {folders}{problems}", "warning" if bad else "info")
        self.query_one(ExperimentTable).show(entries, session.selected)
        self.show_selected()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.session.selected = Path(event.row_key.value)
            self.show_selected()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_script()  # a click on the selected row

    def show_selected(self) -> None:
        entry = self.session.entry()
        view = self.query_one(CodeView)
        problems = self.query_one(ProblemList)
        if entry is None:
            view.show_message("no experiment selected")
            problems.show([])
            self.refresh_bindings()
            return
        lines = [line_of(entry.text, problem.where) for problem in entry.problems]
        problems.show(entry.problems, lines)
        view.show_code(entry.text, "yaml", title=self.session.shown(entry.source), marked={line for line in lines if line})
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "submit":
            entry = self.session.entry()
            return True if entry is not None and entry.ok else None  # shown, greyed out
        return True

    def action_script(self) -> None:
        self.app.switch_mode("script")

    async def action_submit(self) -> None:
        await self.app.switch_mode("script")
        await self.app.screen.run_action("submit")
