"""The alternative a numpy user would write: each study strategy in a few vectorised lines.

Input: the top-K ranking `ids` (Q, K) of a search (distinct ids per row) and
`positives` (Q,), one positive id per query, as the study kept them. Output:
(Q, n) negative ids, -1 where a query has fewer. Each strategy gives what the
study's loop gives (benchmarks/baselines/study_negatives.py; ranks counted
before the positive is dropped):

  top20           the first 20 non-positives of ids[:, :21]
  bottom20        the non-positives of ids[:, -20:]
  top20+bottom20  the first 40 non-positives of ids[:, :21] and ids[:, -20:]
  random20        20 random non-positives of the whole row

The deterministic ones are one mask, one stable argsort of it (kept columns first,
in rank order) and one take_along_axis; random20 draws a random key per entry,
gives the positive the largest key and keeps the 20 smallest (argpartition). Only
ids, no ranks or columns: what a user needs to write a negatives file.
"""

from __future__ import annotations

import numpy as np


def first_non_positives(candidates: np.ndarray, positives: np.ndarray, n: int) -> np.ndarray:
    """The first `n` entries of each row of `candidates` that are not its positive, -1 padded."""
    keep = candidates != positives[:, None]
    order = np.argsort(~keep, axis=1, kind="stable")[:, :n]
    out = np.take_along_axis(candidates, order, axis=1)
    out[~np.take_along_axis(keep, order, axis=1)] = -1
    return out


def random_non_positives(ids: np.ndarray, positives: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` entries of each row, uniformly at random among its non-positives."""
    keys = rng.random(ids.shape, dtype=np.float32)
    keys[ids == positives[:, None]] = 2.0  # above every random key: never among the n smallest
    return np.take_along_axis(ids, np.argpartition(keys, n, axis=1)[:, :n], axis=1)


def sample(strategy: str, ids: np.ndarray, positives: np.ndarray, n: int = 20, seed: int = 0) -> np.ndarray:
    if strategy == "top20":
        return first_non_positives(ids[:, : n + 1], positives, n)
    if strategy == "bottom20":
        return first_non_positives(ids[:, -n:], positives, n)
    if strategy == "top20+bottom20":
        return first_non_positives(np.concatenate([ids[:, : n + 1], ids[:, -n:]], axis=1), positives, 2 * n)
    if strategy == "random20":
        return random_non_positives(ids, positives, n, np.random.default_rng(seed))
    raise ValueError(f"strategy: top20, bottom20, top20+bottom20 or random20, found {strategy!r}")
