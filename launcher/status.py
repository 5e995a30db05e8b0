"""The state of every job of a submission, from the best source that still knows it.

squeue while slurmctld remembers the job, sacct where the cluster keeps
accounting, and otherwise the record the job's script wrote itself. A job that
never started because a dependency failed is reported as NOT_RUN with the name
of that dependency, whichever source is left.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

from launcher.records import JobEntry, Submission, tail
from launcher.slurm import AcctInfo, QueueInfo, Slurm, SlurmError

log = logging.getLogger(__name__)

FINISHED_OK = "COMPLETED"
# States after which a dependant under `afterok` never runs.
BROKEN = {"FAILED", "CANCELLED", "NOT_RUN", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "LOST"}
ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT"}
_RECORD_STATE = {"running": "RUNNING", "completed": "COMPLETED", "failed": "FAILED", "cancelled": "CANCELLED", "requeued": "REQUEUED"}


@dataclass(frozen=True)
class JobStatus:
    key: str
    job_id: str | None
    name: str
    state: str
    elapsed: str = ""
    node: str = ""
    reason: str = ""  # why it waits / why it failed / exit code
    exit_code: int | None = None
    start: float | None = None  # epoch seconds, from the job's record
    end: float | None = None
    restarts: int = 0
    source: str = ""  # squeue | sacct | record | plan
    task: int | None = None

    @property
    def finished(self) -> bool:
        return self.state not in ACTIVE and self.state != "UNKNOWN"

    @property
    def broken(self) -> bool:
        return self.state in BROKEN


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _from_record(base: JobStatus, record: dict[str, Any], now: float) -> JobStatus:
    start, end = record.get("start"), record.get("end")
    exit_code = record.get("exit_code")
    state = _RECORD_STATE[record["state"]]
    reason = "" if exit_code in (None, 0) else f"exit code {exit_code}"
    if state == "REQUEUED":
        reason = "checkpointed; waiting to restart"
    return replace(
        base,
        job_id=base.job_id or str(record.get("job_id") or "") or None,
        state=state,
        elapsed=_duration((end or now) - start) if start else "",
        node=str(record.get("host") or ""),
        reason=reason,
        exit_code=exit_code,
        start=start,
        end=end,
        restarts=int(record.get("restart_count") or 0),
        source="record",
    )


def resolve(
    entry: JobEntry,
    job_id: str | None,
    queue: QueueInfo | None,
    acct: AcctInfo | None,
    record: dict[str, Any] | None,
    dependencies: list[JobStatus],
    *,
    queue_reachable: bool = True,
    local_alive: bool | None = None,
    now: float | None = None,
    task: int | None = None,
) -> JobStatus:
    """One job's status from whatever knows it (pure: tests call it with plain values)."""
    now = time.time() if now is None else now
    base = JobStatus(entry.key, job_id, entry.name, "UNKNOWN", task=task)
    from_record = _from_record(base, record, now) if record else None
    failed_dependency = next((dep for dep in dependencies if dep.broken), None)

    if queue is not None and queue.name == entry.name:
        state, reason = queue.state, queue.reason if queue.reason not in ("None", "") else ""
        if state == "CANCELLED" and reason == "DependencyNeverSatisfied":
            return _not_run(base, failed_dependency, "squeue")
        status = replace(base, state=state, elapsed=queue.elapsed, node=queue.nodes, reason=reason, source="squeue")
        if from_record:  # the record adds start/end times and the exit code
            status = replace(status, start=from_record.start, end=from_record.end, exit_code=from_record.exit_code,
                             restarts=from_record.restarts, node=status.node or from_record.node)
            if state in BROKEN and from_record.exit_code not in (None, 0):
                status = replace(status, reason=f"exit code {from_record.exit_code}")
        return status
    if acct is not None and acct.name == entry.name:
        if acct.state == "CANCELLED" and record is None and failed_dependency:
            return _not_run(base, failed_dependency, "sacct")
        reason = "" if acct.exit_code in (None, 0) else f"exit code {acct.exit_code}"
        status = replace(base, state=acct.state, elapsed=acct.elapsed, node=acct.nodes, reason=reason,
                         exit_code=acct.exit_code, source="sacct")
        if from_record:
            status = replace(status, start=from_record.start, end=from_record.end, restarts=from_record.restarts)
        return status
    if from_record:
        if from_record.state in ("RUNNING", "REQUEUED"):
            if local_alive is True or (local_alive is None and not queue_reachable):
                return from_record
            if local_alive is None and from_record.state == "REQUEUED":
                return replace(from_record, state="UNKNOWN", reason="requeued, but SLURM no longer lists the job")
            return replace(from_record, state="LOST", reason="its record says running, but the job is gone "
                           "(killed before it could record its end?)")
        return from_record
    if failed_dependency:
        return _not_run(base, failed_dependency, "plan")
    if job_id is None:
        # WAITING until every dependency has completed: a dependency that is itself waiting
        # (or not submitted) is not finished work, even though it is not active either.
        ready = all(d.state == "COMPLETED" for d in dependencies)
        return replace(base, state="NOT_SUBMITTED" if ready else "WAITING", reason="", source="plan")
    if not queue_reachable:
        return replace(base, reason="SLURM does not answer and the job left no record yet", source="plan")
    return replace(base, reason="SLURM no longer lists it and it left no record (it never started?)", source="plan")


def _not_run(base: JobStatus, dependency: JobStatus | None, source: str) -> JobStatus:
    why = f"dependency {dependency.key} {dependency.state.lower()}" if dependency else "a dependency did not succeed"
    return replace(base, state="NOT_RUN", reason=why, source=source)


def _pid_alive(record: dict[str, Any]) -> bool:
    """A local job's script process still runs (same host, pid exists)."""
    if record.get("host") != socket.gethostname() or not isinstance(record.get("pid"), int):
        return False
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def collect(submission: Submission, slurm: Slurm | None = None) -> list[JobStatus]:
    """The status of every job (every task of an array job) in plan order."""
    ids = [job.job_id for job in submission.jobs if job.job_id]
    queue: dict[str, QueueInfo] = {}
    acct: dict[str, AcctInfo] | None = None
    reachable = True
    if submission.executor == "slurm" and ids:
        slurm = slurm or Slurm()
        try:
            queue = slurm.queue(ids)
        except SlurmError as exc:
            log.warning("%s", exc)
            reachable = False
        forgotten = [job_id for job_id in ids if not any(q.split("_")[0] == job_id for q in queue)]
        if forgotten:
            acct = slurm.accounting(forgotten)

    by_key: dict[str, list[JobStatus]] = {}
    for job in submission.jobs:
        deps = [status for key in job.depends_on for status in by_key.get(key, [])]
        tasks = list(range(job.array_size)) if job.array_size else [None]
        rows = []
        for task in tasks:
            slurm_id = job.job_id if task is None or not job.job_id else f"{job.job_id}_{task}"
            record = submission.record(job.key, task)
            local_alive = _pid_alive(record) if (record and submission.executor == "local") else None
            rows.append(
                resolve(
                    job, slurm_id, queue.get(slurm_id or ""), (acct or {}).get(job.job_id or ""), record, deps,
                    queue_reachable=reachable, local_alive=local_alive, task=task,
                )
            )
        by_key[job.key] = rows
    return [status for job in submission.jobs for status in by_key[job.key]]


def failure_tail(submission: Submission, status: JobStatus, lines: int = 15) -> list[str]:
    """The end of a failed job's log: why it failed, in its own words."""
    entry = submission.entry(status.key)
    if entry is None:
        return []
    return tail(submission.log_path(entry, entry.job_id, status.task), lines)
