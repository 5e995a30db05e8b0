"""Jobs: our submissions' jobs with state, elapsed time, node and reason, refreshed every few seconds
in a worker; the selected job's log followed below; cancel with confirmation."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer

from ance_core.errors import AnceError
from launcher.cancel import cancel_jobs
from launcher.slurm import Slurm
from launcher.tui.screens.base import ModeScreen
from launcher.tui.screens.confirm import ConfirmScreen
from launcher.tui.tracking import JobRow, Snapshot, Tracker
from launcher.tui.widgets.job_table import JobTable
from launcher.tui.widgets.log_follower import LogFollower
from launcher.tui.widgets.notice import Notice

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 3.0
SLURM_CHECK_SECONDS = 30.0  # between two `sinfo` calls: whether SLURM answers changes rarely


class JobsScreen(ModeScreen):
    MODE = "jobs"
    BINDINGS = [
        Binding("c", "cancel", "Cancel job"),
        Binding("r", "refresh", "Refresh"),
        Binding("l", "focus_log", "Log"),
    ]
    HELP = f"""
## Jobs

The jobs of the newest submissions under the runs roots (`--runs DIR`, else
the experiments' `outputs.root` and `runs/`), newest first, refreshed every
{REFRESH_SECONDS:.0f} s without blocking the screen. A state comes from
`squeue` while SLURM remembers the job, then `sacct`, then the record the
job's script wrote itself, so finished jobs keep their outcome. **NOT_RUN**: a
job it depended on did not succeed. **reason**: why a job waits, or its exit code.

The pane below follows the selected job's log (it is polled: NFS has no
inotify). Without SLURM on this machine the screen says so; local jobs are
listed all the same.

| key | |
| --- | --- |
| `up` `down`, click | select a job; its log follows below |
| `c` | cancel the selected job (asks first): `scancel`, or SIGTERM for a local job |
| `r` | refresh now |
| `l` | move to the log pane (scroll with arrows, `end` to follow again) |
"""

    def __init__(self) -> None:
        super().__init__()
        self.tracker = Tracker([])
        self.slurm_problem: str | None = None
        self._slurm_checked: float | None = None  # monotonic time of the last `sinfo`
        self._select: str | None = None  # row to put the cursor on when it appears (a new submission's first job)
        self._selected_submission: str | None = None  # the submission whose first job was selected so
        self.rows: list[JobRow] = []

    def compose(self) -> ComposeResult:
        yield self.mode_bar()
        yield Notice(id="slurm")
        yield Notice(id="problems")
        yield JobTable()
        yield LogFollower()
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(REFRESH_SECONDS, self._tick)

    def on_screen_resume(self) -> None:
        last = self.session.last_submission
        if last is not None and str(last.resolve()) != self._selected_submission:
            # The first job of the submission just made, once: back from a modal the cursor stays where it was.
            self._select = self._selected_submission = str(last.resolve())
        self.action_refresh()

    def _tick(self) -> None:
        if self.is_current:  # not while another screen is shown: squeue is not free on a busy cluster
            self.action_refresh()

    def action_refresh(self) -> None:
        self.tracker.roots = self.session.runs_roots()
        self.gather()

    @work(thread=True, exclusive=True, group="jobs")
    def gather(self) -> None:
        problem = self.slurm_problem
        if self._slurm_checked is None or time.monotonic() - self._slurm_checked > SLURM_CHECK_SECONDS:
            problem = Slurm(timeout=10).ping()
            self._slurm_checked = time.monotonic()
        try:
            snapshot = self.tracker.snapshot()
            self.app.call_from_thread(self.show_snapshot, snapshot, problem)
        except Exception as exc:  # noqa: BLE001  one failed refresh must not close the app; the next tick retries
            logger.exception("refreshing the jobs failed")
            self.app.call_from_thread(self.show_refresh_error, exc)

    def show_refresh_error(self, exc: Exception) -> None:
        self.query_one("#problems", Notice).say(
            f"could not refresh the jobs ({type(exc).__name__}: {exc}); retrying every {REFRESH_SECONDS:.0f} s", "error")

    def show_snapshot(self, snapshot: Snapshot, slurm_problem: str | None) -> None:
        self.slurm_problem = slurm_problem
        roots = ", ".join(self.session.shown(root) for root in self.tracker.roots)
        if slurm_problem:
            self.query_one("#slurm", Notice).say(
                f"SLURM is not available here ({slurm_problem}). Local jobs still work: "
                "executor local on the Script screen.", "warning")
        else:
            self.query_one("#slurm", Notice).say(f"SLURM answers. Submissions under {roots}")
        self.query_one("#problems", Notice).say("\n".join(snapshot.problems), "error")
        self.rows = snapshot.rows
        table = self.query_one(JobTable)
        select = None
        if self._select is not None:
            select = next((row.key for row in snapshot.rows if str(row.submission.folder.resolve()) == self._select), None)
            if select is not None:
                self._select = None
        if not snapshot.rows:
            self.query_one("#problems", Notice).say(f"no submissions under {roots} yet: submit one from the Script screen (2)")
        table.show(snapshot.rows, select)
        self.follow_selected()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.follow_selected()

    def follow_selected(self) -> None:
        row = self.query_one(JobTable).selected()
        log = self.query_one(LogFollower)
        if row is None:
            log.follow(None, "(no job selected)")
            return
        path = row.log_path()
        log.follow(path, f"{row.label} has not been started yet ({row.status.state})" if path is None else "",
                   title=self.session.shown(path) if path else "")

    def action_focus_log(self) -> None:
        self.query_one(LogFollower).focus()

    def action_cancel(self) -> None:
        row = self.query_one(JobTable).selected()
        if row is None:
            return
        if row.status.finished:
            # NOT_SUBMITTED / WAITING local jobs count as finished too: they start only if what they wait for succeeds.
            self.notify(f"{row.label} is {row.status.state}: nothing to cancel")
            return
        job_id = f" (job {row.status.job_id})" if row.status.job_id else ""
        question = (f"Cancel {row.label}{job_id} of submission {row.submission.id}?\n"
                    "Jobs that depend on it will not run.")
        self.app.push_screen(ConfirmScreen(question, yes="Cancel the job", no="Keep it"),
                             lambda yes: self.cancel(row) if yes else None)

    @work(thread=True, group="cancel")
    def cancel(self, row: JobRow) -> None:
        try:
            stopped = cancel_jobs(row.submission, [row.status.key])
        except AnceError as exc:
            self.app.call_from_thread(self.notify, f"could not cancel {row.label}: {exc}", severity="error")
            return
        message = f"cancelled {row.label}" if stopped else f"{row.label}: nothing running to stop"
        self.app.call_from_thread(self.notify, message)
        self.app.call_from_thread(self.action_refresh)

    def log_path(self) -> Path | None:
        return self.query_one(LogFollower).path
