"""The jobs screen: no SLURM here, cancel with confirmation, the log pane following a growing file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from helpers.report_runs import write_run
from launcher.status import JobStatus
from launcher.tui.app import LauncherApp
from launcher.tui.screens.confirm import ConfirmScreen
from launcher.tui.screens.jobs import JobsScreen
from launcher.tui.tracking import Tracker, settled
from launcher.tui.widgets.job_table import JobTable
from launcher.tui.widgets.log_follower import LogFollower
from tui_helpers import JOB_TIMEOUT, explain_jobs, screen_text, select_experiment, states, submit, wait_for, write_submissions

SLURM_COMMANDS = {"sbatch", "squeue", "sinfo", "sacct", "scancel", "scontrol", "srun", "salloc", "sattach", "sstat"}

LONG = """\
name: long
description: "a real BM25 warm-up on the built-in corpus: minutes of CPU, so it still runs when cancelled"
seeds: [0]
data:
  dataset: builtin:debian-10pct
resources:
  executor: local
"""


@pytest.fixture
def no_slurm(tmp_path: Path, monkeypatch) -> None:
    """A PATH with every command of this machine but SLURM's, as on a laptop."""
    bin_dir = tmp_path / "bin-without-slurm"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            target = bin_dir / name
            if name not in SLURM_COMMANDS and not target.exists():
                target.symlink_to(Path(folder) / name)
    monkeypatch.setenv("PATH", str(bin_dir))


async def test_without_slurm_the_screen_says_so(app: LauncherApp, no_slurm):
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.slurm_problem, what="the SLURM check")
        text = screen_text(app)
        assert "SLURM is not available here (sinfo is not installed here" in text
        assert "Local jobs still work" in text
        assert "no submissions under runs yet" in text

        await select_experiment(pilot, "top20.yaml")
        await pilot.press("2", "e")  # executor slurm: the script screen warns too
        await wait_for(pilot, lambda: app.screen.slurm_problem, what="the script screen's SLURM check")
        assert "SLURM is not available here" in screen_text(app)


@pytest.mark.slow
async def test_without_slurm_local_jobs_still_run(app: LauncherApp, workdir: Path, no_slurm):
    write_run(workdir / "runs", "top20", 0, {0: 0.50, 1: 0.55})
    async with app.run_test(size=(100, 30)) as pilot:
        submission = await submit(pilot, "top20.yaml", ("t", "t", "t"), "o")  # the report job, local executor
        screen = app.screen
        await wait_for(pilot, lambda: states(screen, submission).get("report") == "COMPLETED", JOB_TIMEOUT, "report COMPLETED",
                       explain_jobs(screen, submission))


async def test_cancel_a_running_local_job_asks_then_stops_it_and_its_dependants(app: LauncherApp, workdir: Path):
    (workdir / "experiments" / "long.yaml").write_text(LONG)
    async with app.run_test(size=(100, 30)) as pilot:
        submission = await submit(pilot, "long.yaml", (), "y")
        screen = app.screen
        await wait_for(pilot, lambda: states(screen, submission).get("warmup.s0") == "RUNNING", JOB_TIMEOUT, "warmup RUNNING",
                       explain_jobs(screen, submission))
        assert screen.query_one(JobTable).selected().label == "prep"  # the new submission's first job
        await pilot.press("down")
        assert screen.query_one(JobTable).selected().label == "warmup.s0"

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "Cancel warmup.s0 (job local2)" in screen_text(app)
        await pilot.press("n")  # keep it: nothing happens
        await pilot.pause(0.5)
        assert states(screen, submission)["warmup.s0"] == "RUNNING"

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: states(screen, submission).get("warmup.s0") == "CANCELLED", JOB_TIMEOUT, "warmup CANCELLED",
                       explain_jobs(screen, submission))
        await wait_for(pilot, lambda: not app.session.running_local, JOB_TIMEOUT, "the local chain to end")
        await pilot.press("r")
        await wait_for(pilot, lambda: states(screen, submission).get("report") == "NOT_RUN", 30)
        assert states(screen, submission) == {"prep": "COMPLETED", "warmup.s0": "CANCELLED", "refresh0.s0": "NOT_RUN",
                                              "run.long.s0": "NOT_RUN", "report": "NOT_RUN"}


