"""Run a submission's rendered scripts here, as subprocesses, in dependency order.

The same scripts SLURM would run (their #SBATCH lines are comments to bash):
`make reproduce-all` on a laptop goes through here. A job whose dependency did
not complete is not run, as with `afterok`. A script that exits 99 (the stage
checkpointed and asks to be requeued) is run again, as SLURM would requeue it.
Commands are argument lists; nothing goes through a shell but the script itself.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from launcher.records import Submission, set_job_ids
from launcher.render import MAX_REQUEUES, REQUEUE_EXIT_CODE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalResult:
    key: str
    job_id: str
    exit_code: int | None  # None: not run
    reason: str = ""


def _environment(job_id: str, task: int | None, restarts: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ANCE_EXECUTOR="local", ANCE_JOB_ID=job_id, ANCE_RESTART_COUNT=str(restarts))
    if task is not None:
        env["ANCE_ARRAY_TASK_ID"] = str(task)
    else:
        env.pop("ANCE_ARRAY_TASK_ID", None)
    return env


def _run_script(script: Path, log_path: Path, workdir: str, env: dict[str, str]) -> int:
    """bash SCRIPT > LOG in its own session; Ctrl-C here becomes a TERM the script forwards to its stage."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        process = subprocess.Popen(
            ["bash", str(script)], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return process.wait()
        except KeyboardInterrupt:
            log.warning("interrupted: stopping %s (it checkpoints if it can)", script.name)
            process.send_signal(signal.SIGTERM)
            process.wait()
            raise


def run_local(submission: Submission, workdir: str, on_event: Callable[[str, str], None] | None = None) -> list[LocalResult]:
    """Run every job of the submission in plan order (a topological order); returns what happened to each."""
    notify = on_event or (lambda key, message: log.info("%s: %s", key, message))
    results: dict[str, LocalResult] = {}
    for index, job in enumerate(submission.jobs, start=1):
        job_id = f"local{index}"
        set_job_ids(submission.folder, {job.key: job_id})
        blocked = next((dep for dep in job.depends_on if results.get(dep, LocalResult(dep, "", None)).exit_code != 0), None)
        if blocked is not None:
            results[job.key] = LocalResult(job.key, job_id, None, f"dependency {blocked} did not complete")
            notify(job.key, f"not run: dependency {blocked} did not complete")
            continue
        exit_code = 0
        for task in range(job.array_size) if job.array_size else [None]:
            log_path = submission.log_path(job, job_id, task)
            assert log_path is not None
            restarts = 0
            notify(job.key, f"running{'' if task is None else f' task {task}'} (log: {log_path})")
            while True:
                code = _run_script(Path(job.script), log_path, workdir, _environment(job_id, task, restarts))
                if code != REQUEUE_EXIT_CODE or restarts >= MAX_REQUEUES:
                    break
                restarts += 1
                notify(job.key, f"checkpointed; running it again (restart {restarts})")
            if code != 0:
                exit_code = code
                break
        cancelled = (submission.record(job.key, task) or {}).get("state") == "cancelled"
        reason = "" if exit_code == 0 else ("cancelled" if cancelled else f"exit code {exit_code}")
        results[job.key] = LocalResult(job.key, job_id, exit_code, reason)
        notify(job.key, "completed" if exit_code == 0 else ("cancelled" if cancelled else f"failed (exit code {exit_code})"))
    return list(results.values())
