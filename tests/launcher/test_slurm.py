"""Against the real single-node SLURM (`make slurm-up`): submission, dependencies, records, failures,
preemption, cancel, and the errors a user meets when SLURM is missing, down, or says no.

The stages are the stand-in (fast, keeps the stage contract) except in the failure test, which
runs the real `ance warmup` on a data path that does not exist.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path

import pytest

from launcher import cli
from launcher.records import load_submission
from launcher.slurm import Slurm, SlurmError
from launcher.status import collect
from launcher.submit import launch
from launcher_helpers import make_plan, stand_in_events, wait_finished, wait_until

pytestmark = pytest.mark.slurm


def test_chain_runs_in_dependency_order_and_status_shows_it(slurm_cluster, make_experiment, stand_in, tmp_path, capsys):
    plan = make_plan([make_experiment("top20"), make_experiment("bottom20")], tmp_path, "slurm", stand_in)
    submission, _ = launch(plan, slurm_cluster)
    ids = [job.job_id for job in submission.jobs]
    assert all(job_id and job_id.isdigit() for job_id in ids)

    statuses = {s.key: s for s in wait_finished(submission)}
    assert {s.state for s in statuses.values()} == {"COMPLETED"}
    keys = ("prep", "warmup.s0", "refresh0.s0", "run.top20.s0", "run.bottom20.s0", "report")
    prep, warmup, refresh0, top, bottom, report = (statuses[k] for k in keys)
    # Recorded by the jobs themselves: nothing started before what it depends on had ended.
    assert prep.end <= warmup.start and warmup.end <= refresh0.start and refresh0.end <= min(top.start, bottom.start)
    assert max(top.end, bottom.end) <= report.start

    assert cli.main(["status", submission.id, "--runs", str(tmp_path / "runs")]) == 0
    shown = capsys.readouterr().out
    for job, job_id in zip(submission.jobs, ids):
        assert re.search(rf"{re.escape(job.key)}\s*│\s*{job_id}\s*│\s*COMPLETED", shown), shown


def test_a_missing_data_set_queues_nothing(slurm_cluster, make_experiment, tmp_path):
    from ance_core.errors import InputError

    exp = make_experiment(data={"dataset": str(tmp_path / "no-such-data")})
    before = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True).stdout.split()
    with pytest.raises(InputError, match=r"pre-flight .*no-such-data does not exist"):
        launch(make_plan([exp], tmp_path, "slurm"), slurm_cluster)
    after = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True).stdout.split()
    assert set(after) <= set(before) and not (tmp_path / "runs" / "_jobs").exists()


def test_a_failing_job_leaves_its_dependants_not_run_and_status_says_why(slurm_cluster, make_experiment, tmp_path, capsys):
    # The real stage, failing the real way: its data directory is empty.
    (tmp_path / "empty-data").mkdir()
    exp = make_experiment(data={"dataset": str(tmp_path / "empty-data")})
    plan = make_plan([exp], tmp_path, "slurm")  # default command: the `ance` of this venv
    submission, _ = launch(plan, slurm_cluster)
    statuses = wait_finished(submission)

    assert [(s.key, s.state) for s in statuses] == [
        ("prep", "FAILED"), ("warmup.s0", "NOT_RUN"), ("refresh0.s0", "NOT_RUN"), ("run.top20.s0", "NOT_RUN"),
        ("report", "NOT_RUN")]
    assert statuses[0].exit_code not in (None, 0)
    assert statuses[1].reason == "dependency prep failed"
    assert not (tmp_path / "runs" / "_jobs" / submission.id / "records" / "run.top20.s0.json").exists()

    assert cli.main(["status", "--runs", str(tmp_path / "runs")]) == 0
    shown = capsys.readouterr().out
    log = submission.log_path(submission.entry("prep"))
    last_line = [line for line in log.read_text().splitlines() if line.strip()][-1]
    assert "NOT_RUN" in shown and "dependency prep failed" in shown
    assert "last lines of" in shown and last_line.strip()[:40] in shown


def test_usr1_checkpoints_requeues_and_the_job_comes_back_and_finishes(slurm_cluster, make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "run")
    plan = make_plan([make_experiment(warmup={"enabled": False})], tmp_path, "slurm", stand_in, report=False)
    submission, _ = launch(plan, slurm_cluster)
    wait_until(lambda: any(e["event"] == "waiting for a signal" for e in stand_in_events(tmp_path)), 60, "the stage to start")

    run = submission.entry("run.top20.s0")
    job_id = run.job_id
    # What SLURM does signal_seconds before the time limit, and what a preempting scheduler does.
    subprocess.run(["scancel", "--signal=USR1", "--batch", job_id], check=True)
    status = next(s for s in wait_finished(submission) if s.key == "run.top20.s0")

    assert (status.state, status.restarts, status.job_id) == ("COMPLETED", 1, job_id)
    assert [e["event"] for e in stand_in_events(tmp_path) if e["stage"] == "run"] == [
        "started", "waiting for a signal", "checkpointed on SIGUSR1", "resumed", "finished"]
    log = submission.log_path(run).read_text()  # --open-mode=append: both runs in one log
    assert "USR1: asking the stage to checkpoint" in log and f"checkpointed: requeueing job {job_id}" in log
    assert "restart 1, executor slurm" in log


@pytest.mark.slow
def test_multinode_template_preemption_goes_through_srun_and_torchrun(slurm_cluster, make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "run")
    plan = make_plan([make_experiment(warmup={"enabled": False})], tmp_path, "slurm", stand_in, report=False)
    index = next(i for i, job in enumerate(plan.jobs) if job.key == "run.top20.s0")
    plan.jobs[index] = dataclasses.replace(plan.jobs[index], template="run_multinode")  # one node is all this cluster has
    submission, _ = launch(plan, slurm_cluster)
    wait_until(lambda: any(e["event"] == "waiting for a signal" for e in stand_in_events(tmp_path)), 120, "the worker")
    subprocess.run(["scancel", "--signal=USR1", "--batch", submission.entry("run.top20.s0").job_id], check=True)
    status = next(s for s in wait_finished(submission) if s.key == "run.top20.s0")
    assert (status.state, status.restarts) == ("COMPLETED", 1)
    events = [e["event"] for e in stand_in_events(tmp_path) if e["stage"] == "run"]
    assert events[2:] == ["checkpointed on SIGUSR1", "resumed", "finished"]


def test_cancel_a_submission(slurm_cluster, make_experiment, stand_in, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "warmup")
    plan = make_plan([make_experiment()], tmp_path, "slurm", stand_in)
    submission, _ = launch(plan, slurm_cluster)
    wait_until(lambda: any(e["event"] == "waiting for a signal" for e in stand_in_events(tmp_path)), 60, "the warm-up")

    assert cli.main(["cancel", submission.id, "--runs", str(tmp_path / "runs")]) == 0
    # every job but prep, which has completed
    assert capsys.readouterr().out.split() == ["cancelled", *[job.job_id for job in submission.jobs[1:]]]
    statuses = wait_finished(submission)
    assert [s.state for s in statuses] == ["COMPLETED"] + ["CANCELLED"] * 4
    assert load_submission(submission.folder).record("warmup.s0")["state"] == "cancelled"


def test_encode_array_on_slurm(slurm_cluster, make_experiment, stand_in, tmp_path):
    from launcher.plan import new_submission_id, plan_encode
    from launcher.submit import resolve_all

    [(_, exp)] = resolve_all([("e.yaml", make_experiment(resources={"shards": 2}))], tmp_path)
    plan = plan_encode(exp, checkpoint=str(tmp_path / "ckpt"), out=str(tmp_path / "emb"), submission_id=new_submission_id(),
                       workdir=str(tmp_path), executor="slurm", ance=stand_in)
    submission, _ = launch(plan, slurm_cluster)
    statuses = wait_finished(submission)
    job_id = submission.jobs[0].job_id
    assert [(s.job_id, s.state) for s in statuses] == [(f"{job_id}_0", "COMPLETED"), (f"{job_id}_1", "COMPLETED")]
    assert sorted(p.name for p in (submission.folder / "logs").iterdir()) == [f"encode.top20-{job_id}_{t}.out" for t in (0, 1)]


def test_status_comes_from_the_records_when_slurm_cannot_be_asked(slurm_cluster, make_experiment, stand_in, tmp_path, down_slurm):
    plan = make_plan([make_experiment(warmup={"enabled": False})], tmp_path, "slurm", stand_in, report=False)
    submission, _ = launch(plan, slurm_cluster)
    wait_finished(submission)
    statuses = collect(load_submission(submission.folder), down_slurm)
    assert [(s.key, s.state, s.source) for s in statuses] == [
        (key, "COMPLETED", "record") for key in ("prep", "refresh0.s0", "run.top20.s0")]


# ---------------------------------------------------------------- errors a user can act on


@pytest.fixture
def down_slurm(tmp_path) -> Slurm:
    """The SLURM commands, pointed at a controller port where nothing listens: a cluster that is down."""
    conf = Path("/etc/slurm/slurm.conf").read_text()
    down = tmp_path / "down" / "slurm.conf"
    down.parent.mkdir()
    down.write_text(re.sub(r"(?m)^SlurmctldPort=.*\n", "", conf) + "SlurmctldPort=1\nMessageTimeout=2\n")
    return Slurm(env={**os.environ, "SLURM_CONF": str(down)}, timeout=60)


def test_sbatch_missing_says_what_to_do(tmp_path, make_experiment, stand_in):
    slurm = Slurm(env={**os.environ, "PATH": str(tmp_path / "empty-bin")})
    plan = make_plan([make_experiment()], tmp_path, "slurm", stand_in)
    with pytest.raises(SlurmError, match=r"sbatch is not installed here .*make slurm-up.*--executor local"):
        launch(plan, slurm)


def test_a_cluster_that_is_down_is_named(slurm_cluster, down_slurm, make_experiment, stand_in, tmp_path):
    plan = make_plan([make_experiment()], tmp_path, "slurm", stand_in)
    with pytest.raises(SlurmError, match="the SLURM controller does not answer"):
        launch(plan, down_slurm)


def test_a_rejected_script_cancels_what_was_already_submitted(slurm_cluster, make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "warmup")
    good = make_experiment("a")
    bad = make_experiment("b", resources={"partition": "no-such-partition"})
    plan = make_plan([good, bad], tmp_path, "slurm", stand_in)
    # prep, warm-up and refresh 0 (shared, run by `a`) and run.a.s0 go in before run.b.s0 is rejected
    with pytest.raises(SlurmError, match=r"sbatch rejected .*run\.b\.s0\.sh: .*[Ii]nvalid partition.*cancelled the 4 job"):
        launch(plan, slurm_cluster)
    submission = load_submission(plan.job_dir)
    submitted = [job.job_id for job in submission.jobs if job.job_id]
    assert len(submitted) == 4
    wait_until(lambda: all(s.state in ("CANCELLED", "NOT_RUN") for s in collect(submission, slurm_cluster)[:4]), 60,
               "the submitted jobs to be cancelled")


def test_up_script_is_idempotent_and_quick_when_running(slurm_cluster):
    result = subprocess.run(["bash", "scripts/slurm/up.sh"], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0 and "already running" in result.stdout
