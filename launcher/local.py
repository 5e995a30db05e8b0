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
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from ance_core.errors import InputError, Problem
from launcher.records import JobEntry, Submission, set_job_ids
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


@dataclass
class _Running:
    """The scripts running now, so that Ctrl-C can stop them all (only the main thread sees it)."""

    processes: set[subprocess.Popen] = field(default_factory=set)
    stopping: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def terminate_all(self) -> None:
        with self.lock:
            self.stopping = True
            for process in self.processes:
                process.send_signal(signal.SIGTERM)  # the script forwards it: its stage checkpoints


def _run_script(script: Path, log_path: Path, workdir: str, env: dict[str, str], running: _Running) -> int:
    """bash SCRIPT > LOG in its own session (a TERM from Ctrl-C reaches only the script, which forwards it)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        with running.lock:
            if running.stopping:
                return 130
            process = subprocess.Popen(
                ["bash", str(script)], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            running.processes.add(process)
        try:
            return process.wait()
        finally:
            with running.lock:
                running.processes.discard(process)


def local_cpus() -> int:
    """The CPUs the local executor shares out: ANCE_LOCAL_CPUS, else the CPUs this process may use."""
    value = os.environ.get("ANCE_LOCAL_CPUS", "").strip()
    if value:
        try:
            if int(value) >= 1:
                return int(value)
        except ValueError:
            pass
        raise InputError(None, Problem("ANCE_LOCAL_CPUS", "a whole number of CPUs >= 1", repr(value)))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _run_job(submission: Submission, job: JobEntry, job_id: str, workdir: str,
             notify: Callable[[str, str], None], running: _Running) -> LocalResult:
    exit_code = 0
    for task in range(job.array_size) if job.array_size else [None]:
        log_path = submission.log_path(job, job_id, task)
        assert log_path is not None
        restarts = 0
        notify(job.key, f"running{'' if task is None else f' task {task}'} (log: {log_path})")
        while True:
            code = _run_script(Path(job.script), log_path, workdir, _environment(job_id, task, restarts), running)
            if code != REQUEUE_EXIT_CODE or restarts >= MAX_REQUEUES or running.stopping:
                break
            restarts += 1
            notify(job.key, f"checkpointed; running it again (restart {restarts})")
        if code != 0:
            exit_code = code
            break
    cancelled = (submission.record(job.key, task) or {}).get("state") == "cancelled"
    reason = "" if exit_code == 0 else ("cancelled" if cancelled else f"exit code {exit_code}")
    notify(job.key, "completed" if exit_code == 0 else ("cancelled" if cancelled else f"failed (exit code {exit_code})"))
    return LocalResult(job.key, job_id, exit_code, reason)


def run_local(submission: Submission, workdir: str, on_event: Callable[[str, str], None] | None = None,
              cpus: int | None = None) -> list[LocalResult]:
    """Run the submission's jobs, side by side while their CPUs fit in `cpus`; results in plan order.

    A job starts when every job it depends on has completed (it is not run when one did
    not) and its `resources.cpus` fit in what the running jobs leave free; jobs start in
    plan order, so the warm-ups go first. A job that asks for more CPUs than there are runs
    alone. This is what lets `make reproduce-all` use both cores of a laptop with
    one-thread jobs.
    """
    notify = on_event or (lambda key, message: log.info("%s: %s", key, message))
    total = cpus or local_cpus()
    job_ids = {job.key: f"local{index}" for index, job in enumerate(submission.jobs, start=1)}
    results: dict[str, LocalResult] = {}
    waiting = list(submission.jobs)
    running = _Running()
    futures: dict[Future, JobEntry] = {}
    with ThreadPoolExecutor(max_workers=len(waiting) or 1, thread_name_prefix="local-job") as pool:
        try:
            while waiting or futures:
                for job in list(waiting):
                    blocked = next((dep for dep in job.depends_on if dep not in job_ids
                                    or (dep in results and results[dep].exit_code != 0)), None)
                    if blocked is not None:
                        waiting.remove(job)
                        set_job_ids(submission.folder, {job.key: job_ids[job.key]})
                        results[job.key] = LocalResult(job.key, job_ids[job.key], None, f"dependency {blocked} did not complete")
                        notify(job.key, f"not run: dependency {blocked} did not complete")
                        continue
                    if not all(dep in results for dep in job.depends_on):
                        continue
                    in_use = sum(min(futures[f].cpus, total) for f in futures)
                    if futures and in_use + min(job.cpus, total) > total:
                        break  # plan order: a later job does not overtake one waiting for CPUs
                    waiting.remove(job)
                    set_job_ids(submission.folder, {job.key: job_ids[job.key]})
                    futures[pool.submit(_run_job, submission, job, job_ids[job.key], workdir, notify, running)] = job
                if not futures:
                    for job in waiting:  # only a plan out of dependency order gets here: never spin
                        results[job.key] = LocalResult(job.key, job_ids[job.key], None, "its dependencies never ran")
                        notify(job.key, "not run: its dependencies never ran (plan out of order?)")
                    waiting.clear()
                    continue
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    job = futures.pop(future)
                    results[job.key] = future.result()
        except KeyboardInterrupt:
            log.warning("interrupted: stopping the running jobs (they checkpoint if they can)")
            running.terminate_all()
            raise
    return [results[job.key] for job in submission.jobs if job.key in results]
