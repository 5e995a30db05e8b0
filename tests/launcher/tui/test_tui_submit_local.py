"""Submit from the TUI to the local executor and follow the jobs to their end, with real stages.

The chain (prep -> warm-up -> refresh 0 -> run -> report) of an experiment whose
data folder is empty fails at its first job: the jobs screen shows FAILED with the
log, and the jobs after it NOT_RUN. One whose data folder is missing is refused by
the pre-flight and nothing is submitted. The report job alone, over a run folder,
completes, and its run shows on the results screen.
"""

from __future__ import annotations

from pathlib import Path

from helpers.report_runs import write_run
from launcher.tui.app import LauncherApp
from launcher.tui.screens.jobs import JobsScreen
from launcher.tui.screens.results import ResultsScreen
from launcher.tui.screens.submit import SubmitScreen
from launcher.tui.widgets.job_table import JobTable
from launcher.tui.widgets.log_follower import LogFollower
from launcher.tui.widgets.strategy_table import StrategyTable
from tui_helpers import JOB_TIMEOUT, explain_jobs, screen_text, select_experiment, states, submit, wait_for


async def test_failing_chain_shows_failed_with_its_log_and_the_rest_not_run(app: LauncherApp):
    async with app.run_test(size=(120, 40)) as pilot:
        await select_experiment(pilot, "top20.yaml")
        await pilot.press("2", "s")
        await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
        modal = screen_text(app)
        # What will be submitted, with the dependency chain.
        assert "submit 5 jobs (local, native)" in modal
        for line in ("prep", "warmup.s0", "refresh0.s0", "run.top20.s0", "report"):
            assert line in modal
        plan = app.screen.plan
        assert [(job.key, job.depends_on) for job in plan.jobs] == [
            ("prep", ()), ("warmup.s0", ("prep",)), ("refresh0.s0", ("warmup.s0",)), ("run.top20.s0", ("refresh0.s0",)),
            ("report", ("run.top20.s0",))]
        submission = plan.submission_id
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        screen = app.screen

        await wait_for(pilot, lambda: states(screen, submission).get("prep") == "FAILED", JOB_TIMEOUT, "prep FAILED",

                       explain_jobs(screen, submission))
        await wait_for(pilot, lambda: not app.session.running_local, JOB_TIMEOUT, "the local chain to end")
        await pilot.press("r")
        await wait_for(pilot, lambda: states(screen, submission).get("report") == "NOT_RUN", 30, "report NOT_RUN")
        assert states(screen, submission) == {"prep": "FAILED", "warmup.s0": "NOT_RUN", "refresh0.s0": "NOT_RUN",
                                              "run.top20.s0": "NOT_RUN", "report": "NOT_RUN"}

        # The cursor went to the new submission's first job, and its log is followed below.
        assert screen.query_one(JobTable).selected().label == "prep"
        log = screen.query_one(LogFollower)
        await wait_for(pilot, lambda: any("the stage failed" in line for line in log.lines), 10, "the log's failure line")
        text = screen_text(app)
        assert "FAILED" in text and "exit code" in text and "NOT_RUN" in text
        assert "dependency prep failed" in text


async def test_a_missing_data_set_is_refused_by_the_pre_flight_and_nothing_is_submitted(app: LauncherApp, workdir: Path):
    (workdir / "data" / "empty").rmdir()
    async with app.run_test(size=(120, 40)) as pilot:
        await select_experiment(pilot, "top20.yaml")
        await pilot.press("2", "s")
        await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
        await pilot.press("y")
        messages = lambda: " ".join(n.message for n in app._notifications)  # noqa: E731
        await wait_for(pilot, lambda: "pre-flight" in messages(), 30, "the pre-flight's refusal")
        assert "data.dataset" in messages() and f"{workdir}/data/empty does not exist" in messages()
        assert not isinstance(app.screen, JobsScreen) and not (workdir / "runs" / "_jobs").exists()


async def test_report_job_alone_completes_and_its_run_shows_in_results(app: LauncherApp, workdir: Path):
    write_run(workdir / "runs", "top20", 0, {0: 0.50, 1: 0.55, 2: 0.61})
    async with app.run_test(size=(120, 40)) as pilot:
        # template: run -> run_multinode -> encode -> report. The run is finished, so the submission
        # leaves out its jobs (resubmission skips finished runs): the report alone, "y" submits it.
        submission = await submit(pilot, "top20.yaml", ("t", "t", "t"), "y")
        screen = app.screen
        await wait_for(pilot, lambda: states(screen, submission).get("report") == "COMPLETED", JOB_TIMEOUT, "report COMPLETED",
                       explain_jobs(screen, submission))
        assert states(screen, submission) == {"report": "COMPLETED"}
        assert (Path(app.session.last_submission) / "report" / "report.md").is_file()

        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
        results = app.screen
        await wait_for(pilot, lambda: results.query_one(StrategyTable).row_count == 1, 30, "the results table")
        text = screen_text(app)
        assert "top20" in text and "0.5000" in text and "0.6100" in text
