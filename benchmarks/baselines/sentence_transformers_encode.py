"""The alternative for the `encode` row: sentence-transformers' own `SentenceTransformer.encode`.

This is how one would embed a corpus with the MiniLM package without this bundle:
load the model folder with sentence-transformers, set the same max length, call
`encode` with the same batch size. It sorts texts by character length and
tokenizes each batch as it goes.
"""

from __future__ import annotations

import numpy as np


def load(max_len: int):
    from sentence_transformers import SentenceTransformer

    from ance_core.model import minilm_path

    model = SentenceTransformer(str(minilm_path()), device="cpu")
    model.max_seq_length = max_len
    return model


def encode(model, texts: list[str], batch_size: int) -> np.ndarray:
    return model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