@pytest.mark.slurm
async def test_cancel_a_pending_slurm_job(app: LauncherApp, slurm_cluster):
    """The run job waits (afterok) for the warm-up; cancelled meanwhile, it never runs."""
    async with app.run_test(size=(100, 30)) as pilot:
        submission = await submit(pilot, "top20.yaml", ("e",), "y")
        screen = app.screen
        await wait_for(pilot, lambda: states(screen, submission).get("run.top20.s0") == "PENDING", JOB_TIMEOUT, "run PENDING",
                       explain_jobs(screen, submission))
        table = screen.query_one(JobTable)
        row = next(r for r in screen.rows if r.submission.id == submission and r.label == "run.top20.s0")
        table.move_cursor(row=table.get_row_index(row.key))
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: states(screen, submission).get("run.top20.s0") == "CANCELLED", JOB_TIMEOUT, "run CANCELLED",
                       explain_jobs(screen, submission))
        await wait_for(pilot, lambda: states(screen, submission).get("report") == "NOT_RUN", JOB_TIMEOUT, "report NOT_RUN",
                       explain_jobs(screen, submission))


async def test_finished_jobs_are_not_cancelled(app: LauncherApp, workdir: Path):
    write_submissions(workdir)  # as the local executor leaves them: completed, failed, not run
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen) and len(app.screen.rows) == 6)
        table = app.screen.query_one(JobTable)
        for index in range(table.row_count):
            table.move_cursor(row=index)
            await pilot.press("c")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen), table.selected().label


class _LogApp(App):
    def compose(self) -> ComposeResult:
        yield LogFollower()


async def test_log_follower_polls_a_growing_file_and_rereads_a_restarted_one(tmp_path: Path):
    log_file = tmp_path / "job.out"
    app = _LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        follower = app.query_one(LogFollower)
        follower.follow(log_file)
        await wait_for(pilot, lambda: any("not started" in line for line in follower.lines), 5)

        log_file.write_text("first line\nhalf a li")
        await wait_for(pilot, lambda: follower.lines[:2] == ["first line", "half a li"], 5, "the first read")
        with open(log_file, "a") as handle:
            handle.write("ne\nthird\n")
        await wait_for(pilot, lambda: follower.lines[:3] == ["first line", "half a line", "third"], 5, "the appended text")

        log_file.write_text("requeued\n")  # shorter than before: a new log
        await wait_for(pilot, lambda: follower.lines[0] == "requeued", 5, "the restarted log")
        assert "first line" not in follower.lines


async def test_log_follower_writes_each_line_once_when_two_reads_land(tmp_path: Path):
    """follow() reads at once and the timer reads too: on a busy machine both start from offset 0."""
    log_file = tmp_path / "job.out"
    log_file.write_text("one\ntwo\n")
    app = _LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        follower = app.query_one(LogFollower)
        follower.follow(log_file)
        await wait_for(pilot, lambda: follower.lines[:2] == ["one", "two"], 5, "the first read")
        follower._append(follower._generation, 0, "one\ntwo\n", 8, False)  # the second read from 0 lands late
        await pilot.pause()
        assert [line for line in follower.lines if line] == ["one", "two"]


def test_a_local_chain_between_two_jobs_is_not_settled():
    done = JobStatus("warmup.s0", "local1", "ance.warmup.s0", "COMPLETED")
    waiting = JobStatus("run.x.s0", None, "ance.run.x.s0", "NOT_SUBMITTED")
    assert settled(done) and not settled(waiting)


async def test_a_failed_refresh_is_shown_and_the_next_one_recovers(app: LauncherApp, workdir: Path, monkeypatch):
    """A refresh that raises (a bug, an unreadable file) must not close the app on a login node."""
    write_submissions(workdir)
    real_snapshot = Tracker.snapshot
    failures = [RuntimeError("disk went away")]

    def flaky(self):
        if failures:
            raise failures.pop()
        return real_snapshot(self)

    monkeypatch.setattr(Tracker, "snapshot", flaky)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("3")
        screen = app.screen
        await wait_for(pilot, lambda: "disk went away" in screen_text(app), 10, "the refresh error")
        assert "could not refresh the jobs (RuntimeError: disk went away)" in screen_text(app)
        await wait_for(pilot, lambda: screen.rows, 15, "the next refresh")
        assert "disk went away" not in screen_text(app)
