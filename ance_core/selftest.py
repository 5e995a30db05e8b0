"""`ance selftest`: is this installation able to run the study?

Checks torch, faiss (GPUs if present), the offline MiniLM's tokenizer and
weights, then runs the whole ANCE loop — BM25 warm-up, refresh 0, two training
chunks and two refreshes with mining and evaluation — on a tiny model (MiniLM's
tokenizer, a 2-layer BERT of width 32 from a fixed seed) and a tiny synthetic
data set, in a temporary folder. About 20 seconds on a 2-core laptop; the
container's `%test` runs it.
"""

from __future__ import annotations

import logging
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Words of Debian package descriptions: the synthetic passages are made of them.
WORDS = (
    "library command line tool package manager python bindings toolkit widget fast incremental file transfer "
    "remote shell compression documentation rust compiler standard fonts unicode terminal desktop network time "
    "protocol daemon clock server development headers zlib filesystem block device disk partition plugin media "
    "player audio video format perl module configuration parser json xml yaml database client driver kernel "
    "firmware graphics image editor viewer browser mail calendar backup archive encryption certificate security "
    "monitor process memory debugger profiler test framework game puzzle chess emulator scientific statistics"
).split()


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float


def write_word_dataset(
    folder: str | Path, words: Sequence[str], passages: int = 240, train: int = 160, dev: int = 40,
    passage_words: int = 8, seed: int = 0,
) -> Path:
    """A retrieval data set in MS MARCO layout with real signal: every passage is a seeded sample of
    `words`, every query three words of its passage plus one random word (one positive per query)."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = sorted(set(words))
    texts = [" ".join(rng.choice(words, size=passage_words, replace=False)) for _ in range(passages)]
    (folder / "collection.tsv").write_text("".join(f"p{i}\t{t}\n" for i, t in enumerate(texts)))
    owners = rng.permutation(passages)[: train + dev]
    for split, chosen in (("train", owners[:train]), ("dev", owners[train:])):
        queries, qrels = [], []
        for n, pid in enumerate(chosen):
            picked = list(rng.choice(texts[pid].split(), size=3, replace=False)) + [str(rng.choice(words))]
            queries.append(f"{split}{n}\t{' '.join(picked)}\n")
            qrels.append(f"{split}{n}\t0\tp{pid}\t1\n")
        (folder / f"queries.{split}.tsv").write_text("".join(queries))
        (folder / f"qrels.{split}.tsv").write_text("".join(qrels))
    return folder


def write_tiny_model(folder: str | Path, tokenizer_from: str | Path, seed: int = 0) -> Path:
    """A 2-layer, width-32 BERT (seeded) with the tokenizer of `tokenizer_from`, as an HF folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_from))
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    hf_logging.disable_progress_bar()
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return Path(folder)


SELFTEST_WARMUP_STEPS = 96


def tiny_experiment(model_dir: str | Path, data_dir: str | Path, root: str | Path, **sections) -> dict:
    """A whole ANCE loop on the tiny model and data in seconds: warm-up 48 steps, 2 refreshes 12 steps apart.

    `sections` update the named sections (a mapping merges into the section, anything else replaces it).
    """
    experiment = {
        "name": "tiny",
        "seeds": [0],
        "data": {"dataset": str(data_dir)},
        "model": {"name": str(model_dir), "pooling": "mean", "query_max_len": 16, "passage_max_len": 24},
        "warmup": {"enabled": True, "bm25_depth": 30, "negatives_per_query": 2, "steps": 48, "lr": 1e-3},
        "ance": {
            "mode": "sync", "top_k": 30, "refresh_every": 12, "refreshes": 2, "query_fraction": 1.0,
            "segment": {"kind": "top", "windows": [[0, 4]], "n": 4},
            "encode": {"batch_size": 64},
        },
        "train": {"batch_size": 8, "lr": 1e-3, "optimizer": "adamw", "warmup_steps": 2,
                  "checkpoint_every": 4, "keep_last": 2, "log_every": 4},
        "eval": {"metrics": ["MRR@10", "nDCG@10", "R@30"]},
        "outputs": {"root": str(root)},
        "resources": {"cpus": 1},
    }
    for key, value in sections.items():
        experiment[key] = {**experiment.get(key, {}), **value} if isinstance(value, dict) else value
    return experiment


def _timed(name: str, check: Callable[[], str]) -> Check:
    started = time.monotonic()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # noqa: BLE001 - every failure becomes a failed row, with its cause
        log.debug("%s failed:\n%s", name, traceback.format_exc())
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return Check(name, ok, detail, time.monotonic() - started)


