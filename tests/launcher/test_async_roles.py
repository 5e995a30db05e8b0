"""The async run job (run.sh.j2): trainer and refresher side by side; the job's outcome is both of theirs.

A refresher that fails or is killed fails the job, and the trainer is asked to checkpoint instead of
training on without new negatives; a refresher still refreshing after training is waited for (no grace
period that cuts it off) and a USR1 then requeues the job, which resumes both roles. The stages are
the stand-in (tests/launcher/stand_in_ance.py), so these check the script's own logic; the real
stages under the same script are in tests/ance_core/train/test_async_multirank.py.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from launcher.records import load_submission
from launcher.status import collect
from launcher.submit import launch
from launcher_helpers import make_plan, stand_in_events, wait_finished, wait_until


def _async(make_experiment):
    return make_experiment(ance={"mode": "async"}, warmup={"enabled": False})


def _launch_in_thread(plan):
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(zip(("submission", "results"), launch(plan))), daemon=True)
    thread.start()
    return thread, outcome


RUN = "run.top20.s0"  # the async job; prep and refresh 0 run before it


def _run_exit_codes(results) -> list[int | None]:
    return [r.exit_code for r in results if r.key == RUN]


def _run_status(submission):
    return next(status for status in collect(submission) if status.key == RUN)


def _event(tmp_path, role: str, event: str) -> dict | None:
    return next((e for e in stand_in_events(tmp_path) if e["role"] == role and e["event"] == event), None)


def test_a_failing_refresher_fails_the_job_and_stops_the_trainer(make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "run/trainer")  # trains until told to stop
    monkeypatch.setenv("ANCE_STANDIN_FAIL", "run/refresher:3")
    submission, results = launch(make_plan([_async(make_experiment)], tmp_path, "local", stand_in, report=False))

    assert _run_exit_codes(results) == [3]  # not requeued: a failure, not a checkpoint
    status = _run_status(submission)
    assert (status.state, status.exit_code, status.restarts) == ("FAILED", 3, 0)
    assert _event(tmp_path, "trainer", "checkpointed on SIGUSR1") is not None  # stopped, not left to run 120 s
    assert _event(tmp_path, "trainer", "never signalled") is None
    log = submission.log_path(submission.entry(RUN)).read_text()
    assert "the refresher failed (exit 3): stopping the trainer" in log


def test_a_killed_refresher_fails_the_job_after_the_trainer_finished(make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "run/refresher")  # the last refresh, after training
    thread, outcome = _launch_in_thread(make_plan([_async(make_experiment)], tmp_path, "local", stand_in, report=False))
    wait_until(lambda: _event(tmp_path, "trainer", "finished") and _event(tmp_path, "refresher", "waiting for a signal"),
               30, "the trainer to finish while the refresher works")
    os.kill(_event(tmp_path, "refresher", "started")["pid"], signal.SIGKILL)  # the OOM killer, say
    thread.join(30)

    assert _run_exit_codes(outcome["results"]) == [128 + signal.SIGKILL]
    status = _run_status(outcome["submission"])
    assert status.state == "FAILED"


def test_usr1_during_the_last_refresh_requeues_and_resumes_both_roles(make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "run/refresher")
    plan = make_plan([_async(make_experiment)], tmp_path, "local", stand_in, report=False)
    thread, outcome = _launch_in_thread(plan)
    wait_until(lambda: _event(tmp_path, "trainer", "finished") and _event(tmp_path, "refresher", "waiting for a signal"),
               30, "the trainer to finish while the refresher works")
    os.kill(load_submission(plan.job_dir).record(RUN)["pid"], signal.SIGUSR1)  # the time limit is near
    thread.join(60)

    assert _run_exit_codes(outcome["results"]) == [0]
    status = _run_status(outcome["submission"])
    assert (status.state, status.restarts) == ("COMPLETED", 1)
    by_role = {role: [e["event"] for e in stand_in_events(tmp_path) if e["role"] == role] for role in ("trainer", "refresher")}
    assert by_role["refresher"] == ["started", "waiting for a signal", "checkpointed on SIGUSR1", "resumed", "finished"]
    assert by_role["trainer"] == ["started", "finished", "started", "finished"]  # ran again (it finds its work done)


@pytest.mark.slurm
def test_on_slurm_a_failing_refresher_fails_the_job(slurm_cluster, make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "run/trainer")
    monkeypatch.setenv("ANCE_STANDIN_FAIL", "run/refresher:3")
    submission, _ = launch(make_plan([_async(make_experiment)], tmp_path, "slurm", stand_in, report=False), slurm_cluster)
    status = next(status for status in wait_finished(submission, timeout=120) if status.key == RUN)

    assert (status.state, status.exit_code, status.restarts) == ("FAILED", 3, 0)
    assert _event(tmp_path, "trainer", "checkpointed on SIGUSR1") is not None


def test_cpu_ranks_run_the_trainer_under_torchrun_beside_one_refresher(make_experiment):
    from launcher.render import render

    script = render(make_experiment(ance={"mode": "async"}, resources={"cpus": 3, "cpu_ranks": 2}), "run")
    trainer = script[script.index("ance_trainer=("):].splitlines()[0]
    assert "--nproc_per_node=2" in trainer and "--standalone" in trainer
    assert script.count("--role trainer") == 1 and script.count("--role refresher") == 1
    single = render(make_experiment(ance={"mode": "async"}, resources={"cpus": 2}), "run")
    assert "ance_trainer=()" in single  # one rank: no torchrun


def test_async_on_slurm_without_gpus_shares_the_cpus():
    from ance_core.config import validate_experiment

    exp = validate_experiment({"name": "cpu", "ance": {"mode": "async"}, "resources": {"executor": "slurm", "cpu_ranks": 2}})
    assert (exp.resources.gpus, exp.resources.gpus_refresh, exp.resources.cpu_ranks) == (0, 0, 2)
