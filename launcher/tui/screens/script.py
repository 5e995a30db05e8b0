"""Script: the batch script of the selected experiment for a template, executor and runtime; write it
to a file, or submit (after a confirmation that lists the whole dependency chain)."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from ance_core.errors import AnceError
from ance_core.io.atomic import write_text
from launcher.plan import Plan
from launcher.slurm import Slurm
from launcher.preflight import preflight
from launcher.submit import launch
from launcher.tui import scripts
from launcher.tui.screens.base import ModeScreen
from launcher.tui.screens.path_prompt import PathPromptScreen
from launcher.tui.screens.submit import ALL, ONLY, SubmitScreen
from launcher.tui.widgets.code_view import CodeView
from launcher.tui.widgets.notice import Notice
from launcher.tui.widgets.problem_list import ProblemList
from launcher.tui.widgets.script_options import CHOICES, ScriptOptionsBar


class ScriptScreen(ModeScreen):
    MODE = "script"
    BINDINGS = [
        Binding("t", "cycle('template')", "Template"),
        Binding("e", "cycle('executor')", "Executor"),
        Binding("a", "cycle('runtime')", "Runtime"),
        Binding("w", "write", "Write"),
        Binding("s", "submit", "Submit"),
    ]
    HELP = """
## Script

The batch script the selected experiment's job gets, exactly as it would be
written into the job folder (`<runs>/_jobs/<submission>/scripts/`; here the
folder is called `preview`). The line above it says how it will be started:
with **slurm**, `sbatch` with `afterok` dependencies; with **local**, `bash`
on this machine, one job after the other. **runtime** `apptainer` runs each
stage inside the image with the data and runs folders bound.

Submitting asks first and lists every job of the submission — the shared
warm-up per seed, one run per seed, the report — with what each waits for.
"Only" submits just the shown job, without the jobs it depends on.

