import json

import numpy as np
import pytest

from ance_core.config import load_experiment, warmup_key
from ance_core.errors import InputError
from ance_core.io.atomic import is_complete, sha256_file
from ance_core.selftest import SELFTEST_WARMUP_STEPS
from ance_core.train.distributed import DistInfo
from ance_core.data.negatives import read_negatives
from ance_core.train.signals import Requeue, StopFlag
from ance_core.train import rundir
from ance_core.loop.warmup import run_warmup, start_checkpoint, warmup_dir, warmup_experiment


def events(directory, kind=None):
    lines = (directory / "metrics.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if kind is None or e["kind"] == kind]


def test_warmup_trains_checkpoint0_with_falling_loss(tiny_experiment):
    # the selftest's warm-up length: over the tiny default's 48 steps the fall is within dropout noise
    exp = load_experiment(tiny_experiment(warmup={"steps": SELFTEST_WARMUP_STEPS}))
    final = run_warmup(exp, 0, DistInfo(), StopFlag())
    assert final.name == "checkpoint-0" and is_complete(final, verify=True)
    losses = [e["loss"] for e in events(final.parent, "train")]
    assert len(losses) == SELFTEST_WARMUP_STEPS // 4  # log_every 4
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    assert events(final.parent, "warmup_done")[0]["checkpoint"] == str(final)
    assert not (final.parent / "checkpoints").exists()  # resume points are gone once checkpoint-0 is whole
    baselines = {e["name"]: e for e in events(final.parent, "baseline")}
    assert set(baselines) == {"bm25", "zero-shot"}
    for baseline in baselines.values():
        assert baseline["split"] == "dev" and baseline["queries"] == 40
        assert 0 <= baseline["MRR@10"] <= 1 and 0 <= baseline["R@30"] <= 1
    assert baselines["bm25"]["MRR@10"] > 0.5  # queries are words of their passage: BM25's home ground


def test_bm25_negatives_exclude_positives(tiny_experiment, tiny_dataset):
    exp = load_experiment(tiny_experiment(warmup={"steps": 1}))
    run_warmup(exp, 0, DistInfo(), StopFlag())
    records = read_negatives(warmup_dir(exp, 0) / "negatives" / "negatives-0.jsonl")
    assert len(records) == 160
    for record in records:
        assert len(record["neg"]) == 2 and not set(record["neg"]) & set(record["pos"])
        assert all(0 <= r < 30 for r in record["neg_ranks"])


def test_strategies_of_a_seed_share_one_warmup_seeds_do_not(tiny_experiment):
    top = load_experiment(tiny_experiment(warmup={"steps": 2}))
    other = load_experiment(tiny_experiment(warmup={"steps": 2}, name="bottom",
                                            ance={"segment": {"kind": "top", "windows": [[20, 30]], "n": 4}}))
    assert warmup_dir(top, 0) == warmup_dir(other, 0)
    assert warmup_dir(top, 0) != warmup_dir(top, 1)
    first = start_checkpoint(top, 0, DistInfo(), StopFlag())
    stamp = (first + "/model.safetensors", sha256_file(first + "/model.safetensors"))
    assert start_checkpoint(other, 0, DistInfo(), StopFlag()) == first
    assert sha256_file(stamp[0]) == stamp[1]
    assert len(events(warmup_dir(top, 0), "warmup_done")) == 1  # trained once


def test_start_checkpoint_without_warmup(tiny_experiment, tiny_model):
    exp = load_experiment(tiny_experiment(warmup={"enabled": False}))
    assert start_checkpoint(exp, 0, DistInfo(), StopFlag()) == str(tiny_model)
    exp = load_experiment(tiny_experiment(warmup={"enabled": False, "init_checkpoint": "/some/ckpt"}))
    assert start_checkpoint(exp, 0, DistInfo(), StopFlag()) == "/some/ckpt"


def test_stopped_warmup_resumes_to_the_same_bits(tiny_experiment, tmp_path, stop_after):
    """SIGUSR1 at step 7 -> checkpoint + Requeue; running again ends bit-identical to an uninterrupted run."""
    warm = {"steps": 16}
    train = {"log_every": 1, "checkpoint_every": 5}
    straight = load_experiment(tiny_experiment(warmup=warm, train=train, outputs={"root": str(tmp_path / "a")}))
    resumed = load_experiment(tiny_experiment(warmup=warm, train=train, outputs={"root": str(tmp_path / "b")}))
    a = run_warmup(straight, 0, DistInfo(), StopFlag())
    with pytest.raises(Requeue) as stopped:
        run_warmup(resumed, 0, DistInfo(), stop_after(7))
    assert stopped.value.step == 7
    assert (warmup_dir(resumed, 0) / "checkpoints" / "checkpoint-7").is_dir()
    b = run_warmup(resumed, 0, DistInfo(), StopFlag())
    assert sha256_file(a / "model.safetensors") == sha256_file(b / "model.safetensors")
    loss_a = [(e["step"], e["loss"]) for e in events(a.parent, "train")]
    loss_b = [(e["step"], e["loss"]) for e in events(b.parent, "train")]
    assert loss_a == loss_b  # step 8, the first after the resume, included
    assert [s for s, _ in loss_b] == list(range(1, 17))


def test_a_warmup_that_evaluates_training_queries_is_refused_before_it_trains(tiny_experiment, tiny_dataset, tmp_path):
    # a files map that points the dev split at the training queries: the split names differ, the queries do not
    exp = load_experiment(tiny_experiment(data={"files": {"queries.dev": str(tiny_dataset / "queries.train.tsv")}}))
    with pytest.raises(InputError, match=r"queries.train.tsv: file: expected queries other than the training queries"):
        run_warmup(exp, 0, DistInfo(), StopFlag())
    assert not (warmup_dir(exp, 0) / "config.yaml").exists()


def test_a_strategy_resumes_a_warmup_another_strategy_started(tiny_experiment):
    """The folder's config is the first strategy's; a second one with the same key is at home there, another key is not."""
    top = load_experiment(tiny_experiment())
    bottom = load_experiment(tiny_experiment(name="bottom", ance={"segment": {"kind": "top", "windows": [[20, 30]], "n": 4}}))
    directory = warmup_dir(top, 0)
    rundir.prepare(directory, warmup_experiment(top, 0), "warmup", identity=warmup_key)
    rundir.prepare(directory, warmup_experiment(bottom, 0), "warmup", identity=warmup_key)
    longer = load_experiment(tiny_experiment(warmup={"steps": 96}))
    with pytest.raises(InputError, match=r"config.yaml: experiment: expected the same configuration as this run"):
        rundir.prepare(directory, warmup_experiment(longer, 0), "warmup", identity=warmup_key)


def test_warmup_recipe_of_its_own(tiny_experiment):
    """The study's warm-up differs from its ANCE training (batch, precision, 128-token passages, schedule):
    warmup.* sets those for the warm-up alone; checkpoint-0 keeps the model's lengths for the runs."""
    from ance_core.train.rundir import cache_root
    from ance_core.loop.warmup import warmup_train_config

    recipe = {"steps": 8, "lr": 1e-3, "batch_size": 3, "grad_accum": 1, "passage_max_len": 8,
              "warmup_steps": 0, "schedule_steps": 16}
    exp = load_experiment(tiny_experiment(warmup=recipe, train={"batch_size": 8, "grad_accum": 2, "log_every": 4}))
    own = warmup_train_config(exp)
    assert (own.batch_size, own.grad_accum, own.precision) == (3, 1, exp.train.precision)
    assert (exp.train.batch_size, exp.train.grad_accum) == (8, 2)  # the ANCE training keeps its own

    final = run_warmup(exp, 0, DistInfo(), StopFlag())
    lrs = [e["lr"] for e in events(final.parent, "train")]
    # No lr warm-up, linear decay to 0 at step 16 (not at the warm-up's last step 8): the lr of steps 4 and 8.
    assert lrs == pytest.approx([1e-3 * (16 - 3) / 16, 1e-3 * (16 - 7) / 16])
    lengths = {json.loads(p.read_text()).get("max_len") for p in cache_root(exp).rglob("*.json")}
    assert 8 in lengths  # passages tokenized at the warm-up's length
    spec = json.loads((final / "encoder.json").read_text())["spec"]
    assert spec["passage_max_len"] == exp.model.passage_max_len == 24
