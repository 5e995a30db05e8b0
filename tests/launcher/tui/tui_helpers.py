"""Helpers the TUI tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from launcher.tui.screens.experiments import ExperimentsScreen
from launcher.tui.screens.jobs import JobsScreen
from launcher.tui.screens.submit import SubmitScreen
from launcher.tui.widgets.experiment_table import ExperimentTable

JOB_TIMEOUT = 120  # a stage starts a Python with torch: seconds on a loaded 2-core machine


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Let the app run until `condition()` holds (workers, timers and threads land meanwhile)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        await pilot.pause(0.1)


def screen_text(app) -> str:
    """The screen as plain text, as a user would read it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def states(screen: JobsScreen, submission: str) -> dict[str, str]:
    return {row.label: row.status.state for row in screen.rows if row.submission.id == submission}


async def select_experiment(pilot, label: str) -> None:
    """Put the experiment list's cursor on `label`, as a user does (the screens follow the cursor)."""
    app = pilot.app
    if not isinstance(app.screen, ExperimentsScreen):
        await pilot.press("1")
    table = app.screen.query_one(ExperimentTable)
    await wait_for(pilot, lambda: table.row_count > 0, what="the experiment list")
    source = next(e.source for e in app.session.entries if e.label == label)
    table.move_cursor(row=table.get_row_index(str(source)))
    await wait_for(pilot, lambda: app.session.selected == source, what=f"{label} to be selected")


async def submit(pilot, experiment: str, keys: tuple[str, ...], answer: str) -> str:
    """Select `experiment`, press `keys` on the script screen, then `s` and `answer` in the modal."""
    app = pilot.app
    await select_experiment(pilot, experiment)
    await pilot.press("2", *keys)
    await pilot.pause()
    assert not app.screen.view.problems, app.screen.view.problems
    shown = app.screen.view.job.key
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen), what="the submit modal")
    submission = app.screen.plan.submission_id
    assert app.screen.only == shown  # "only" submits the job whose script is shown
    await pilot.press(answer)
    await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen), what="the jobs screen")
    return submission
