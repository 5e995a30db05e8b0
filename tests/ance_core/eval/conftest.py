from __future__ import annotations

from pathlib import Path

import pytest

from ance_core.selftest import write_word_dataset
from helpers.tiny_models import TINY_TEXTS

WORDS = sorted({w for text in TINY_TEXTS for w in text.split() if len(w) > 2})


@pytest.fixture(scope="session")
def word_data(tmp_path_factory) -> Path:
    """300 passages (so that a [180, 200) window exists after removing the positive), 120 train, 30 dev queries."""
    return write_word_dataset(tmp_path_factory.mktemp("word-data"), WORDS, passages=300, train=120, dev=30)


@pytest.fixture
def make_experiment(tmp_path, tiny_bert_dir, word_data):
    """An Experiment on the tiny data and model; keyword sections override the `ance` block."""
    from ance_core.config import validate_experiment

    def make(segment: dict, **ance) -> object:
        return validate_experiment({
            "name": "mine-test",
            "data": {"dataset": str(word_data)},
            "model": {"name": str(tiny_bert_dir), "pooling": "mean", "query_max_len": 16, "passage_max_len": 24},
            "warmup": {"enabled": False},
            "ance": {"top_k": 200, "segment": segment, "encode": {"batch_size": 64}, **ance},
            "eval": {"metrics": ["MRR@10", "nDCG@10", "R@100"]},
            "outputs": {"root": str(tmp_path / "runs")},
        })

    return make


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and OpenMP threads on a busy 2-core machine lose a lot."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
