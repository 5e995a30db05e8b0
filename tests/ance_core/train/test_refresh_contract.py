"""Issue 16: what a refresh promises under stop signals and in asynchronous mode.

* A stop signal in the middle of a refresh abandons it at once (nothing of it is published: no record,
  no negatives file) and the run exits to be requeued; the resumed run does it and logs it once.
* A refresh never mines with a checkpoint an earlier refresh mined: once training has ended, the
  refreshes that find only the final checkpoint are skipped and the last one evaluates it, once.
* A run is finished only when every planned refresh has a record (STATUS.json and the report).
"""

from __future__ import annotations

import json

import pytest

import ance_core.encode as encode
from ance_core.config import load_experiment, validate_experiment
from ance_core.report.runs import load_run
from ance_core.train import distributed as D
from ance_core.train import rundir
from ance_core.loop.ance import Run, ensure_refresh, prepare_start, run
from ance_core.train.rundir import default_run_dir, for_seed
from ance_core.train.signals import Requeue, StopFlag
from helpers.report_runs import write_run
from loop_helpers import events, run_loop


def refresh_kinds(run_dir) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for event in events(run_dir):
        if event["kind"] in ("refresh", "eval", "refresh_failed", "refresh_skipped"):
            found.setdefault(event["refresh"], []).append(event["kind"])
    return found


def test_usr1_in_the_middle_of_a_refresh_abandons_it_and_the_resumed_run_logs_each_refresh_once(
        tiny_experiment, monkeypatch):
    config = tiny_experiment(warmup={"enabled": False})  # refresh 0 mines with the tiny model itself
    stop = StopFlag()
    real = encode.embed_collection
    calls = []

    def embed_collection(*args, **kwargs):  # 1: refresh 0, 2: refresh 1
        calls.append(1)
        if len(calls) == 2:
            stop.set("SIGUSR1")  # what the handler does: inside a refresh, it raises at once
            raise AssertionError("the stop signal did not interrupt the refresh")
        return real(*args, **kwargs)

    monkeypatch.setattr(encode, "embed_collection", embed_collection)
    with pytest.raises(Requeue):
        run_loop(config, stop=stop)
    run_dir = default_run_dir(*for_seed(load_experiment(config), None))
    assert rundir.read_refresh_record(run_dir, 0) is not None
    assert rundir.read_refresh_record(run_dir, 1) is None
    assert not (run_dir / "negatives" / "negatives-1.jsonl").exists()  # never published
    status = json.loads((run_dir / "STATUS.json").read_text())
    assert (status["state"], status.get("requeued")) == ("running", True)

    monkeypatch.setattr(encode, "embed_collection", real)
    run_loop(config)
    assert refresh_kinds(run_dir) == {0: ["refresh", "eval"], 1: ["refresh", "eval"], 2: ["refresh", "eval"]}
    assert [e["step"] for e in events(run_dir, "train")] == [4, 8, 12, 16, 20, 24]
    assert json.loads((run_dir / "STATUS.json").read_text())["state"] == "finished"


def test_refreshes_after_training_ended_are_skipped_and_the_final_checkpoint_is_mined_once(tiny_experiment):
    """The trainer runs to the end before the refresher gets past refresh 0 (a slow refresher, or one that
    was requeued): refresh 1 finds only the final checkpoint. It must not mine it as well as refresh 2."""
    config = tiny_experiment(ance={"mode": "async"}, warmup={"enabled": False})
    experiment, seed = for_seed(load_experiment(config), None)
    run_dir = default_run_dir(experiment, seed)
    rundir.prepare(run_dir, experiment, "run")
    ctx = Run(experiment, seed, run_dir, D.DistInfo(), StopFlag())
    ensure_refresh(ctx, 0, prepare_start(ctx), 0)  # as the refresher would, before the trainer can start
    run(experiment, seed, run_dir, "trainer", D.DistInfo(), StopFlag())
    assert json.loads((run_dir / "STATUS.json").read_text())["state"] == "trained"  # refreshes 1, 2 still to do

    run(experiment, seed, run_dir, "refresher", D.DistInfo(), StopFlag())
    assert refresh_kinds(run_dir) == {0: ["refresh", "eval"], 1: ["refresh_skipped"], 2: ["refresh", "eval"]}
    assert [e["step"] for e in events(run_dir, "eval")] == [0, 24]
    assert rundir.read_refresh_record(run_dir, 1)["skipped"] is True
    status = json.loads((run_dir / "STATUS.json").read_text())
    assert (status["state"], status["failed_refreshes"]) == ("finished", [])


def test_a_run_with_a_missing_refresh_record_is_not_finished(tmp_path):
    experiment = validate_experiment({"name": "r", "ance": {"refreshes": 2}, "outputs": {"root": str(tmp_path)}})
    run_dir = default_run_dir(experiment, 0)
    rundir.prepare(run_dir, experiment, "run")
    ctx = Run(experiment, 0, run_dir, D.DistInfo(), StopFlag())
    for k in (0, 2):
        rundir.write_refresh_record(run_dir, k, {"ok": True, "step": 10 * k})
    assert rundir.missing_refreshes(run_dir, 2) == [1]

    with pytest.raises(Exception, match=r"refreshes \[1\] have no record"):
        ctx.status("finished")
    ctx.status("trained")  # the trainer's last word: not 'finished' while a refresh is missing
    assert rundir.read_status(run_dir)["state"] == "trained"
    rundir.write_refresh_record(run_dir, 1, {"ok": False, "step": 10, "error": "x"})  # failed, but recorded
    ctx.status("trained")
    assert rundir.read_status(run_dir) == {"state": "finished", "failed_refreshes": [1]}

    # The report believes STATUS.json only when the records agree.
    reported = write_run(tmp_path / "study", "top20", 0, {0: 0.5, 1: 0.55, 2: 0.6}, state="finished")
    assert load_run(reported)[0].state == "finished"
    (reported / "refreshes" / "refresh-2.json").unlink()
    assert load_run(reported)[0].state == "running"
