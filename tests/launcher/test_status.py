"""Which source tells a job's state: squeue, then sacct, then the job's own record, then the plan.

`resolve` is pure, so each case is written out with the values each source would give.
"""

from __future__ import annotations

from launcher.records import JobEntry
from launcher.slurm import AcctInfo, QueueInfo
from launcher.status import JobStatus, resolve

ENTRY = JobEntry(key="run.top20.s0", template="run", name="ance.run.top20.s0", depends_on=("warmup.s0",),
                 script="/x.sh", log_name="run.top20.s0-%j.out", job_id="42", array_size=None)
DONE = {"state": "completed", "exit_code": 0, "start": 100.0, "end": 160.5, "host": "node7", "restart_count": 1, "job_id": "42"}
WARMUP_OK = JobStatus("warmup.s0", "41", "ance.warmup.s0", "COMPLETED")
WARMUP_FAILED = JobStatus("warmup.s0", "41", "ance.warmup.s0", "FAILED", reason="exit code 2")


def queue(state: str, reason: str = "None", name: str = "ance.run.top20.s0") -> QueueInfo:
    return QueueInfo("42", name, state, reason, "1:00", "node7")


def test_squeue_wins_while_slurm_remembers_the_job_and_the_record_adds_times():
    status = resolve(ENTRY, "42", queue("COMPLETED"), None, DONE, [WARMUP_OK])
    assert (status.state, status.source, status.start, status.end, status.restarts) == ("COMPLETED", "squeue", 100.0, 160.5, 1)


def test_pending_jobs_show_why_they_wait():
    status = resolve(ENTRY, "42", queue("PENDING", "Dependency"), None, None, [])
    assert (status.state, status.reason) == ("PENDING", "Dependency")


def test_a_failed_dependency_means_not_run_whoever_reports_it():
    by_squeue = resolve(ENTRY, "42", queue("CANCELLED", "DependencyNeverSatisfied"), None, None, [WARMUP_FAILED])
    forgotten = resolve(ENTRY, "42", None, None, None, [WARMUP_FAILED])
    for status in (by_squeue, forgotten):
        assert (status.state, status.reason) == ("NOT_RUN", "dependency warmup.s0 failed")


def test_after_slurm_forgets_the_job_the_record_tells():
    status = resolve(ENTRY, "42", None, None, DONE, [WARMUP_OK], now=1000.0)
    assert (status.state, status.source, status.elapsed, status.node) == ("COMPLETED", "record", "1:00", "node7")
    failed = resolve(ENTRY, "42", None, None, {**DONE, "state": "failed", "exit_code": 2}, [WARMUP_OK])
    assert (failed.state, failed.reason, failed.exit_code) == ("FAILED", "exit code 2", 2)


def test_sacct_is_used_where_the_cluster_keeps_accounting():
    acct = AcctInfo("42", "ance.run.top20.s0", "TIMEOUT", 0, "04:00:00", "node7")
    status = resolve(ENTRY, "42", None, acct, None, [WARMUP_OK])
    assert (status.state, status.source, status.elapsed) == ("TIMEOUT", "sacct", "04:00:00")


def test_a_job_whose_record_says_running_but_slurm_lost_it_is_lost():
    running = {**DONE, "state": "running", "exit_code": None, "end": None}
    status = resolve(ENTRY, "42", None, None, running, [WARMUP_OK])
    assert status.state == "LOST" and "killed before it could record its end" in status.reason
    # ...unless SLURM could not be asked: then the record is all there is.
    assert resolve(ENTRY, "42", None, None, running, [WARMUP_OK], queue_reachable=False).state == "RUNNING"


def test_a_reused_job_id_with_another_name_is_not_this_job():
    # slurmctld started with cleared state hands out ids again; the name tells the jobs apart.
    status = resolve(ENTRY, "42", queue("RUNNING", name="someone.else"), None, DONE, [WARMUP_OK])
    assert (status.state, status.source) == ("COMPLETED", "record")


def test_local_jobs_are_running_while_their_script_process_lives():
    running = {**DONE, "state": "running", "exit_code": None, "end": None}
    assert resolve(ENTRY, "local2", None, None, running, [WARMUP_OK], local_alive=True).state == "RUNNING"
    assert resolve(ENTRY, "local2", None, None, running, [WARMUP_OK], local_alive=False).state == "LOST"


def test_unsubmitted_jobs_wait_for_their_dependencies():
    entry = JobEntry(**{**ENTRY.__dict__, "job_id": None})
    assert resolve(entry, None, None, None, None, [JobStatus("warmup.s0", "l1", "w", "RUNNING")]).state == "WAITING"
    assert resolve(entry, None, None, None, None, []).state == "NOT_SUBMITTED"
    # a chain of waits: waiting on a job that waits (or is not submitted yet) is waiting too
    for state in ("WAITING", "NOT_SUBMITTED"):
        assert resolve(entry, None, None, None, None, [JobStatus("run.top20.s0", None, "r", state)]).state == "WAITING"
    assert resolve(entry, None, None, None, None, [WARMUP_OK]).state == "NOT_SUBMITTED"
