"""Training examples from a negatives file, their seeded order, and tokenised batches.

An example is (query, one positive, k negatives): k = 1 for ANCE's pairwise loss,
so a query with 20 negatives gives 20 triples per positive (as ANCE's
`GetTrainingDataProcessingFn` did) and top20+bottom20 gives 40: a larger pool,
not a larger budget, since training takes a fixed number of steps from it. Examples are ordered by a permutation seeded with
(seed, refresh, epoch); `Position` (epoch, offset) within that order is all a
checkpoint needs to continue the same stream after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ance_core.data import IdIndex
from ance_core.data.tokcache import Tokenized
from ance_core.errors import InputError


@dataclass(frozen=True)
class Position:
    """Where training stands in the seeded order of one negatives file's examples."""

    epoch: int = 0
    offset: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "offset": self.offset}


@dataclass
class Examples:
    """Rows into the queries and the collection: (N,), (N,), (N, k)."""

    q_rows: np.ndarray
    pos_rows: np.ndarray
    neg_rows: np.ndarray
    refresh: int

    def __len__(self) -> int:
        return len(self.q_rows)

    def order(self, seed: int, epoch: int) -> np.ndarray:
        return np.random.default_rng([seed, self.refresh, epoch]).permutation(len(self))

    def take(self, seed: int, position: Position, count: int) -> tuple[np.ndarray, Position]:
        """The next `count` example indices from `position`, crossing epochs as needed."""
        taken: list[np.ndarray] = []
        epoch, offset = position.epoch, position.offset
        while count:
            order = self.order(seed, epoch)
            chunk = order[offset : offset + count]
            taken.append(chunk)
            count -= len(chunk)
            offset += len(chunk)
            if offset >= len(order):
                epoch, offset = epoch + 1, 0
        return np.concatenate(taken), Position(epoch, offset)


def build_examples(
    records: list[dict[str, Any]],
    query_ids: IdIndex,
    passage_ids: IdIndex,
    negatives_per_example: int,
    refresh: int,
    source: str | Path,
) -> Examples:
    """One example per (query, positive, chunk of k negatives); chunks that fall short of k are dropped."""
    k = negatives_per_example
    q_ids, pos_ids, neg_ids = [], [], []
    for record in records:
        negs = [str(n) for n in record.get("neg", [])]
        chunks = [negs[i : i + k] for i in range(0, len(negs) - k + 1, k)]
        for pos in record.get("pos", []):
            for chunk in chunks:
                q_ids.append(record["qid"])
                pos_ids.append(str(pos))
                neg_ids.extend(chunk)
    if not q_ids:
        raise InputError.single(source, "records", f"queries with a positive and at least {k} negative(s)", "none")
    q_rows = query_ids.rows(q_ids)
    pos_rows = passage_ids.rows(pos_ids)
    neg_rows = passage_ids.rows(neg_ids).reshape(len(q_ids), k)
    for name, rows, ids, where in (
        ("query", q_rows, q_ids, "the train queries"),
        ("passage", pos_rows, pos_ids, "the collection"),
        ("passage", neg_rows.ravel(), neg_ids, "the collection"),
    ):
        missing = np.flatnonzero(rows < 0)
        if missing.size:
            example = ids[int(missing[0])]
            raise InputError.single(
                source, "ids", f"{name} ids present in {where}", f"{missing.size} unknown, e.g. {example!r}", raw=True
            )
    return Examples(q_rows, pos_rows, neg_rows, refresh)


@dataclass
class Batch:
    """Tokenised queries (B, Lq) and passages: B positives then B*k negatives (example-major)."""

    query: dict[str, torch.Tensor]
    passage: dict[str, torch.Tensor]
    size: int
    negatives: int

    def to(self, device: torch.device | str) -> "Batch":
        move = lambda d: {k: v.to(device, non_blocking=True) for k, v in d.items()}  # noqa: E731
        return Batch(move(self.query), move(self.passage), self.size, self.negatives)


def _tensors(tokens: Tokenized, rows: np.ndarray) -> dict[str, torch.Tensor]:
    ids, mask = tokens.padded(rows)
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}


def collate(examples: Examples, indices: np.ndarray, queries: Tokenized, passages: Tokenized) -> Batch:
    """Token ids from the token caches (no tokenizing while training), padded to the batch's longest row."""
    p_rows = np.concatenate([examples.pos_rows[indices], examples.neg_rows[indices].ravel()])
    return Batch(
        query=_tensors(queries, examples.q_rows[indices]),
        passage=_tensors(passages, p_rows),
        size=len(indices),
        negatives=examples.neg_rows.shape[1],
    )
