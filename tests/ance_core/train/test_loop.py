"""The whole ANCE loop on a tiny model and tiny data: both modes, resume, a failing refresh."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ance_core.config import load_experiment
from ance_core.io.atomic import is_complete
from ance_core.selftest import SELFTEST_WARMUP_STEPS
from ance_core.data.negatives import complete_files
from ance_core.train.signals import Requeue
from loop_helpers import comparable, events, final_hash, run_loop, warm


def test_sync_loop_writes_every_event_and_the_loss_falls(tiny_experiment):
    # the selftest's longer warm-up: over the default 48 steps the tiny model's loss falls by
    # 18-21% depending on the dropout draws, too close to the threshold to test
    run_dir = run_loop(tiny_experiment(warmup={"steps": SELFTEST_WARMUP_STEPS}))
    kinds = [e["kind"] for e in events(run_dir)]
    assert kinds[0] == "warmup_done"
    evals = events(run_dir, "eval")
    assert [(e["refresh"], e["step"]) for e in evals] == [(0, 0), (1, 12), (2, 24)]
    assert all({"MRR@10", "nDCG@10", "R@30"} <= set(e) for e in evals)
    assert [e["refresh"] for e in events(run_dir, "refresh")] == [0, 1, 2]
    train = events(run_dir, "train")
    assert [e["step"] for e in train] == [4, 8, 12, 16, 20, 24]
    assert [e["refresh"] for e in train] == [1, 1, 1, 2, 2, 2]  # chunk k trains on negatives-(k-1)
    assert train[2]["loss"] < train[0]["loss"]  # within chunk 1, on the warm-up's negatives
    assert all(e["grad_norm"] > 0 for e in train)  # before clipping, for the report's gradient analysis
    refreshes = events(run_dir, "refresh")
    assert all(e["peak_rss_mib"] > 0 and 0 <= e["outscoring_share"] <= 1 for e in refreshes)
    warm = [json.loads(line) for line in next(run_dir.parents[1].glob("_warmup/*/metrics.jsonl")).read_text().splitlines()]
    warm_loss = [e["loss"] for e in warm if e["kind"] == "train"]
    assert np.mean(warm_loss[-3:]) < 0.8 * np.mean(warm_loss[:3])
    assert json.loads((run_dir / "STATUS.json").read_text())["state"] == "finished"
    assert is_complete(run_dir / "checkpoints" / "checkpoint-24", verify=True)
    assert [f.refresh for f in complete_files(run_dir / "negatives")] == [0, 1, 2]
    assert sorted(p.name for p in (run_dir / "eval").glob("*.json")) == [f"refresh-{r}.json" for r in range(3)]
    assert (run_dir / "config.yaml").is_file() and (run_dir / "manifest.json").is_file()
    # embeddings of refresh 1 and 2's checkpoints are gone; the shared start's (refresh 0, zero-shot) stay
    from ance_core.encode.shards import list_shards, read_shard_meta
    from ance_core.model import encoder_fingerprint

    cached = set()
    for folder in (run_dir.parents[1] / "_cache" / "embeddings").iterdir():
        if not folder.is_dir():
            continue  # an entry's build lock (<entry>.lock) beside it
        shards = [path for paths in list_shards(folder).values() for path in paths]
        cached.add(read_shard_meta(shards[0])["key"]["encoder"])
    start = events(run_dir, "warmup_done")[0]["checkpoint"]
    experiment = load_experiment(run_dir / "config.yaml")
    assert cached == {encoder_fingerprint(start), encoder_fingerprint(experiment.model.name, experiment.model)}


def test_sync_loop_resumes_to_the_same_next_loss_and_final_bits(tiny_experiment, tmp_path, stop_after):
    train = {"log_every": 1}
    straight = run_loop(tiny_experiment(train=train, outputs={"root": str(tmp_path / "a")}))
    config = tiny_experiment(train=train, outputs={"root": str(tmp_path / "b")})
    warm(config)
    with pytest.raises(Requeue) as stopped:
        run_loop(config, stop=stop_after(16))  # 12 steps of chunk 1, two looks around refresh 1, then 2 steps
    assert stopped.value.step == 14
    resumed = run_loop(config)
    assert final_hash(resumed, 24) == final_hash(straight, 24)
    assert comparable(resumed) == comparable(straight)  # the loss right after the resume included
    assert json.loads((resumed / "STATUS.json").read_text())["state"] == "finished"


def test_a_run_folder_refuses_another_configuration(tiny_experiment, tmp_path):
    from ance_core.errors import InputError

    config = tiny_experiment(ance={"refreshes": 1})
    run_loop(config)
    changed = tiny_experiment(ance={"refreshes": 1}, train={"lr": 5e-4})
    with pytest.raises(InputError, match="different one"):
        run_loop(changed)


def test_a_failed_refresh_keeps_training_on_the_previous_negatives(tiny_experiment, monkeypatch):
    import ance_core.mining

    real = ance_core.mining.refresh

    def flaky(experiment, checkpoint, run_dir, refresh, seed, **kw):
        if refresh == 1:
            raise RuntimeError("faiss ran out of memory (simulated)")
        return real(experiment, checkpoint, run_dir, refresh, seed, **kw)

    monkeypatch.setattr(ance_core.mining, "refresh", flaky)
    config = tiny_experiment()
    run_dir = run_loop(config)
    failed = events(run_dir, "refresh_failed")
    assert len(failed) == 1 and failed[0]["refresh"] == 1 and "simulated" in failed[0]["error"]
    assert [e["refresh"] for e in events(run_dir, "eval")] == [0, 2]
    assert [e["negatives"] for e in events(run_dir, "train")] == [0] * 6  # chunk 2 stayed on negatives-0
    status = json.loads((run_dir / "STATUS.json").read_text())
    assert status["state"] == "finished" and status["failed_refreshes"] == [1]

    # a kill between the refresh's record and its event: the next `ance run` logs the event, once
    log = run_dir / "metrics.jsonl"
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines() if '"refresh_failed"' not in line))
    monkeypatch.setattr(ance_core.mining, "refresh", real)  # the record says it failed: no second attempt
    assert run_loop(config) == run_dir
    assert [(e["refresh"], e["error"]) for e in events(run_dir, "refresh_failed")] == [(1, failed[0]["error"])]


def test_async_loop_trainer_and_refresher_processes(tiny_experiment):
    run_dir = run_loop(tiny_experiment(ance={"mode": "async"}))
    evaluated = [e["refresh"] for e in events(run_dir, "eval")]
    skipped = [e["refresh"] for e in events(run_dir, "refresh_skipped")]  # 1, if training ended before it
    assert sorted(evaluated + skipped) == [0, 1, 2] and evaluated[0] == 0 and evaluated[-1] == 2
    assert [e["step"] for e in events(run_dir, "train")] == [4, 8, 12, 16, 20, 24]
    last = max(events(run_dir, "eval"), key=lambda e: e["refresh"])
    assert last["step"] == 24  # the last refresh evaluates the final checkpoint
    steps = [e["step"] for e in events(run_dir, "eval")]
    assert steps == sorted(set(steps))  # never the same checkpoint twice
    assert all(e["step"] >= 12 * e["refresh"] for e in events(run_dir, "eval"))
    assert json.loads((run_dir / "STATUS.json").read_text())["state"] == "finished"
