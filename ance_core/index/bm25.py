"""BM25 with bm25s: top-k rankings for the warm-up's negatives and the BM25 baseline row."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)


class BM25Index:
    """bm25s over a collection (English stopwords, as the reference numbers of builtin:debian in docs/ARCHITECTURE.md)."""

    def __init__(self, passages: Sequence[str]):
        import bm25s

        self._bm25s = bm25s
        self.size = len(passages)
        self.retriever = bm25s.BM25()
        tokens = bm25s.tokenize(list(passages), stopwords="en", show_progress=False)
        self.retriever.index(tokens, show_progress=False)

    def search(self, queries: Sequence[str], depth: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows (Q, k) int64, scores (Q, k) float32), best first; k = min(depth, collection size)."""
        tokens = self._bm25s.tokenize(list(queries), stopwords="en", show_progress=False, return_ids=False)
        # Tokens the collection never saw cannot score: drop them rather than fail.
        vocab = self.retriever.vocab_dict
        tokens = [[t for t in query if t in vocab] for query in tokens]
        rows, scores = self.retriever.retrieve(tokens, k=min(depth, self.size), show_progress=False)
        return np.asarray(rows, dtype=np.int64), np.asarray(scores, dtype=np.float32)
