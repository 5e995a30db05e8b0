"""Snapshots of the main screens at 80x24 (and the big ones at 200x50), with fixed content.

Anything that changes from run to run is fixed here: the job folder and its
records are written with set times, ids and host; the SLURM check answers
"not installed" (the no-SLURM view); submission ids are fixed; the script
screen, whose batch script holds absolute paths, runs in a fixed folder.
Update after an intended change with `pytest tests/launcher/tui --snapshot-update`
and look at the SVGs (the report pytest-textual-snapshot writes shows the diff).
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

from helpers.report_runs import write_study
from launcher import plan
from launcher.slurm import Slurm
from launcher.tui import scripts
from launcher.tui.app import LauncherApp
from launcher.tui.screens.jobs import JobsScreen
from launcher.tui.screens.results import ResultsScreen
from launcher.tui.session import Session
from launcher.tui.widgets.log_follower import LogFollower
from tui_helpers import screen_text, select_experiment, wait_for, write_experiments, write_submissions

FIXED_FOLDER = Path("/tmp/ance-tui-snapshot")
NO_SLURM = "sinfo is not installed here (not on PATH)"


@pytest.fixture
def no_slurm_answer(monkeypatch):
    monkeypatch.setattr(Slurm, "ping", lambda self: NO_SLURM)


@pytest.fixture
def fixed_workdir():
    """A fresh FIXED_FOLDER, held under a lock while the test runs (two test runs at once share /tmp)."""
    FIXED_FOLDER.parent.mkdir(exist_ok=True)
    with open(f"{FIXED_FOLDER}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(FIXED_FOLDER, ignore_errors=True)
        write_experiments(FIXED_FOLDER / "experiments")
        yield FIXED_FOLDER
        shutil.rmtree(FIXED_FOLDER, ignore_errors=True)


def make_app(workdir: Path) -> LauncherApp:
    return LauncherApp(Session.create(["experiments"], runs="runs", workdir=str(workdir)))


async def experiments_loaded(pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.session.entries, what="the experiments")
    # Every file's name in full on a row of the table (the file view's title also names one).
    rows = [f"│ {entry.label} " for entry in pilot.app.session.entries]
    await wait_for(pilot, lambda: all(row in screen_text(pilot.app) for row in rows), what="the table's rows")
    await pilot.pause()


def test_experiments_screen_80x24(snap_compare, workdir: Path):
    assert snap_compare(make_app(workdir), terminal_size=(80, 24), run_before=experiments_loaded)


def test_experiments_screen_200x50(snap_compare, workdir: Path):
    assert snap_compare(make_app(workdir), terminal_size=(200, 50), run_before=experiments_loaded)


def test_script_screen_80x24(snap_compare, fixed_workdir: Path):
    async def show_script(pilot) -> None:
        await select_experiment(pilot, "top20.yaml")
        await pilot.press("2", "a")  # runtime apptainer: `ance` from the image, not this machine's venv path
        await pilot.pause()

    assert snap_compare(make_app(fixed_workdir), terminal_size=(80, 24), run_before=show_script)


def test_submit_modal_80x24(snap_compare, fixed_workdir: Path, monkeypatch):
    monkeypatch.setattr(scripts, "new_submission_id", lambda: "20260101-140000-cccc")
    # natively the script names `ance` beside this venv's python: its path (and so the script's
    # widest line, which sizes the scrollbars) depends on where the checkout lies
    monkeypatch.setattr(plan, "default_command", lambda runtime, program="ance": (f"/opt/venv/bin/{program}",))

    async def open_modal(pilot) -> None:
        await select_experiment(pilot, "top20.yaml")
        await pilot.press("2", "s")  # the script behind the modal holds absolute paths: a fixed folder
        await pilot.pause()

    assert snap_compare(make_app(fixed_workdir), terminal_size=(80, 24), run_before=open_modal)


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_jobs_screen_without_slurm(snap_compare, workdir: Path, no_slurm_answer, size):
    write_submissions(workdir)

    async def show_jobs(pilot) -> None:
        await experiments_loaded(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, JobsScreen) and len(pilot.app.screen.rows) == 6)
        log = pilot.app.screen.query_one(LogFollower)
        await wait_for(pilot, lambda: any("the stage failed" in line for line in log.lines), what="the log")

    assert snap_compare(make_app(workdir), terminal_size=size, run_before=show_jobs)


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_results_screen(snap_compare, workdir: Path, size):
    write_study(workdir / "runs" / "embedded")

    async def show_results(pilot) -> None:
        await experiments_loaded(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen) and not pilot.app.screen.reading)
        await pilot.pause()

    assert snap_compare(make_app(workdir), terminal_size=size, run_before=show_results)


def test_help_screen_80x24(snap_compare, workdir: Path):
    async def show_help(pilot) -> None:
        await experiments_loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(workdir), terminal_size=(80, 24), run_before=show_help)

