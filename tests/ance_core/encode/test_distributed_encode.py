"""Under torchrun each rank encodes a contiguous slice into its own shard; all ranks read the whole."""

from __future__ import annotations

import socket

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank, world, port, model_dir, data_dir, cache_root, results):
    import os

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        import torch

        torch.set_num_threads(1)
        from ance_core.data.layout import resolve_dataset
        from ance_core.encode import embed_collection
        from ance_core.model import load_encoder

        encoder = load_encoder(model_dir)
        ids, vectors = embed_collection(encoder, resolve_dataset(data_dir), cache_root, device="cpu",
                                        batch_size=4, show_progress=False)
        np.save(f"{results}/rank{rank}.npy", np.asarray(vectors))
        with open(f"{results}/rank{rank}.ids", "w") as handle:
            handle.write("\n".join(ids.ids))
    finally:
        dist.destroy_process_group()


def test_two_ranks_write_two_shards_that_read_as_one(tiny_bert_dir, tmp_path):
    import torch.multiprocessing as mp

    from ance_core.data.layout import resolve_dataset
    from ance_core.encode import embed_collection
    from ance_core.encode.shards import list_shards
    from ance_core.model import load_encoder
    from helpers.tiny_models import write_tiny_collection

    write_tiny_collection(tmp_path / "data")
    (tmp_path / "results").mkdir()
    mp.spawn(_rank_main, args=(2, _free_port(), str(tiny_bert_dir), str(tmp_path / "data"), str(tmp_path / "cache"),
                               str(tmp_path / "results")), nprocs=2, join=True)
    shard_sets = [list_shards(p) for p in (tmp_path / "cache" / "embeddings").iterdir()]
    assert [sorted(s) for s in shard_sets] == [[2]] and len(shard_sets[0][2]) == 2
    rank0, rank1 = (np.load(tmp_path / "results" / f"rank{r}.npy") for r in (0, 1))
    np.testing.assert_array_equal(rank0, rank1)
    # The same cache, read by a single process, needs no encoding and agrees with a fresh one.
    ids, cached = embed_collection(load_encoder(str(tiny_bert_dir)), resolve_dataset(str(tmp_path / "data")),
                                   tmp_path / "cache", show_progress=False)
    np.testing.assert_array_equal(cached, rank0)
    assert (tmp_path / "results" / "rank0.ids").read_text().split("\n") == ids.ids
    _, fresh = embed_collection(load_encoder(str(tiny_bert_dir)), resolve_dataset(str(tmp_path / "data")),
                                tmp_path / "fresh-cache", show_progress=False)
    np.testing.assert_allclose(fresh.astype(np.float32), cached.astype(np.float32), atol=2e-3)


def test_torchrun_stage_writes_one_shard_per_rank_of_each_array_task(tiny_bert_dir, tmp_path):
    """`torchrun --nproc-per-node 2 ... ance encode --shard I/2`: 2 array tasks x 2 ranks = 4 shards."""
    import os
    import shutil
    import subprocess
    import sys

    from ance_core.encode import load_embeddings
    from ance_core.encode.shards import list_shards
    from helpers.tiny_models import TINY_TEXTS, write_tiny_collection

    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    write_tiny_collection(tmp_path / "data")
    common = ["--checkpoint", str(tiny_bert_dir), "--data", str(tmp_path / "data"), "--collection",
              "--device", "cpu", "--threads", "1", "--cache-root", str(tmp_path / "cache")]
    for task in range(2):
        done = subprocess.run(
            [torchrun, "--nproc-per-node", "2", "--master-port", str(_free_port()), "-m", "ance_core.cli", "encode",
             *common, "--out", str(tmp_path / "sharded"), "--shard", f"{task}/2"],
            capture_output=True, text=True, timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(list_shards(tmp_path / "sharded")) == [4]
    from ance_core.cli import main

    assert main(["encode", *common, "--out", str(tmp_path / "whole")]) == 0
    ids, sharded = load_embeddings(tmp_path / "sharded")
    _, whole = load_embeddings(tmp_path / "whole")
    assert ids.ids == [str(100 + i) for i in range(len(TINY_TEXTS))]
    np.testing.assert_allclose(sharded.astype(np.float32), whole.astype(np.float32), atol=2e-3)
