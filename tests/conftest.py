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


# ---------------------------------------------------------------- shared data (../shared/data)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """`../shared/data` beside the repository ($ANCE_SHARED_DATA overrides); tests skip when it is absent."""
    from ance_core.data.layout import shared_data_root

    root = shared_data_root()
    if root is None or not root.is_dir():
        pytest.skip("../shared/data (or $ANCE_SHARED_DATA) is not there")
    return root


@pytest.fixture(scope="session")
def debian_corpus_dir(shared_data_dir: Path) -> Path:
    """The full Debian descriptions corpus (60,229 passages). Read-only."""
    path = shared_data_dir / "debian-descriptions"
    if not (path / "collection.tsv.gz").is_file():
        pytest.skip(f"{path} has no collection.tsv.gz")
    return path