def check_torch() -> str:
    import torch

    a = torch.arange(6, dtype=torch.float32).view(2, 3)
    assert torch.equal(a @ a.T, torch.tensor([[5.0, 14.0], [14.0, 50.0]])), "a 2x3 matmul gave a wrong result"
    gpus = torch.cuda.device_count()
    where = f"{gpus} CUDA GPU(s): {torch.cuda.get_device_name(0)}" if gpus else "no CUDA GPU (CPU only)"
    return f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {where}"


def check_faiss() -> str:
    import faiss

    rng = np.random.default_rng(0)
    base = rng.standard_normal((100, 16)).astype(np.float32)
    index = faiss.IndexFlatIP(16)
    index.add(base)
    _, found = index.search(base[:5], 1)
    expected = np.argmax(base[:5] @ base.T, axis=1)
    assert (found[:, 0] == expected).all(), "exact inner-product search disagrees with numpy"
    gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    return f"faiss {faiss.__version__}, exact search ok, {gpus} GPU(s) visible to faiss"


def check_model() -> str:
    import torch

    from ance_core.model import load_encoder

    encoder = load_encoder("minilm")
    assert encoder.tokenizer.is_fast, "the tokenizer is not a fast (Rust) tokenizer"
    with torch.inference_mode():
        emb = encoder.encode_texts(["text editor for the terminal", "fonts for desktops"], "passage")
    norms = emb.norm(dim=-1)
    assert emb.shape == (2, 384) and torch.allclose(norms, torch.ones(2), atol=1e-3), f"embeddings {tuple(emb.shape)}, norms {norms.tolist()}"
    return f"minilm: {type(encoder.tokenizer).__name__}, {encoder.spec.pooling} pooling, dim {encoder.dim}"


def check_loop(workdir: Path) -> str:
    import json

    import yaml

    from ance_core.config import load_experiment
    from ance_core.model import minilm_path
    from ance_core.train import distributed as D
    from ance_core.loop.ance import run
    from ance_core.train.rundir import default_run_dir, for_seed
    from ance_core.train.signals import StopFlag

    model = write_tiny_model(workdir / "model", minilm_path())
    data = write_word_dataset(workdir / "data", WORDS)
    # 96 warm-up steps, not the tiny default's 48: the loss of a 2-layer model on BM25 negatives
    # first rises, then falls; 48 steps leave the fall within the noise of dropout draws.
    (workdir / "selftest.yaml").write_text(yaml.safe_dump(tiny_experiment(model, data, workdir / "runs", name="selftest",
                                                                          warmup={"steps": SELFTEST_WARMUP_STEPS})))
    exp, seed = for_seed(load_experiment(workdir / "selftest.yaml"), 0)
    run_dir = default_run_dir(exp, seed)
    run(exp, seed, run_dir, "all", D.DistInfo(), StopFlag())
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = {e["refresh"]: e for e in events if e["kind"] == "eval"}
    assert sorted(evals) == [0, 1, 2], f"eval events for refreshes {sorted(evals)}, expected 0, 1, 2"
    status = json.loads((run_dir / "STATUS.json").read_text())
    assert status["state"] == "finished", f"STATUS.json says {status}"
    warm = [json.loads(line) for line in next((workdir / "runs" / "_warmup").glob("*/metrics.jsonl")).read_text().splitlines()]
    losses = [e["loss"] for e in warm if e["kind"] == "train"]
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), f"the warm-up loss did not fall: {losses}"
    curve = ", ".join(f"{evals[r]['MRR@10']:.2f}" for r in sorted(evals))
    return f"warm-up loss {losses[0]:.2f} -> {losses[-1]:.2f}; dev MRR@10 by refresh: {curve}"


def run_selftest(workdir: str | Path | None = None) -> list[Check]:
    import torch

    torch.set_num_threads(1)  # a tiny model gains nothing from threads; on a busy machine they cost
    checks = [_timed("torch", check_torch), _timed("faiss", check_faiss), _timed("tokenizer + MiniLM", check_model)]
    with tempfile.TemporaryDirectory(prefix="ance-selftest-", dir=workdir) as tmp:
        checks.append(_timed("tiny ANCE loop", lambda: check_loop(Path(tmp))))
    return checks


def render(checks: list[Check]):
    from rich.table import Table

    table = Table(title="ance selftest", show_lines=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    table.add_column("details", overflow="fold")
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAILED[/]", f"{check.seconds:.1f}", check.detail)
    return table
