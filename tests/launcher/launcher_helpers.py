"""Helpers for the launcher tests: plans from experiments, waiting for jobs, the stand-in's events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ance_core.config import Experiment
from launcher.plan import Plan, new_submission_id, plan_study
from launcher.records import Submission, load_submission
from launcher.slurm import Slurm
from launcher.status import JobStatus, collect
from launcher.submit import resolve_all


def stand_in_events(tmp_path: Path) -> list[dict]:
    path = tmp_path / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def make_plan(experiments: list[Experiment], tmp_path: Path, executor: str, ance: tuple[str, ...] | None = None,
              report: bool = True) -> Plan:
    resolved = resolve_all([(f"{exp.name}.yaml", exp) for exp in experiments], tmp_path)
    return plan_study(resolved, submission_id=new_submission_id(), workdir=str(tmp_path), executor=executor,
                      ance=ance, report=report)


def wait_until(condition: Callable[[], bool], timeout: float, what: str | Callable[[], str], interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def wait_finished(submission: Submission, timeout: float = 300, slurm: Slurm | None = None) -> list[JobStatus]:
    """Poll until every job has finished; returns the final states."""
    result: list[JobStatus] = []

    def done() -> bool:
        nonlocal result
        result = collect(load_submission(submission.folder), slurm)
        return all(status.finished for status in result)

    wait_until(done, timeout, lambda: f"the jobs of {submission.folder} to finish (last: {[(s.key, s.state) for s in result]})", 1.0)
    return result
