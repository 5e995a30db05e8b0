"""The local executor runs the rendered scripts (the real templates) with a stand-in `ance`."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from launcher.cancel import cancel_jobs
from launcher.records import load_submission
from launcher.status import collect, failure_tail
from launcher.submit import launch
from launcher_helpers import make_plan, stand_in_events, wait_until


def test_jobs_run_in_dependency_order_and_record_start_and_end(make_experiment, stand_in, tmp_path):
    plan = make_plan([make_experiment("top20"), make_experiment("bottom20")], tmp_path, "local", stand_in)
    submission, results = launch(plan)

    assert [r.exit_code for r in results] == [0] * 6
    statuses = {s.key: s for s in collect(submission)}
    assert {s.state for s in statuses.values()} == {"COMPLETED"}
    keys = ("prep", "warmup.s0", "refresh0.s0", "run.top20.s0", "run.bottom20.s0", "report")
    prep, warmup, refresh0, top, bottom, report = (statuses[k] for k in keys)
    assert prep.end <= warmup.start and warmup.end <= refresh0.start
    assert refresh0.end <= top.start and refresh0.end <= bottom.start
    assert max(top.end, bottom.end) <= report.start
    stages = [(e["stage"], e["event"]) for e in stand_in_events(tmp_path)]
    assert stages[:6] == [(stage, event) for stage in ("prep", "warmup", "refresh0") for event in ("started", "finished")]
    assert sorted(stages[6:10]) == [("run", "finished")] * 2 + [("run", "started")] * 2  # side by side or not
    assert stages[10:] == [("report", "started"), ("report", "finished")]
    log = submission.log_path(submission.entry("warmup.s0"))
    assert log.name == "warmup.s0-local2.out" and "stand-in warmup: finished" in log.read_text()


def _spans(submission, keys):
    statuses = {s.key: s for s in collect(submission)}
    return [(statuses[key].start, statuses[key].end) for key in keys]


@pytest.mark.parametrize("cpus, side_by_side", [(2, True), (1, False)])
def test_jobs_share_the_cpus_side_by_side_as_their_resources_allow(make_experiment, stand_in, tmp_path, monkeypatch,
                                                                    cpus, side_by_side):
    monkeypatch.setenv("ANCE_STANDIN_SLEEP", "1.5")
    monkeypatch.setenv("ANCE_LOCAL_CPUS", str(cpus))
    one_cpu = {"resources": {"cpus": 1}}
    plan = make_plan([make_experiment("top20", **one_cpu), make_experiment("bottom20", **one_cpu)], tmp_path, "local",
                     stand_in, report=False)
    submission, results = launch(plan)

    assert [r.exit_code for r in results] == [0] * 5
    (_, refresh0_end), top, bottom = _spans(submission, ["refresh0.s0", "run.top20.s0", "run.bottom20.s0"])
    assert refresh0_end <= min(top[0], bottom[0])
    overlap = min(top[1], bottom[1]) - max(top[0], bottom[0])
    assert (overlap > 0.5) if side_by_side else (overlap <= 0)


def test_a_job_asking_for_more_cpus_than_there_are_runs_alone(make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_SLEEP", "1")
    monkeypatch.setenv("ANCE_LOCAL_CPUS", "2")
    plan = make_plan([make_experiment("top20", resources={"cpus": 8}), make_experiment("bottom20", resources={"cpus": 1})],
                     tmp_path, "local", stand_in, report=False)
    submission, results = launch(plan)

    assert [r.exit_code for r in results] == [0] * 5
    top, bottom = _spans(submission, ["run.top20.s0", "run.bottom20.s0"])
    assert min(top[1], bottom[1]) <= max(top[0], bottom[0])


def test_a_bad_local_cpu_count_is_a_clear_error(monkeypatch):
    from ance_core.errors import InputError
    from launcher.local import local_cpus

    monkeypatch.setenv("ANCE_LOCAL_CPUS", "two")
    with pytest.raises(InputError, match="ANCE_LOCAL_CPUS"):
        local_cpus()


def test_a_failed_job_leaves_its_dependants_not_run(make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_FAIL", "warmup:3")
    plan = make_plan([make_experiment(seeds=[0])], tmp_path, "local", stand_in)
    submission, results = launch(plan)

    assert [(r.key, r.exit_code) for r in results] == [
        ("prep", 0), ("warmup.s0", 3), ("refresh0.s0", None), ("run.top20.s0", None), ("report", None)]
    statuses = collect(submission)
    assert [(s.key, s.state, s.reason) for s in statuses] == [
        ("prep", "COMPLETED", ""),
        ("warmup.s0", "FAILED", "exit code 3"),
        ("refresh0.s0", "NOT_RUN", "dependency warmup.s0 failed"),
        ("run.top20.s0", "NOT_RUN", "dependency refresh0.s0 not_run"),
        ("report", "NOT_RUN", "dependency run.top20.s0 not_run"),
    ]
    assert any("failing on purpose with exit 3" in line for line in failure_tail(submission, statuses[1]))
    # prep ran; the warm-up started and failed; nothing after it ran
    assert [e["stage"] for e in stand_in_events(tmp_path)] == ["prep", "prep", "warmup", "warmup"]


def _run_in_thread(plan):
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(zip(("submission", "results"), launch(plan))), daemon=True)
    thread.start()
    return thread, outcome


def _waiting_for_signal(tmp_path) -> bool:
    return any(e["event"] == "waiting for a signal" for e in stand_in_events(tmp_path))


def test_usr1_checkpoints_and_the_job_runs_again_until_done(make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "run")
    plan = make_plan([make_experiment(warmup={"enabled": False})], tmp_path, "local", stand_in, report=False)
    thread, outcome = _run_in_thread(plan)
    wait_until(lambda: _waiting_for_signal(tmp_path), 30, "the stage to start")

    record = load_submission(plan.job_dir).record("run.top20.s0")
    os.kill(record["pid"], signal.SIGUSR1)  # what SLURM's --signal=B:USR1@... does to the batch shell
    thread.join(60)

    assert [r.exit_code for r in outcome["results"]] == [0, 0, 0]  # prep, refresh0, run
    events = [e["event"] for e in stand_in_events(tmp_path) if e["stage"] == "run"]
    assert events == ["started", "waiting for a signal", "checkpointed on SIGUSR1", "resumed", "finished"]
    status = next(s for s in collect(outcome["submission"]) if s.key == "run.top20.s0")
    assert (status.state, status.restarts) == ("COMPLETED", 1)


def test_async_mode_runs_trainer_and_refresher_side_by_side(make_experiment, stand_in, tmp_path):
    exp = make_experiment(ance={"mode": "async"}, warmup={"enabled": False})
    submission, results = launch(make_plan([exp], tmp_path, "local", stand_in, report=False))
    assert [r.exit_code for r in results] == [0, 0, 0]
    roles = {(e["role"], e["event"]) for e in stand_in_events(tmp_path) if e["stage"] == "run"}
    assert roles == {("trainer", "started"), ("trainer", "finished"), ("refresher", "started"), ("refresher", "finished")}


def test_cancel_stops_the_running_job_and_its_dependants_do_not_run(make_experiment, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "warmup")
    plan = make_plan([make_experiment()], tmp_path, "local", stand_in)
    thread, outcome = _run_in_thread(plan)
    wait_until(lambda: _waiting_for_signal(tmp_path), 30, "the warm-up to start")

    assert cancel_jobs(load_submission(plan.job_dir)) == ["warmup.s0"]
    thread.join(60)
    assert [(r.key, r.reason) for r in outcome["results"]] == [
        ("prep", ""), ("warmup.s0", "cancelled"), ("refresh0.s0", "dependency warmup.s0 did not complete"),
        ("run.top20.s0", "dependency refresh0.s0 did not complete"),
        ("report", "dependency run.top20.s0 did not complete"),
    ]
    assert [s.state for s in collect(outcome["submission"])] == ["COMPLETED", "CANCELLED", "NOT_RUN", "NOT_RUN", "NOT_RUN"]


def test_encode_array_tasks_each_get_their_shard_log_and_record(make_experiment, stand_in, tmp_path):
    from launcher.plan import new_submission_id, plan_encode
    from launcher.submit import resolve_all

    [(_, exp)] = resolve_all([("e.yaml", make_experiment(resources={"shards": 3}))], tmp_path)
    plan = plan_encode(exp, checkpoint=str(tmp_path / "ckpt"), out=str(tmp_path / "emb"), submission_id=new_submission_id(),
                       workdir=str(tmp_path), executor="local", ance=stand_in)
    submission, results = launch(plan)
    assert [r.exit_code for r in results] == [0]
    assert [(s.task, s.state) for s in collect(submission)] == [(0, "COMPLETED"), (1, "COMPLETED"), (2, "COMPLETED")]
    shards = sorted(e["argv"][e["argv"].index("--shard") + 1] for e in stand_in_events(tmp_path) if e["event"] == "started")
    assert shards == ["0/3", "1/3", "2/3"]
    assert sorted(p.name for p in (submission.folder / "logs").iterdir()) == [f"encode.top20-local1_{t}.out" for t in range(3)]


@pytest.mark.slow
def test_multinode_template_runs_torchrun_and_checkpoints_on_usr1(make_experiment, stand_in, tmp_path, monkeypatch):
    """The real torchrun (CPU) under the multi-node template: TERM reaches the worker, which checkpoints."""
    import dataclasses

    monkeypatch.setenv("ANCE_STANDIN_WAIT_SIGNAL", "run")
    plan = make_plan([make_experiment(warmup={"enabled": False})], tmp_path, "local", stand_in, report=False)
    index = next(i for i, job in enumerate(plan.jobs) if job.key == "run.top20.s0")
    plan.jobs[index] = dataclasses.replace(plan.jobs[index], template="run_multinode")
    thread, outcome = _run_in_thread(plan)
    wait_until(lambda: _waiting_for_signal(tmp_path), 120, "torchrun to start the worker")
    os.kill(load_submission(plan.job_dir).record("run.top20.s0")["pid"], signal.SIGUSR1)
    thread.join(180)
    events = [e["event"] for e in stand_in_events(tmp_path) if e["stage"] == "run"]
    assert events == ["started", "waiting for a signal", "checkpointed on SIGTERM", "resumed", "finished"]
    assert {s.state for s in collect(outcome["submission"])} == {"COMPLETED"}