| key | |
| --- | --- |
| `t` `e` `a` | next template, executor, runtime (or use the drop-downs) |
| `w` | write the script to a file |
| `s` | submit (disabled while the experiment has problems) |
"""

    def __init__(self) -> None:
        super().__init__()
        self.view: scripts.ScriptPreview | None = None
        self.slurm_problem: str | None = None  # why SLURM cannot take jobs here; None: it answers (or unasked)
        self._slurm_asked = False

    def compose(self) -> ComposeResult:
        yield self.mode_bar()
        initial = scripts.effective_options(self.session.entry(), self.session.options)
        yield ScriptOptionsBar(*initial)
        yield Notice(id="how")
        yield ProblemList(id="problems")
        yield CodeView(id="script")
        yield Footer()

    def on_screen_resume(self) -> None:
        self.show_preview()

    # ------------------------------------------------------------ the preview

    def show_preview(self) -> None:
        session = self.session
        entry = session.entry()
        code = self.query_one(CodeView)
        problems = self.query_one(ProblemList)
        how = self.query_one("#how", Notice)
        if entry is None:
            self.view = None
            code.show_message("no experiment selected: pick one on the Experiments screen (1)")
            problems.show([])
            how.say("")
            self.refresh_bindings()
            return
        view = scripts.preview(entry.source, session.options, session.runs, session.workdir)
        self.view = view
        self.query_one(ScriptOptionsBar).show(session.options.template, view.executor, view.runtime)
        problems.show(view.problems)
        title = f"{entry.label}: {session.options.template}.sh.j2"
        if view.problems:
            code.show_message("no script: the experiment has the problems listed above", title)
            how.say("")
        else:
            code.show_code(view.text, "bash", title)
            self._say_how()
            if view.executor == "slurm" and not self._slurm_asked:
                self._slurm_asked = True
                self.ask_slurm()
        self.refresh_bindings()

    def _say_how(self) -> None:
        if self.view is None or self.view.problems:
            return
        note = scripts.launch_note(self.view)
        if self.view.executor == "slurm" and self.slurm_problem:
            self.query_one("#how", Notice).say(f"{note}\nSLURM is not available here: {self.slurm_problem}", "warning")
        else:
            self.query_one("#how", Notice).say(note)

    @work(thread=True, exclusive=True, group="slurm-ping")
    def ask_slurm(self) -> None:
        problem = Slurm(timeout=10).ping()
        self.app.call_from_thread(self._slurm_answer, problem)

    def _slurm_answer(self, problem: str | None) -> None:
        self.slurm_problem = problem
        self._say_how()

    def set_option(self, field: str, value: str) -> None:
        self.session.options = replace(self.session.options, **{field: value})
        self.show_preview()

    def action_cycle(self, field: str) -> None:
        values = CHOICES[field]
        current = self.session.options.template if field == "template" else getattr(self.view, field, None)
        index = values.index(current) if current in values else -1
        self.set_option(field, values[(index + 1) % len(values)])

    def on_script_options_bar_changed(self, message: ScriptOptionsBar.Changed) -> None:
        self.set_option(message.field, message.value)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("submit", "write"):
            ready = self.view is not None and not self.view.problems and bool(self.view.text)
            if action == "submit":
                ready = ready and self.view.plan is not None  # type: ignore[union-attr]
            return True if ready else None  # shown, greyed out
        return True

    # ------------------------------------------------------------ write

    def action_write(self) -> None:
        view = self.view
        if view is None or view.problems:
            return
        name = view.job.key if view.job else f"{view.options.template}.{view.source.stem}"
        default = str(Path(self.session.workdir) / f"{name}.sh")
        text = view.text

        def write(path: str | None) -> None:
            if not path:
                return
            target = Path(path).expanduser()
            if not target.is_absolute():
                target = Path(self.session.workdir) / target
            try:
                write_text(target, text)
                os.chmod(target, 0o755)
            except OSError as exc:
                self.notify(f"could not write {target}: {exc.strerror}", severity="error")
                return
            self.notify(f"wrote {self.session.shown(target)}")

        self.app.push_screen(PathPromptScreen("Write the script to:", default), write)

    # ------------------------------------------------------------ submit

    def action_submit(self) -> None:
        view = self.view
        if view is None or view.problems or view.plan is None:
            self.notify("nothing to submit: fix the experiment's problems first", severity="warning")
            return
        session = self.session
        try:
            plan = scripts.submission_plan(view.source, view.options, session.runs, session.workdir)
        except AnceError as exc:
            self.notify(str(exc), severity="error")
            return
        only = view.job.key if view.job else None
        warning = ""
        if plan.executor == "slurm" and self.slurm_problem:
            warning = f"SLURM is not available here: {self.slurm_problem}. Switch the executor to local (e)."

        def answer(choice: str | None) -> None:
            chosen = plan if choice == ALL else scripts.only_job(plan, only) if choice == ONLY and only else None
            if chosen is None:
                return
            try:
                preflight(chosen)  # a missing data set, model or image is said now, and nothing is queued
            except AnceError as exc:
                self.notify(str(exc), severity="error", timeout=20)
                return
            self.start(chosen)

        self.app.push_screen(SubmitScreen(plan, view.runtime, only, warning, session.shown(plan.job_dir)), answer)

    def start(self, plan: Plan) -> None:
        """Hand the plan to its executor off the UI thread, then show it on the Jobs screen.

        A plain daemon thread rather than a Textual worker: the local executor runs
        the whole chain before it returns, and quitting the TUI must not wait for
        it (the job running then finishes on its own; `q` warns about the rest).
        """
        session = self.session
        session.last_submission = plan.job_dir
        if plan.executor == "local":
            session.running_local.add(plan.submission_id)
        thread = threading.Thread(target=self._launch, args=(plan,), name=f"submit-{plan.submission_id}", daemon=True)
        thread.start()
        self.app.switch_mode("jobs")

    def _launch(self, plan: Plan) -> None:
        try:
            launch(plan)
        except AnceError as exc:
            self._tell(self.app.notify, f"submission {plan.submission_id}: {exc}", severity="error", timeout=15)
        else:
            what = "submitted to SLURM" if plan.executor == "slurm" else "finished (local executor)"
            self._tell(self.app.notify, f"submission {plan.submission_id} {what}")
        finally:
            self._tell(self._ended, plan.submission_id)

    def _ended(self, submission_id: str) -> None:
        self.session.running_local.discard(submission_id)

    def _tell(self, callback, *args, **kwargs) -> None:
        """Run `callback` on the UI thread, unless the app has quit meanwhile (the thread outlives it)."""
        try:
            self.app.call_from_thread(callback, *args, **kwargs)
        except RuntimeError:
            pass
