import random

import numpy as np
import pytest
import torch

from ance_core.errors import StageError
from ance_core.io.atomic import sha256_file
from ance_core.model import load_encoder
from ance_core.train.checkpoint import (
    checkpoint_dir,
    claim_checkpoint,
    latest_checkpoint,
    list_checkpoints,
    load_state,
    prune_checkpoints,
    record_eval,
    release_claim,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


@pytest.fixture(scope="module")
def encoder(tiny_model):
    return load_encoder(str(tiny_model))


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_state_round_trip_through_a_checkpoint(tmp_path, encoder):
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    save_checkpoint(tmp_path, encoder, {"step": 1, "rng": [rng_state()]})
    expected = draws()
    draws()
    state = load_state(latest_checkpoint(tmp_path))  # weights_only loading accepts every field
    set_rng_state(state["rng"][0])
    assert draws() == expected


def test_only_complete_checkpoints_count(tmp_path, encoder):
    save_checkpoint(tmp_path, encoder, {"step": 2})
    save_checkpoint(tmp_path, encoder, {"step": 4})
    (checkpoint_dir(tmp_path, 4) / "COMPLETE").unlink()  # as if killed before the marker
    (tmp_path / "checkpoints" / ".checkpoint-6.abc.partial").mkdir()  # a killed atomic_dir
    assert [c.step for c in list_checkpoints(tmp_path)] == [2]
    assert latest_checkpoint(tmp_path).step == 2


def test_a_damaged_checkpoint_is_refused_with_a_clear_error(tmp_path, encoder):
    found = save_checkpoint(tmp_path, encoder, {"step": 5})
    with open(found.path / "model.safetensors", "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(StageError, match="COMPLETE marker"):
        load_state(found)


def test_resaving_a_step_replaces_it_whole(tmp_path, encoder):
    save_checkpoint(tmp_path, encoder, {"step": 3, "tag": "a"})
    save_checkpoint(tmp_path, encoder, {"step": 3, "tag": "b"})
    assert load_state(latest_checkpoint(tmp_path))["tag"] == "b"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if not p.name.startswith(".pins")) == ["checkpoint-3"]


def test_prune_keeps_newest_best_and_claimed(tmp_path, encoder):
    for step in (10, 20, 30, 40, 50):
        save_checkpoint(tmp_path, encoder, {"step": step})
    record_eval(tmp_path, 20, "MRR@10", 0.5)
    assert not record_eval(tmp_path, 30, "MRR@10", 0.4)  # worse: 20 stays the best
    assert claim_checkpoint(tmp_path, "refresh-3", at_least=45).step == 50
    assert prune_checkpoints(tmp_path, keep_last=1, protect=(30,)) == [10, 40]
    save_checkpoint(tmp_path, encoder, {"step": 60})
    assert prune_checkpoints(tmp_path, keep_last=1) == [30]
    assert [c.step for c in list_checkpoints(tmp_path)] == [20, 50, 60]
    # A claim outlives its process: asked again (a resumed refresh), the owner gets the same checkpoint.
    assert claim_checkpoint(tmp_path, "refresh-3", at_least=45).step == 50
    release_claim(tmp_path, "refresh-3")
    assert prune_checkpoints(tmp_path, keep_last=1) == [50]  # released now
    assert claim_checkpoint(tmp_path, "refresh-4", at_least=100) is None
    assert not list((tmp_path / "checkpoints").glob("claim-refresh-4"))  # nothing to claim: no claim left


def test_checkpoint_weights_load_back_bit_identical(tmp_path, encoder):
    found = save_checkpoint(tmp_path, encoder, {"step": 7})
    again = load_encoder(str(found.path))
    for (name, a), (_, b) in zip(encoder.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    second = save_checkpoint(tmp_path / "other", again, {"step": 7})
    assert sha256_file(found.path / "model.safetensors") == sha256_file(second.path / "model.safetensors")
