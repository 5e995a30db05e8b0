"""Submit from the TUI to the real local SLURM (`make slurm-up`) and follow the jobs to their end.

As with the local executor: a chain whose first job fails (an empty data
folder) shows FAILED with its log, and SLURM cancels the jobs after it
(afterok), shown NOT_RUN; the report job alone completes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.report_runs import write_run
from launcher.tui.app import LauncherApp
from launcher.tui.screens.jobs import JobsScreen
from launcher.tui.widgets.log_follower import LogFollower
from tui_helpers import JOB_TIMEOUT, explain_jobs, screen_text, states, submit, wait_for

pytestmark = pytest.mark.slurm


async def test_failing_chain_on_slurm(app: LauncherApp, slurm_cluster):
    async with app.run_test(size=(120, 40)) as pilot:
        submission = await submit(pilot, "top20.yaml", ("e",), "y")  # e: executor slurm
        screen: JobsScreen = app.screen
        assert screen.slurm_problem is None

        await wait_for(pilot, lambda: states(screen, submission).get("prep") == "FAILED", JOB_TIMEOUT, "prep FAILED",
                       explain_jobs(screen, submission))
        await wait_for(pilot, lambda: set(states(screen, submission).values()) == {"FAILED", "NOT_RUN"}, JOB_TIMEOUT,
                       "the chain to be cancelled by SLURM", explain_jobs(screen, submission))
        rows = {row.label: row for row in screen.rows if row.submission.id == submission}
        assert rows["prep"].status.job_id.isdigit()  # a real SLURM job id
        assert rows["prep"].status.reason == "exit code 2"
        log = screen.query_one(LogFollower)
        await wait_for(pilot, lambda: any("the stage failed" in line for line in log.lines), 10, "the log's failure line")
        assert "data.files.collection" in "\n".join(log.lines)
        assert "SLURM answers" in screen_text(app)
        # the timeout explanation itself works (it is only read when a wait fails)
        assert "'prep': ('FAILED', 'exit code 2', 'squeue')" in explain_jobs(screen, submission)()


async def test_report_job_alone_completes_on_slurm(app: LauncherApp, workdir: Path, slurm_cluster):
    write_run(workdir / "runs", "top20", 0, {0: 0.50, 1: 0.55, 2: 0.61})
    async with app.run_test(size=(120, 40)) as pilot:
        # The run is finished, so the submission is the report alone (its run's jobs are left out).
        submission = await submit(pilot, "top20.yaml", ("e", "t", "t", "t"), "y")
        screen: JobsScreen = app.screen
        await wait_for(pilot, lambda: states(screen, submission).get("report") == "COMPLETED", JOB_TIMEOUT, "report COMPLETED",
                       explain_jobs(screen, submission))
        assert states(screen, submission) == {"report": "COMPLETED"}
        assert (Path(app.session.last_submission) / "report" / "report.md").is_file()
