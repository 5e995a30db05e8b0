"""A tiny retrieval data set in MS MARCO layout with real signal: queries share words with their passage.

Every passage is a seeded sample of Debian-description words, every query a few
words of its passage plus one random word. A randomly initialised tiny BERT
starts near chance and learns the overlap within a few dozen steps.
"""

from __future__ import annotations

from pathlib import Path

from ance_core.selftest import WORDS, write_word_dataset


def write_tiny_dataset(folder: str | Path, **sizes) -> Path:
    return write_word_dataset(folder, WORDS, **sizes)


def tiny_experiment_dict(model_dir: Path, data_dir: Path, root: Path, **sections) -> dict:
    """A whole ANCE loop on tiny data in seconds: warm-up 48 steps, 2 refreshes of 12 steps."""
    exp = {
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
    }
    for key, value in sections.items():
        exp[key] = {**exp.get(key, {}), **value} if isinstance(value, dict) else value
    return exp
