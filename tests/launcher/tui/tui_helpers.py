"""Helpers the TUI tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ance_core.config import load_experiment
from launcher.plan import plan_study, write_plan
from launcher.records import load_submission, set_job_ids
from launcher.status import collect
from launcher.submit import resolve_all

from launcher.tui.screens.experiments import ExperimentsScreen
from launcher.tui.screens.jobs import JobsScreen
from launcher.tui.screens.submit import SubmitScreen
from launcher.tui.widgets.experiment_table import ExperimentTable

START = 1_767_268_800.0  # 2026-01-01 12:00 UTC: fixed job times (only differences, elapsed, are shown)
JOB_TIMEOUT = 120  # a stage starts a Python with torch: seconds on a loaded 2-core machine

TOP20 = """\
name: top20
description: top 20 of the ANN top 200 (the data folder is empty on purpose)
strategy: top20
seeds: [0]
data:
  dataset: data/empty
ance:
  refresh_every: 10
  refreshes: 2
  segment:
    kind: top
    windows: [[0, 20]]
resources:
  executor: local
  gpus: 0
"""

BAD = """\
name: bad
ance:
  segment:
    kind: top
    windows: [[0, 20], [30, 10]]
train:
  lr: -1
"""

BROKEN = """\
name: broken
ance:
  segment: [unclosed
"""

BASE = """\
data:
  dataset: builtin:debian-10pct
resources:
  gpus: 4
  executor: slurm
"""

RANDOM20 = """\
extends: ../_base.yaml
name: random20
seeds: [0, 1]
ance:
  segment:
    kind: random
    windows: [[0, 200]]
"""


def write_experiments(folder: Path) -> Path:
    """bad.yaml (two schema problems), broken.yaml (not YAML), top20.yaml (valid), sub/random20.yaml (valid,
    extends _base.yaml, which is no experiment itself)."""
    (folder / "sub").mkdir(parents=True)
    (folder.parent / "data" / "empty").mkdir(parents=True, exist_ok=True)  # there, so the pre-flight lets it through
    (folder / "top20.yaml").write_text(TOP20)
    (folder / "bad.yaml").write_text(BAD)
    (folder / "broken.yaml").write_text(BROKEN)
    (folder / "_base.yaml").write_text(BASE)
    (folder / "sub" / "random20.yaml").write_text(RANDOM20)
    return folder


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 30.0, what: str = "",
                   explain: Callable[[], str] | None = None) -> None:
    """Let the app run until `condition()` holds (workers, timers and threads land meanwhile).

    `explain()`, on a timeout, says what the app showed instead (a failure in CI is read from its log).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}{detail}")
        await pilot.pause(0.1)


def explain_jobs(screen: JobsScreen, submission: str) -> Callable[[], str]:
    """What the jobs screen shows for `submission` next to what a fresh status query says now."""
    def explain() -> str:
        shown = {row.label: (row.status.state, row.status.reason, row.status.source) for row in screen.rows
                 if row.submission.id == submission}
        folder = next((row.submission.folder for row in screen.rows if row.submission.id == submission), None)
        fresh = {s.key: (s.state, s.reason, s.source) for s in collect(load_submission(folder))} if folder else "-"
        return (f"shown: {shown}\nfresh collect: {fresh}\nslurm problem: {screen.slurm_problem}\n"
                f"workers: {[(w.name, w.state.name) for w in screen.workers]}\nscreen:\n{screen_text(screen.app)}")
    return explain


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
    await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen), what="the jobs screen",
                   explain=lambda: f"notifications: {[n.message for n in app._notifications]}\nscreen:\n{screen_text(app)}")
    return submission


def _record(folder: Path, key: str, job_id: str, state: str, exit_code: int | None, seconds: float, offset: float) -> None:
    record = {"key": key, "job_id": job_id, "array_task": None, "executor": "local", "state": state,
              "exit_code": exit_code, "host": "node01", "pid": 4242, "restart_count": 0,
              "start": START + offset, "end": START + offset + seconds}
    (folder / "records" / f"{key}.json").write_text(json.dumps(record))


def write_submissions(workdir: Path) -> None:
    """Two submissions as the local executor leaves them: a report that completed, a chain whose warm-up failed."""
    source = workdir / "experiments" / "top20.yaml"
    resolved = resolve_all([(source, load_experiment(source))], str(workdir), str(workdir / "runs"))

    older = plan_study(resolved, submission_id="20260101-120000-aaaa", workdir=str(workdir), executor="local", ance=("ance",))
    older.jobs = [job for job in older.jobs if job.key == "report"]
    write_plan(older)
    set_job_ids(older.job_dir, {"report": "local1"})
    _record(older.job_dir, "report", "local1", "completed", 0, 7.4, 0)
    (older.job_dir / "logs" / "report-local1.out").write_text("[2026-01-01 12:00:00] ance-launch: job local1 (report)\n")

    newer = plan_study(resolved, submission_id="20260101-130000-bbbb", workdir=str(workdir), executor="local", ance=("ance",))
    write_plan(newer)
    set_job_ids(newer.job_dir, {"prep": "local1", "warmup.s0": "local2", "refresh0.s0": "local3",
                                "run.top20.s0": "local4", "report": "local5"})
    _record(newer.job_dir, "prep", "local1", "failed", 2, 21.6, 3600)
    (newer.job_dir / "logs" / "prep-local1.out").write_text(
        "[2026-01-01 13:00:00] ance-launch: job local1 (prep) on node01, restart 0, executor local\n"
        "ERROR    data/empty/collection.tsv: file: expected the collection (collection.tsv or\n"
        "         collection.tsv.gz), found no such file\n"
        "[2026-01-01 13:00:21] ance-launch: the stage failed (exit 2)\n")
