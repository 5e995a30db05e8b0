"""Shared fixtures. `tests/helpers` holds the reusable builders (tiny models, tiny corpora)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# `from helpers.tiny_models import ...` works whatever pytest's import mode. The
# repository root goes first: otherwise the folders tests/ance_core and tests/launcher
# (no __init__.py) would shadow the real packages as namespace packages.
_TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(_TESTS.parent), str(_TESTS)]

from helpers.tiny_models import TINY_TEXTS, build_tiny_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A tiny BERT (WordPiece tokenizer, pad id 0) HF folder, built once per session. Treat as read-only."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert") / "model", "bert")


@pytest.fixture(scope="session")
def tiny_roberta_dir(tmp_path_factory) -> Path:
    """A tiny RoBERTa (byte-level BPE, <pad> id 1) HF folder, built once per session. Treat as read-only."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-roberta") / "model", "roberta")


@pytest.fixture(params=["bert", "roberta"])
def tiny_model_dir(request, tiny_bert_dir, tiny_roberta_dir) -> Path:
    """Each test using this runs once per architecture."""
    return tiny_bert_dir if request.param == "bert" else tiny_roberta_dir


@pytest.fixture
def tiny_texts() -> list[str]:
    return list(TINY_TEXTS)


# ---------------------------------------------------------------- the full Debian corpus (builtin:debian)


@pytest.fixture(scope="session")
def debian_corpus_dir() -> Path:
    """The full Debian descriptions corpus (60,229 passages) shipped in the package. Read-only."""
    from ance_core.data.layout import resolve_dataset

    return resolve_dataset("builtin:debian").root
